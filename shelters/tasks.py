"""Celery tasks. Thin: they take ids or plain values and call services."""

from celery import shared_task

from shelters.services.heartbeats import heartbeat_record


@shared_task(name="shelters.tasks.record_heartbeat", bind=True)
def record_heartbeat(self, token: str = "") -> None:
    """Scheduled by beat; proves the worker runs and reaches the database."""
    heartbeat_record(worker=self.request.hostname or "unknown", token=token)
