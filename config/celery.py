"""The Celery application.

All configuration comes from Django settings under the ``CELERY_`` namespace,
so the embedded default (filesystem broker) and production (Redis) differ only
by environment variables.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("shelters_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
