"""Celery tasks: thin, taking ids; safe to run twice (see services.delivery_attempt)."""

from celery import shared_task

from shelters.tasks import RETRY
from webhooks import services


@shared_task(name="webhooks.tasks.deliver_webhook", **RETRY)
def deliver_webhook(delivery_id: int) -> None:
    delay = services.delivery_attempt(delivery_id)
    if delay is not None:
        # A new message rather than self.retry(): the attempt count lives on the
        # row, so Celery's retry budget stays for transient database errors.
        deliver_webhook.apply_async((delivery_id,), countdown=delay)


@shared_task(name="webhooks.tasks.requeue_lost_deliveries", **RETRY)
def requeue_lost_deliveries() -> int:
    """For beat (e.g. every 5 minutes): re-sends deliveries whose message was lost."""
    return len(services.deliveries_requeue_lost())
