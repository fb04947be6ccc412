"""Writes: subscriptions, emitting events, and attempting one delivery.

Delivery is at least once. A delivery row is created in the caller's
transaction (so an event is recorded exactly when the change it describes is
committed), the task is enqueued on commit, and each attempt first claims the
row with a conditional UPDATE, so two workers never send the same attempt and a
succeeded delivery is never sent again. A worker that dies after the partner
received the request but before recording it means one repeat: partners
de-duplicate on the event id.
"""

import logging
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shelters.models import Organization, User
from webhooks import conf, signing
from webhooks.events import EVENTS
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from webhooks.validators import validate_webhook_url

logger = logging.getLogger(__name__)

# For stable_event_id(): any fixed UUID, so that the same parts always give the same id.
EVENT_ID_NAMESPACE = uuid.UUID("5b0c3f5e-8f0e-4c53-9a55-0b5f4c0e7a11")
# How long an attempt holds its claim: longer than the request can take, so a
# duplicate task cannot start a second attempt meanwhile; if the worker dies,
# the delivery becomes claimable again after this.
CLAIM_SECONDS = 60
# Celery's countdown runs on the sending worker's clock, the claim on the receiving one's.
CLOCK_SLACK = timedelta(seconds=2)
# Pending deliveries overdue by this long lost their message (a broker restart): re-enqueue.
SWEEP_GRACE = timedelta(minutes=10)
# Attempts kept on the row; admin retries start new rounds, so it is capped.
ATTEMPT_LOG_LENGTH = 50
# Enough of a partner's error page to diagnose, not enough to bloat the row.
ERROR_EXCERPT = 300


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def stable_event_id(*parts: object) -> str:
    """A deterministic event id, e.g. ``stable_event_id("report.created", report.pk)``:
    emitting again for the same thing (a retried task) creates no second delivery."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\x1f".join(str(part) for part in parts)))


def subscription_create(
    organization: Organization, created_by: User | None, url: str, events: list[str], *, active: bool = True
) -> tuple[WebhookSubscription, str]:
    """The subscription and its signing secret, which the caller shows once."""
    secret = generate_secret()
    subscription = WebhookSubscription(
        organization=organization, created_by=created_by, url=url, events=list(events), secret=secret, active=active
    )
    subscription.full_clean()
    subscription.save()
    return subscription, secret


def emit(
    event: str,
    *,
    payload: dict,
    organization_ids: Iterable[int] | None = None,
    event_id: str | None = None,
) -> list[int]:
    """Record ``event`` for every active subscription to it and send after commit.

    ``organization_ids`` limits it to those organisations' subscriptions (their
    own records); None means every organisation's (shared data, e.g. estimates).
    Returns the ids of the deliveries created: none when ``event_id`` was
    already emitted to those subscriptions.
    """
    from webhooks.tasks import deliver_webhook  # the task module imports this one

    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    event_uuid = uuid.UUID(event_id) if event_id else uuid.uuid4()
    subscriptions = WebhookSubscription.objects.filter(active=True)
    if organization_ids is not None:
        subscriptions = subscriptions.filter(organization_id__in=list(organization_ids))
    # Filtered here rather than in SQL: JSON containment is not portable to
    # SQLite, and an installation has few subscriptions.
    targets = [pk for pk, events in subscriptions.values_list("pk", "events") if event in events]
    now = timezone.now()
    created: list[int] = []
    for subscription_id in targets:
        # get_or_create takes a savepoint, so a concurrent emit of the same
        # event (the unique constraint) does not break the caller's transaction.
        delivery, is_new = WebhookDelivery.objects.get_or_create(
            subscription_id=subscription_id,
            event_id=event_uuid,
            defaults={"event": event, "payload": payload, "created_at": now, "next_attempt_at": now},
        )
        if is_new:
            created.append(delivery.pk)
            deliver_webhook.delay_on_commit(delivery.pk)
    return created


def deliveries_retry(delivery_ids: Iterable[int]) -> list[int]:
    """Give failed deliveries a fresh set of attempts (the admin action); returns the ids requeued."""
    from webhooks.tasks import deliver_webhook

    ids = list(
        WebhookDelivery.objects.filter(pk__in=list(delivery_ids), status=DeliveryStatus.FAILED).values_list(
            "pk", flat=True
        )
    )
    requeued = []
    with transaction.atomic():
        for pk in ids:
            # Conditional, so a retry racing another retry requeues once.
            if WebhookDelivery.objects.filter(pk=pk, status=DeliveryStatus.FAILED).update(
                status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
            ):
                requeued.append(pk)
                deliver_webhook.delay_on_commit(pk)
    return requeued


def deliveries_requeue_lost() -> list[int]:
    """Re-enqueue pending deliveries long overdue: their message was lost. A
    duplicate of a message still queued is harmless (it finds nothing to claim)."""
    from webhooks.tasks import deliver_webhook

    ids = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=timezone.now() - SWEEP_GRACE
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        deliver_webhook.delay(pk)
    return ids


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base × 2^(n-1), capped."""
    return min(conf.retry_base_seconds() * 2 ** (attempts - 1), conf.retry_max_seconds())


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead the signed payload anywhere (or to our own network):
    # a 3xx is reported as a failed attempt instead of being followed.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST and report what happened; never raises for network or HTTP errors."""
    request = urllib.request.Request(url, data=body, headers={"User-Agent": "shelters-webhooks/1", **headers})
    started = monotonic()
    try:
        with _opener.open(request, timeout=conf.timeout_seconds()) as response:
            status_code, error = response.status, ""
    except urllib.error.HTTPError as http_error:  # 4xx/5xx and unfollowed 3xx
        status_code = http_error.code
        try:
            excerpt = http_error.read(ERROR_EXCERPT).decode(errors="replace")
        except OSError:
            excerpt = ""
        error = f"HTTP {http_error.code}: {excerpt}".strip()
    except (urllib.error.URLError, OSError, ValueError) as failure:  # DNS, refused, timeout, TLS
        status_code, error = None, f"{type(failure).__name__}: {getattr(failure, 'reason', failure)}"
    return Response(status_code, error[:ERROR_EXCERPT], int((monotonic() - started) * 1000))


