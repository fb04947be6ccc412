"""Settings for the test suite: the base settings with faster password hashing.

The database and broker still come from the environment, so the same tests run
on SQLite with the filesystem broker and on PostgreSQL with Redis.
"""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SHELTERS_PROGRESS_MIN_ROWS = 10**9

# Queues of their own, so a developer's running `make run` worker never takes a
# test's task (and the reverse).
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "test-broker")  # noqa: F405

# Tests share one cache and never commit (so no version bump fires): a cached
# sites page from one test would answer the next. The caching test turns it on.
SITES_LIST_CACHE_SECONDS = 0

# Files the tests make (count reports) stay out of the developer's media folder.
MEDIA_ROOT = str(VAR_DIR / "test-media")  # noqa: F405
