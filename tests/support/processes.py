"""Starting real processes in tests: the same helpers the benchmark commands use."""

import pytest
from django.conf import settings
from django.db import connection

from shelters.benchmarks.processes import PROJECT_DIR, child_env, database_url, free_port, running, wait_for

# Tests that start real workers against the production set-up: PostgreSQL, Redis, transactions committed.
PRODUCTION_SETUP = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"),
        reason="the production set-up: PostgreSQL and Redis",
    ),
]

__all__ = ["PRODUCTION_SETUP", "PROJECT_DIR", "child_env", "database_url", "free_port", "running", "wait_for"]
