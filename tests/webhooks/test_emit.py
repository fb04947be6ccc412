import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from webhooks.events import ESTIMATE_CHANGED, REPORT_CREATED, REPORT_RETRACTED
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from webhooks.services import emit, stable_event_id
from webhooks.validators import is_loopback_host

pytestmark = pytest.mark.django_db


def test_emit_reaches_only_active_subscribers_of_the_given_organisations(
    make_subscription, alice_org, bob_org, django_capture_on_commit_callbacks
):
    wanted, _ = make_subscription(alice_org, events=(REPORT_CREATED, REPORT_RETRACTED))
    make_subscription(alice_org, events=(REPORT_RETRACTED,))  # not subscribed to this event
    make_subscription(alice_org, active=False)  # inactive
    make_subscription(bob_org)  # another organisation

    with django_capture_on_commit_callbacks() as callbacks:
        ids = emit(REPORT_CREATED, payload={"report_id": 1}, organization_ids=[alice_org.pk])

    delivery = WebhookDelivery.objects.get()
    assert ids == [delivery.pk]
    assert delivery.subscription == wanted
    assert (delivery.event, delivery.payload, delivery.status) == (REPORT_CREATED, {"report_id": 1}, "pending")
    assert delivery.next_attempt_at is not None
    assert len(callbacks) == 1  # the task is enqueued once the transaction commits


def test_emit_without_organisations_reaches_every_organisation(make_subscription, alice_org, bob_org):
    for organization in (alice_org, bob_org):
        make_subscription(organization, events=(ESTIMATE_CHANGED,))
    event_id = str(uuid.uuid4())
    ids = emit(ESTIMATE_CHANGED, payload={"site": "SY-LAT-HMEIMIM"}, event_id=event_id)
    assert len(ids) == 2
    # One event, one id, whoever receives it.
    assert {str(value) for value in WebhookDelivery.objects.values_list("event_id", flat=True)} == {event_id}


def test_emit_is_idempotent_on_the_event_id(make_subscription, alice_org, django_capture_on_commit_callbacks):
    make_subscription(alice_org)
    event_id = stable_event_id(REPORT_CREATED, 17)
    assert event_id == stable_event_id(REPORT_CREATED, 17)
    with django_capture_on_commit_callbacks() as callbacks:
        first = emit(REPORT_CREATED, payload={"report_id": 17}, organization_ids=[alice_org.pk], event_id=event_id)
        again = emit(REPORT_CREATED, payload={"report_id": 17}, organization_ids=[alice_org.pk], event_id=event_id)
    assert len(first) == 1
    assert again == []
    assert WebhookDelivery.objects.count() == 1
    assert len(callbacks) == 1
    # A subscription added later still gets the event when it is emitted again.
    make_subscription(alice_org, url="https://other.example.org/hooks")
    assert len(emit(REPORT_CREATED, payload={}, organization_ids=[alice_org.pk], event_id=event_id)) == 1


def test_emit_in_a_rolled_back_transaction_leaves_nothing(make_subscription, alice_org):
    make_subscription(alice_org)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(REPORT_CREATED, payload={}, organization_ids=[alice_org.pk])
        raise RuntimeError("the caller's change failed")
    assert not WebhookDelivery.objects.exists()


def test_emit_refuses_unknown_events_and_accepts_no_subscribers():
    with pytest.raises(ValueError, match="unknown webhook event"):
        emit("report.exploded", payload={})
    assert emit(REPORT_CREATED, payload={}, organization_ids=[]) == []


def test_subscription_create_generates_a_secret_and_validates(make_subscription, alice_org, alice, settings):
    subscription, secret = make_subscription(alice_org)
    assert len(secret) >= 43 and subscription.secret == secret
    assert subscription.created_by == alice
    with pytest.raises(ValidationError) as unknown:
        make_subscription(alice_org, events=("report.exploded",))
    assert "events" in unknown.value.message_dict
    with pytest.raises(ValidationError):
        make_subscription(alice_org, url="ftp://partner.example.org/")
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    for url in (
        "http://127.0.0.1:8000/",
        "http://localhost/x",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://a.localhost/",
    ):
        with pytest.raises(ValidationError) as loopback:
            make_subscription(alice_org, url=url)
        assert loopback.value.error_dict["url"][0].code == "loopback", url
    # Spellings the URL validator might let through one day are caught too.
    for host in ("127.1", "2130706433", "0x7f.0.0.1", "::ffff:127.0.0.1", "LOCALHOST."):
        assert is_loopback_host(host), host
    assert not is_loopback_host("partner.example.org")
    assert not is_loopback_host("192.0.2.10")
    settings.DEBUG = True  # development servers may point at themselves
    make_subscription(alice_org, url="http://localhost:9000/hooks")


def test_database_constraints(make_subscription, alice_org):
    subscription, _ = make_subscription(alice_org)
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event=REPORT_CREATED,
        payload={},
        event_id=uuid.uuid4(),
        next_attempt_at="2025-01-01T00:00Z",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(
            subscription=subscription,
            event=REPORT_CREATED,
            payload={},
            event_id=delivery.event_id,
            next_attempt_at="2025-01-01T00:00Z",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SUCCEEDED)  # no delivered_at
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk).update(secret="short")
