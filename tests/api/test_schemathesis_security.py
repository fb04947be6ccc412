"""Security properties of the API, checked with schemathesis over every operation
of its own OpenAPI schema:

- without credentials every operation answers 401 (never data, never a 5xx);
- a partner (Bob) never sees anything of another organisation (Alice): no
  response body holds her external_ids, nor her reports, notices or
  distributions by id, and nothing fails with a 5xx.

Runs are small (a few examples per operation) so the file takes seconds."""

import json
from urllib.parse import unquote

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.core import NOT_SET

from config.wsgi import application
from shelters.models import Site, Source
from tests.api.conftest import report_body

# The schema and the documentation pages are public on purpose (they hold no data).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).exclude(
    path_regex=r"^/api/(schema|docs|redoc)/"
)
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SITE = "SEC-SITE-1"
# Record kinds Alice submits, by their path in the API.
KINDS = ("population-reports", "departure-notices", "aid-distributions")


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
def fresh_throttles():
    """Each operation starts with empty rate-limit counters (they live in the cache)."""
    cache.clear()
    yield
    cache.clear()


def _submit(client, prefix: str) -> dict[str, dict]:
    """One report, notice and distribution through the API; returns them as stored."""
    bodies = {
        "population-reports": report_body(f"{prefix}-report", site_code=SITE, source="sec-source"),
        "departure-notices": {
            "external_id": f"{prefix}-notice",
            "site_code": SITE,
            "issued_on": "2025-03-16",
            "issuer": "Base",
            "compulsion": "voluntary",
        },
        "aid-distributions": {
            "external_id": f"{prefix}-distribution",
            "site_code": SITE,
            "distributed_on": "2025-03-16",
            "provider": "Someone",
            "item": "water",
        },
    }
    stored = {}
    for kind, body in bodies.items():
        response = client.post(f"/api/v1/{kind}/", body, format="json")
        assert response.status_code == 201, response.content
        stored[kind] = response.json()
    return stored


@pytest.fixture
def alice_records(db, alice_api, bob_api) -> dict:
    """Alice's organisation submitted a record of each kind (Bob's one of his own).

    Through Django's test client, which reconnects the end-of-request handler:
    tests ask for ``keep_connection_open`` after this fixture."""
    Site.objects.create(code=SITE, name="Security school", latitude=35.5, longitude=35.9)
    Source.objects.create(slug="sec-source", name="Security source", grade="B")
    # Distinctive external_ids: found anywhere in a body, they can only be a leak.
    alice = _submit(alice_api, "alice-confidential-7f3c")
    _submit(bob_api, "bob-own-2d9a")
    return {
        "external_ids": [record["external_id"] for record in alice.values()],
        "ids": {kind: {record["id"]} for kind, record in alice.items()},
    }


@pytest.fixture
def bob_token(bob, alice_records) -> str:
    return AuthToken.objects.create(user=bob)[1]


def _walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def leaks(path: str, content: bytes, records: dict) -> list[str]:
    """What of Alice's records a response body shows; ``path`` is the request's
    (a 404 may name the record Bob asked for, which he already knew)."""
    text = content.decode("utf-8", errors="replace")
    found = [f"external_id {external_id}" for external_id in records["external_ids"] if external_id in text]
    for kind, ids in records["ids"].items():
        for pk in ids:
            link = f"/{kind}/{pk}/"
            if link in text and not path.endswith(link) and f"{link}retract/" not in path:
                found.append(f"link {link}")
    try:
        body = json.loads(text)
    except ValueError:
        return found
    # A record of the kind the path is about, with one of Alice's ids (other tables reuse the numbers).
    kind = next((kind for kind in KINDS if f"/{kind}/" in path), None)
    if kind:
        ids = records["ids"][kind]
        found += [
            f"{kind} id {item['id']}"
            for item in _walk(body)
            if isinstance(item, dict) and type(item.get("id")) is int and item["id"] in ids
        ]
    return found


def _never_reaches_the_data(path: str) -> bool:
    """A path no URL accepts, or one whose format suffix no renderer has (``/reports/0.5/``
    is id 0 as format "5"): both end in a 404 before authentication, showing nothing."""
    try:
        match = resolve(unquote(path))
    except Resolver404:
        return True
    return bool(match.kwargs.get("format"))


@schema.parametrize()
@SETTINGS
def test_without_credentials_every_operation_is_refused(case, db, keep_connection_open, fresh_throttles):
    response = case.call(headers={"Host": "localhost"})
    path = response.request.path_url.split("?")[0]
    where = f"{case.method} {response.request.path_url} without credentials"
    if response.status_code == 404:
        assert _never_reaches_the_data(path), f"{where} reached a view and gave 404, not 401"
        body = json.loads(response.content)
        assert set(body) == {"type", "title", "status", "detail"} and body["status"] == 404, body
    else:
        assert response.status_code == 401, f"{where} gave {response.status_code}: {response.content[:300]}"


@schema.parametrize()
@SETTINGS
def test_another_organisation_sees_nothing_of_alices_records(
    case, alice_records, bob_token, keep_connection_open, fresh_throttles
):
    response = case.call(headers={"Authorization": f"Token {bob_token}", "Host": "localhost"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.content[:500]}"
    path = response.request.path_url.split("?")[0]
    found = leaks(path, response.content, alice_records)
    assert not found, f"{case.method} {response.request.path_url} showed Alice's records to Bob: {found}"


@pytest.mark.parametrize("kind", KINDS)
def test_alices_records_asked_for_by_id_do_not_exist_for_bob(
    kind, alice_records, bob_token, keep_connection_open, fresh_throttles
):
    """The generated ids rarely hit Alice's: every operation on one of her records, by its real id."""
    pk = next(iter(alice_records["ids"][kind]))
    operations = [
        operation.ok()
        for operation in schema.get_all_operations()
        if operation.ok().path.startswith(f"/api/v1/{kind}/{{id}}/")
    ]
    assert operations
    for operation in operations:
        body = {"reason": "duplicate"} if operation.path.endswith("retract/") else {}
        media_type = "application/json" if operation.method.upper() in ("POST", "PUT", "PATCH") else None
        case = operation.Case(path_parameters={"id": pk}, body=body if media_type else NOT_SET, media_type=media_type)
        response = case.call(headers={"Authorization": f"Token {bob_token}", "Host": "localhost", "If-Match": '"x"'})
        assert response.status_code == 404, (
            operation.method,
            operation.path,
            response.status_code,
            response.content[:300],
        )
        path = response.request.path_url.split("?")[0]
        assert not leaks(path, response.content, alice_records)


def test_the_leak_detector_finds_alices_records_where_they_are_shown(alice_records, alice, keep_connection_open):
    """The check above would notice: Alice's own lists and exports show her records to her."""
    token = AuthToken.objects.create(user=alice)[1]
    for operation in schema.get_all_operations():
        operation = operation.ok()
        if operation.method.upper() == "GET" and operation.path in (f"/api/v1/{kind}/" for kind in KINDS):
            response = operation.Case().call(headers={"Authorization": f"Token {token}", "Host": "localhost"})
            assert response.status_code == 200
            assert len(leaks(operation.path, response.content, alice_records)) >= 2  # external_id and id
