import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from shelters.models import User
from webhooks.events import ESTIMATE_CHANGED, REPORT_CREATED
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import emit
from webhooks.signing import signature_header, verify

# The viewsets as api/urls.py registers them, without depending on that file.
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.webhooks.urls")]

LIST = "api:webhook-list"
DETAIL = "api:webhook-detail"


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def create(user: User, **fields) -> dict:
    body = {"url": "https://partner.example.org/hooks", "events": [REPORT_CREATED], **fields}
    response = client_for(user).post(reverse(LIST), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_secret_is_shown_on_creation_only(alice, alice_org):
    created = create(alice, events=[REPORT_CREATED, ESTIMATE_CHANGED, REPORT_CREATED])
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert created["secret"] == subscription.secret and len(created["secret"]) >= 43
    assert created["organization"] == alice_org.slug
    assert created["created_by"] == "alice"
    assert created["events"] == [REPORT_CREATED, ESTIMATE_CHANGED]  # repeats dropped
    body = b"{}"
    assert verify(created["secret"], signature_header(subscription.secret, body), body)

    client = client_for(alice)
    assert "secret" not in client.get(reverse(DETAIL, args=[created["id"]])).json()
    assert "secret" not in client.get(reverse(LIST)).json()["results"][0]
    patched = client.patch(reverse(DETAIL, args=[created["id"]]), {"active": False}, format="json")
    assert patched.status_code == 200 and "secret" not in patched.json()


def test_another_organisations_subscription_is_a_404(alice, bob):
    created = create(alice)
    url = reverse(DETAIL, args=[created["id"]])
    bob_client = client_for(bob)
    assert bob_client.get(url).status_code == 404
    assert bob_client.patch(url, {"active": False}, format="json").status_code == 404
    assert bob_client.delete(url).status_code == 404
    assert bob_client.get(reverse(LIST)).json()["count"] == 0
    assert WebhookSubscription.objects.get(pk=created["id"]).active


def test_staff_see_every_organisation(alice, bob, charlie):
    create(alice)
    create(bob)
    assert client_for(charlie).get(reverse(LIST)).json()["count"] == 2


def test_patch_changes_url_events_and_active_and_put_is_not_offered(alice):
    created = create(alice)
    url = reverse(DETAIL, args=[created["id"]])
    client = client_for(alice)
    response = client.patch(
        url, {"url": "https://new.example.org/h", "events": [ESTIMATE_CHANGED], "active": False}, format="json"
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert (subscription.url, subscription.events, subscription.active) == (
        "https://new.example.org/h",
        [ESTIMATE_CHANGED],
        False,
    )
    assert subscription.secret == created["secret"]  # unchanged, and never re-sent
    assert (
        client.put(url, {"url": "https://x.example.org/", "events": [REPORT_CREATED]}, format="json").status_code == 405
    )


def test_invalid_input_is_a_problem_with_field_paths(alice, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = client_for(alice).post(
        reverse(LIST), {"url": "http://127.0.0.1/hooks", "events": ["report.exploded"]}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"url", "events.0"}
    empty = client_for(alice).post(reverse(LIST), {"url": "https://ok.example.org/", "events": []}, format="json")
    assert empty.status_code == 400


def test_delete_removes_the_subscription(alice):
    created = create(alice)
    assert client_for(alice).delete(reverse(DETAIL, args=[created["id"]])).status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_viewers_read_but_cannot_write(alice, alice_org):
    create(alice)
    viewer = User.objects.create_user("vera", organization=alice_org, role=User.Role.VIEWER)
    client = client_for(viewer)
    assert client.get(reverse(LIST)).json()["count"] == 1
    body = {"url": "https://partner.example.org/", "events": [REPORT_CREATED]}
    assert client.post(reverse(LIST), body, format="json").status_code == 403
    assert APIClient().get(reverse(LIST)).status_code in (401, 403)


def test_deliveries_are_scoped_and_read_only(alice, bob, alice_org):
    created = create(alice)
    (delivery_id,) = emit(REPORT_CREATED, payload={"report_id": 3}, organization_ids=[alice_org.pk])
    listing = client_for(alice).get(reverse("api:webhook-delivery-list"), {"status": "pending"})
    (row,) = listing.json()["results"]
    assert (row["id"], row["subscription"], row["payload"]) == (delivery_id, created["id"], {"report_id": 3})
    detail = reverse("api:webhook-delivery-detail", args=[delivery_id])
    assert client_for(alice).get(detail).status_code == 200
    assert client_for(alice).delete(detail).status_code == 405
    assert client_for(bob).get(detail).status_code == 404
    assert client_for(bob).get(reverse("api:webhook-delivery-list")).json()["count"] == 0
    assert WebhookDelivery.objects.count() == 1
