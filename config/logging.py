"""JSON log lines (``LOG_FORMAT=json``) for log shippers: one object per line.

Written here rather than taken from a package: five fields do not justify a
dependency. Imported by settings (through LOGGING) and by config/celery.py,
so it must not touch Django at import time.
"""

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}``, plus ``exception`` and ``stack``
    when present, so a traceback stays inside its own line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            # Cached like logging.Formatter does, for other handlers of the same record.
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a message argument that json cannot encode must not lose the line.
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json_in_celery(logger: logging.Logger | None = None, **kwargs) -> None:
    """Celery's after_setup_logger / after_setup_task_logger signals: the worker
    replaces Django's handlers with its own, so give those the JSON format too."""
    from django.conf import settings

    if logger is None or getattr(settings, "LOG_FORMAT", "plain") != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
