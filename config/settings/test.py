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
    _test_broker = VAR_DIR / "test-broker"  # noqa: F405
    for _folder in ("queue", "processed", "control"):
        (_test_broker / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_test_broker / "queue"),
        "data_folder_out": str(_test_broker / "queue"),
        "processed_folder": str(_test_broker / "processed"),
        "store_processed": False,
        "control_folder": str(_test_broker / "control"),
    }
