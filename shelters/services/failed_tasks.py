"""Tasks that failed for good: recorded for staff, sent again or dismissed by them."""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from shelters.models import FailedTask, User

logger = logging.getLogger(__name__)


def failed_task_record(
    *,
    task_id: str,
    task_name: str,
    args: Any,
    kwargs: Any,
    exception: BaseException,
    traceback_text: str,
    retries: int,
    worker: str = "",
) -> FailedTask:
    """Set a task aside after its last attempt (the same task id twice updates one row)."""
    failed, _ = FailedTask.objects.update_or_create(
        task_id=task_id,
        defaults={
            "task_name": task_name,
            "args": list(args or []),
            "kwargs": dict(kwargs or {}),
            "exception": f"{type(exception).__name__}: {exception}"[:4000],
            "traceback": traceback_text[-20000:],
            "retries": retries,
            "worker": worker[:200],
            "failed_at": timezone.now(),
            "status": FailedTask.Status.OPEN,
            "handled_by": None,
            "handled_at": None,
        },
    )
    return failed


def failed_tasks_send_again(*, ids: Iterable[int], by: User | None) -> list[str]:
    """Enqueue the open ones again, with their arguments, after commit; returns the new task ids."""
    from config.celery import app

    sent: list[str] = []
    with transaction.atomic():
        for failed in FailedTask.objects.select_for_update().filter(pk__in=list(ids), status=FailedTask.Status.OPEN):
            failed.status, failed.handled_by, failed.handled_at = FailedTask.Status.SENT_AGAIN, by, timezone.now()
            failed.save(update_fields=["status", "handled_by", "handled_at"])
            name, args, kwargs = failed.task_name, failed.args, failed.kwargs
            transaction.on_commit(lambda n=name, a=args, k=kwargs: app.send_task(n, args=a, kwargs=k))
            sent.append(failed.task_id)
    return sent


def failed_tasks_dismiss(*, ids: Iterable[int], by: User | None) -> int:
    return FailedTask.objects.filter(pk__in=list(ids), status=FailedTask.Status.OPEN).update(
        status=FailedTask.Status.DISMISSED, handled_by=by, handled_at=timezone.now()
    )


def on_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **extra) -> None:
    """Celery's task_failure signal: the task raised after its last retry. Never raises itself."""
    try:
        request = getattr(sender, "request", None)
        failed_task_record(
            task_id=task_id or "",
            task_name=getattr(sender, "name", "") or "",
            args=args,
            kwargs=kwargs,
            exception=exception or Exception("unknown"),
            traceback_text=str(einfo or ""),
            retries=getattr(request, "retries", 0) or 0,
            worker=getattr(request, "hostname", "") or "",
        )
    except Exception:  # the worker must go on with other tasks whatever happens here
        logger.exception("could not record the failure of task %s", task_id)
