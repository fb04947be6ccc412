import io
from datetime import date

import pytest
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from shelters.models import Site, User


def _client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def demo(db) -> Site:
    call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    return Site.objects.get(code="SY-LAT-HMEIMIM")


@pytest.fixture
def alice_api(alice) -> APIClient:
    return _client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return _client_for(bob)


@pytest.fixture
def staff(db, alice_org) -> User:
    """A coordinator: staff, member of Alice's organisation."""
    return User.objects.create_user("dana", password="x", is_staff=True, organization=alice_org, role=User.Role.MANAGER)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return _client_for(staff)


@pytest.fixture
def anonymous_api(db) -> APIClient:
    return _client_for(None)


def report_body(external_id: str = "r1", **overrides) -> dict:
    return {
        "external_id": external_id,
        "site_code": "SY-LAT-HMEIMIM",
        "as_of": date(2025, 3, 14).isoformat(),
        "source": "alpha-field-team",
        "source_grade": "B",
        "method": "headcount",
        "qualifier": "exact",
        "value": 8120,
        **overrides,
    }