def delivery_attempt(delivery_id: int) -> float | None:
    """Make one attempt if the delivery is due; returns seconds until the next
    attempt when one is needed, else None (sent, gave up, or not ours to send)."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None  # deleted with its subscription, or already settled
    subscription = delivery.subscription
    pending = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
    refusal = "" if subscription.active else "The subscription is inactive."
    if not refusal:
        try:
            validate_webhook_url(subscription.url)  # settings may have changed since it was saved
        except ValidationError as invalid:
            refusal = " ".join(invalid.messages)
    if refusal:
        # Retrying cannot help; staff can retry from the admin once it is fixed.
        pending.update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=refusal)
        return None

    now = timezone.now()
    # The claim: only one attempt at a time, only when due, never after success.
    # Matching on attempts too makes the later write-back exact.
    claimed = pending.filter(attempts=delivery.attempts, next_attempt_at__lte=now + CLOCK_SLACK).update(
        attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)
    )
    if not claimed:
        return None  # another worker has it, or it is not due (a duplicate message)
    attempt = delivery.attempts + 1

    body = signing.body_for(
        event_id=str(delivery.event_id),
        event=delivery.event,
        created_at=delivery.created_at.isoformat(),
        data=delivery.payload,
    )
    headers = signing.headers_for(
        secret=subscription.secret,
        body=body,
        event=delivery.event,
        event_id=str(delivery.event_id),
        delivery_id=delivery.pk,
    )
    response = post(subscription.url, body, headers)

    finished = timezone.now()
    entry = {
        "at": finished.isoformat(),
        "status_code": response.status_code,
        "error": response.error,
        "duration_ms": response.duration_ms,
    }
    fields: dict = {
        "last_status_code": response.status_code,
        "last_error": response.error,
        "attempt_log": [*delivery.attempt_log, entry][-ATTEMPT_LOG_LENGTH:],
    }
    delay: float | None = None
    if response.ok:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=finished, next_attempt_at=None)
    elif attempt >= conf.max_attempts():
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        delay = retry_delay(attempt)
        fields.update(next_attempt_at=finished + timedelta(seconds=delay))
    # Still our claim (same attempt number): an admin retry meanwhile is not overwritten.
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempt).update(**fields)
    logger.info(
        "webhook delivery %s attempt %s to subscription %s: %s %s",
        delivery_id,
        attempt,
        subscription.pk,
        response.status_code or "-",
        response.error or "ok",
    )
    return delay
