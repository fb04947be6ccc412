import json
from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks.events import REPORT_CREATED
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import emit, retry_delay
from webhooks.signing import verify
from webhooks.tasks import deliver_webhook

pytestmark = pytest.mark.django_db


def emit_and_deliver(captured, organization, payload=None) -> WebhookDelivery:
    with captured(execute=True):
        (delivery_id,) = emit(REPORT_CREATED, payload=payload or {"report_id": 5}, organization_ids=[organization.pk])
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_a_delivery_reaches_a_real_server_signed(
    eager, receiver, make_subscription, alice_org, django_capture_on_commit_callbacks
):
    _, secret = make_subscription(alice_org, url=receiver.url)
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org, {"report_id": 5, "site": "شمال"})

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert len(delivery.attempt_log) == 1 and delivery.attempt_log[0]["status_code"] == 200

    (request,) = receiver.requests
    assert request.path == "/hooks/shelters"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Shelters-Event"] == REPORT_CREATED
    assert request.headers["Shelters-Delivery"] == str(delivery.pk)
    assert request.headers["Shelters-Event-Id"] == str(delivery.event_id)
    assert verify(secret, request.headers["Shelters-Signature"], request.body)
    assert not verify("wrong-secret", request.headers["Shelters-Signature"], request.body)
    document = json.loads(request.body)
    assert document == {
        "id": str(delivery.event_id),
        "event": REPORT_CREATED,
        "created_at": delivery.created_at.isoformat(),
        "data": {"report_id": 5, "site": "شمال"},
    }


def test_running_the_task_again_never_resends_a_succeeded_delivery(
    eager, receiver, make_subscription, alice_org, django_capture_on_commit_callbacks
):
    make_subscription(alice_org, url=receiver.url)
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org)
    deliver_webhook(delivery.pk)  # a redelivered message
    deliver_webhook.delay(delivery.pk)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)


def test_a_500_is_retried_until_it_succeeds(
    eager, receiver, make_subscription, alice_org, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503, 200]
    _, secret = make_subscription(alice_org, url=receiver.url)
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 3
    assert [entry["status_code"] for entry in delivery.attempt_log] == [500, 503, 200]
    assert delivery.attempt_log[0]["error"].startswith("HTTP 500")
    # The same event, body and id on every attempt; each freshly signed.
    assert len({request.body for request in receiver.requests}) == 1
    assert len({request.headers["Shelters-Event-Id"] for request in receiver.requests}) == 1
    assert all(verify(secret, r.headers["Shelters-Signature"], r.body) for r in receiver.requests)


def test_it_gives_up_after_the_maximum_number_of_attempts(
    eager, receiver, make_subscription, alice_org, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 4
    receiver.statuses = [500]
    make_subscription(alice_org, url=receiver.url)
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org)

    assert delivery.status == DeliveryStatus.FAILED
    assert (delivery.attempts, delivery.last_status_code) == (4, 500)
    assert delivery.delivered_at is None and delivery.next_attempt_at is None
    assert len(receiver.requests) == 4
    deliver_webhook(delivery.pk)  # nothing more once it gave up
    assert len(receiver.requests) == 4


def test_redirects_are_not_followed(
    eager, receiver, make_subscription, alice_org, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.statuses = [302]
    receiver.extra_headers = {"Location": receiver.url + "/elsewhere"}
    make_subscription(alice_org, url=receiver.url)
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org)
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.FAILED, 302)


def test_a_refused_connection_is_a_failed_attempt(
    eager, make_subscription, alice_org, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    make_subscription(alice_org, url="http://127.0.0.1:9/nobody-listens")  # the discard port, closed
    delivery = emit_and_deliver(django_capture_on_commit_callbacks, alice_org)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 2, None)
    assert delivery.last_error


def test_a_delivery_claimed_by_another_worker_is_left_alone(receiver, make_subscription, alice_org):
    make_subscription(alice_org, url=receiver.url)
    (delivery_id,) = emit(REPORT_CREATED, payload={}, organization_ids=[alice_org.pk])
    # As if another worker were mid-attempt: its claim pushed the next attempt into the future.
    WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=1, next_attempt_at=timezone.now() + timedelta(60))
    deliver_webhook(delivery_id)
    assert receiver.requests == []
    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 1


def test_an_inactive_subscription_is_not_sent_to(receiver, make_subscription, alice_org):
    subscription, _ = make_subscription(alice_org, url=receiver.url)
    (delivery_id,) = emit(REPORT_CREATED, payload={}, organization_ids=[alice_org.pk])
    subscription.active = False
    subscription.save()
    deliver_webhook(delivery_id)
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 0)


def test_a_deleted_delivery_is_ignored(db):
    deliver_webhook(123456)  # deleted with its subscription: nothing to do, no error


def test_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 30
    settings.WEBHOOKS_RETRY_MAX_SECONDS = 3600
    assert [retry_delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
