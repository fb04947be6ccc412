"""The Celery application.

All configuration comes from Django settings under the ``CELERY_`` namespace,
so the embedded default (filesystem broker) and production (Redis) differ only
by environment variables.
"""

import os

from celery import Celery, signals

from config import logging as log_format
from config import metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("shelters_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Observability: task runtimes for Prometheus, and the JSON log format in workers too.
signals.task_prerun.connect(metrics.task_prerun, weak=False)
signals.task_postrun.connect(metrics.task_postrun, weak=False)
signals.after_setup_logger.connect(log_format.use_json_in_celery, weak=False)
signals.after_setup_task_logger.connect(log_format.use_json_in_celery, weak=False)
