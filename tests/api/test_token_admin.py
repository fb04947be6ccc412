"""Partner API tokens in the admin (api/admin.py): labelled in Arabic, and
revoking or issuing one there takes effect on the API."""

import re
from datetime import timedelta

from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.test import APIClient


def _api_status(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/sites/").status_code


def test_token_pages_speak_arabic(client, charlie, alice):
    AuthToken.objects.create(user=alice)
    client.force_login(charlie)
    with translation.override("ar"):
        index = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
        page = client.get(reverse("admin:api_apitoken_changelist"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert "رموز الواجهة البرمجية" in index
    assert "Auth tokens" not in index  # knox's own registration is gone: the rows are listed once
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "رمز الواجهة البرمجية" in title
    for header in ("بداية الرمز", "المستخدم", "وقت الإنشاء", "تاريخ الانتهاء"):
        assert header in page, header
    assert "alice" in page


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
    response = client.post(reverse("admin:api_apitoken_add"), {"user": alice.pk, "expiry": ""})
    assert response.status_code == 302
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if "not shown again" in str(m)]
    token = message.rsplit(": ", 1)[1]
    (issued,) = AuthToken.objects.filter(user=alice)
    assert _api_status(token) == 200
    # Left empty, the expiry is the configured lifetime, as for create_partner's tokens.
    lifetime = issued.expiry - issued.created
    assert abs(lifetime - knox_settings.TOKEN_TTL) < timedelta(minutes=1)
