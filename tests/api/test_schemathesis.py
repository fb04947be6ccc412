"""Property-based testing of the API against its own OpenAPI schema (schemathesis):
generated valid and invalid requests, authenticated as a partner; no 5xx, every
response matches the schema, malformed input is rejected."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from config.wsgi import application
from shelters.models import Organization, Site, Source, User

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, negative_data_rejection]


@pytest.fixture
def keep_connection_open():
    """Requests go through the real WSGI app, whose end-of-request handler would
    close the test's database connection (Django's test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def partner_token(db, keep_connection_open) -> str:
    organization = Organization.objects.create(slug="fuzz-ngo", name="Fuzz NGO")
    user = User.objects.create_user("fuzzer", organization=organization, role=User.Role.EDITOR)
    Site.objects.create(code="FUZZ-1", name="Fuzz school", latitude=35.5, longitude=35.9)
    Source.objects.create(slug="fuzz-source", name="Fuzz source", grade="B")
    return AuthToken.objects.create(user=user)[1]


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_keeps_its_own_contract(case, partner_token):
    case.call_and_validate(headers={"Authorization": f"Token {partner_token}", "Host": "localhost"}, checks=CHECKS)
