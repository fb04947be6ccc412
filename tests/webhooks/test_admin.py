import pytest
from django.urls import reverse

from webhooks.events import REPORT_CREATED
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from webhooks.services import emit

pytestmark = pytest.mark.django_db


def test_creating_a_subscription_shows_its_secret_once(client, charlie, alice_org):
    client.force_login(charlie)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {
            "organization": alice_org.pk,
            "url": "https://partner.example.org/hooks",
            "events": [REPORT_CREATED],
            "active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.created_by == charlie
    assert subscription.secret in response.content.decode()
    change = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]))
    assert change.status_code == 200
    assert subscription.secret not in change.content.decode()


def test_deliveries_are_read_only_and_failed_ones_can_be_retried(
    client, charlie, make_subscription, alice_org, django_capture_on_commit_callbacks
):
    make_subscription(alice_org)
    (failed_id,) = emit(REPORT_CREATED, payload={}, organization_ids=[alice_org.pk])
    WebhookDelivery.objects.filter(pk=failed_id).update(
        status=DeliveryStatus.FAILED, attempts=8, next_attempt_at=None, last_status_code=500
    )
    client.force_login(charlie)
    changelist = reverse("admin:webhooks_webhookdelivery_changelist")
    for query in ("", "?status__exact=failed", f"?event__exact={REPORT_CREATED}", "?q=partner"):
        assert client.get(changelist + query).status_code == 200
    assert client.get(reverse("admin:webhooks_webhookdelivery_change", args=[failed_id])).status_code == 200
    assert client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(changelist, {"action": "retry_failed", "_selected_action": [failed_id]}, follow=True)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get(pk=failed_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.next_attempt_at is not None
    assert len(callbacks) == 1
