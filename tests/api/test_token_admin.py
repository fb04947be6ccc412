"""Partner API tokens in the admin (api/admin.py): labelled in Arabic, issued
only to partner accounts, never edited, and revoking or issuing one there takes
effect on the API."""

import importlib
import re
from datetime import timedelta

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone, translation
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.test import APIClient

from shelters.models import User


def _api_status(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/sites/").status_code


def _issue(client, user: User, expiry_day: str = ""):
    expiry = {"expiry_0": expiry_day, "expiry_1": "12:00:00" if expiry_day else ""}
    return client.post(reverse("admin:api_apitoken_add"), {"user": user.pk, **expiry})


def _issued_token(response) -> str:
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "not shown again" in str(m)]
    return message.rsplit(": ", 1)[1]


def _staff_with(*codenames: str) -> User:
    user = User.objects.create_user("erin", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="api", codename__in=codenames))
    return user


def test_token_pages_speak_arabic(client, charlie, alice):
    instance, _ = AuthToken.objects.create(user=alice)
    client.force_login(charlie)
    with translation.override("ar"):
        index = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
        listing = client.get(reverse("admin:api_apitoken_changelist"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
        page = client.get(
            reverse("admin:api_apitoken_change", args=[instance.pk]), HTTP_ACCEPT_LANGUAGE="ar"
        ).content.decode()
    assert "رموز الوصول إلى الواجهة البرمجية" in index
    assert "Auth tokens" not in index  # knox's own registration is gone: the rows are listed once
    title = re.search(r"<title>(.*?)</title>", listing, re.S).group(1)
    assert "رمز وصول إلى الواجهة البرمجية" in title
    for header in ("بداية رمز الوصول", "المستخدم", "وقت الإنشاء", "تاريخ الانتهاء"):
        assert header in listing, header
        assert header in page, header
    assert "alice" in listing
    heading = re.search(r"<h2>(.*?)</h2>", page, re.S).group(1)
    assert instance.token_key in heading and instance.digest not in heading  # named by its prefix


def test_revoking_in_the_admin_refuses_the_token(client, charlie, alice):
    instance, token = AuthToken.objects.create(user=alice)
    assert _api_status(token) == 200
    client.force_login(charlie)
    url = reverse("admin:api_apitoken_delete", args=[instance.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not AuthToken.objects.filter(pk=instance.pk).exists()
    assert _api_status(token) == 401


def test_a_token_issued_in_the_admin_is_shown_once_and_works(client, charlie, alice):
    client.force_login(charlie)
    response = _issue(client, alice)
    assert response.status_code == 302
    token = _issued_token(response)
    (issued,) = AuthToken.objects.filter(user=alice)
    assert _api_status(token) == 200
    # Left empty, the expiry is the configured lifetime, as for create_partner's tokens.
    assert abs(issued.expiry - issued.created - knox_settings.TOKEN_TTL) < timedelta(minutes=1)
    # Shown once, on the page after saving; nowhere in the admin afterwards.
    assert token in client.get(reverse("admin:api_apitoken_changelist")).content.decode()
    assert token not in client.get(reverse("admin:api_apitoken_changelist")).content.decode()
    assert token not in client.get(reverse("admin:api_apitoken_change", args=[issued.pk])).content.decode()


def test_an_expiry_given_is_kept_and_a_past_one_refused(client, charlie, alice):
    client.force_login(charlie)
    later = (timezone.now() + timedelta(days=10)).date()
    assert _issue(client, alice, later.isoformat()).status_code == 302
    assert AuthToken.objects.get(user=alice).expiry.date() == later
    earlier = (timezone.now() - timedelta(days=1)).date()
    response = _issue(client, alice, earlier.isoformat())
    assert response.status_code == 200
    assert "The expiry must be in the future." in response.content.decode()
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_tokens_are_issued_to_partner_accounts_only(client, charlie, alice):
    """Whoever issues a token sees it: one for a colleague would let staff act as them."""
    staff = User.objects.create_user("frank", password="x", is_staff=True, organization=alice.organization)
    client.force_login(charlie)
    for user in (charlie, staff):
        response = _issue(client, user)
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not AuthToken.objects.filter(user__in=[charlie, staff]).exists()


def test_a_token_cannot_be_edited(client, charlie, alice, bob):
    instance, _ = AuthToken.objects.create(user=alice)
    client.force_login(charlie)
    url = reverse("admin:api_apitoken_change", args=[instance.pk])
    page = client.get(url).content.decode()
    assert 'name="user"' not in page and 'name="expiry_0"' not in page  # read-only
    assert client.post(url, {"user": bob.pk, "expiry_0": "2099-01-01", "expiry_1": ""}).status_code == 403
    instance.refresh_from_db()
    assert instance.user == alice


def test_staff_with_view_and_delete_rights_can_revoke_but_not_issue(client, alice):
    instance, token = AuthToken.objects.create(user=alice)
    client.force_login(_staff_with("view_apitoken", "delete_apitoken"))
    assert client.get(reverse("admin:api_apitoken_changelist")).status_code == 200
    assert _issue(client, alice).status_code == 403
    delete = reverse("admin:api_apitoken_delete", args=[instance.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert _api_status(token) == 401


def test_staff_without_rights_see_no_tokens(client, alice):
    client.force_login(_staff_with())
    assert client.get(reverse("admin:api_apitoken_changelist")).status_code == 403


def test_grants_on_knox_permissions_carry_over(db):
    """Migration 0004: whoever could view or revoke tokens in knox's admin still can."""
    user = User.objects.create_user("gina", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="knox", codename__in=["view_authtoken", "delete_authtoken"])
    )
    migration = importlib.import_module("api.migrations.0004_api_token_permissions")
    migration.copy_grants(apps, None)
    user = User.objects.get(pk=user.pk)  # a fresh permission cache
    assert user.has_perm("api.view_apitoken") and user.has_perm("api.delete_apitoken")
    assert not user.has_perm("api.add_apitoken")
