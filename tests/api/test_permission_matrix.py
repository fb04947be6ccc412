"""Who gets what, for every endpoint and method: two partner organisations
(Alice's, Bob's), a coordinator on staff and an anonymous caller. Another
organisation's record is a 404 on every verb, never a 403 that confirms it exists."""

import pytest

from api.conditional import etag_for
from shelters.models import AidDistribution, DepartureNotice, PopulationReport, Site, User
from tests.api.conftest import _client_for, report_body


@pytest.fixture
def world(demo, alice, alice_api):
    """Records Alice's organisation submitted."""
    report = alice_api.post("/api/v1/population-reports/", report_body("alice-1"), format="json").json()
    notice = alice_api.post(
        "/api/v1/departure-notices/",
        {
            "external_id": "alice-n1",
            "site_code": demo.code,
            "issued_on": "2025-03-16",
            "issuer": "Base",
            "compulsion": "voluntary",
        },
        format="json",
    ).json()
    distribution = alice_api.post(
        "/api/v1/aid-distributions/",
        {
            "external_id": "alice-d1",
            "site_code": demo.code,
            "distributed_on": "2025-03-16",
            "provider": "Alice NGO",
            "item": "water",
        },
        format="json",
    ).json()
    return {"report": report["id"], "notice": notice["id"], "distribution": distribution["id"], "site": demo.code}


NEW_SITE = {"code": "NEW-1", "name": "New school", "site_type": "collective_centre", "status": "open"}
NEW_SOURCE = {"slug": "new-source", "name": "New source", "kind": "media", "grade": "C"}

# (method, path, body, expected status for: anonymous, alice, bob, staff)
MATRIX = [
    ("get", "/api/v1/sites/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/sites/?format=geojson", None, (401, 200, 200, 200)),
    ("get", "/api/v1/sites/{site}/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/sites/NO-SUCH-SITE/", None, (401, 404, 404, 404)),
    ("post", "/api/v1/sites/", NEW_SITE, (401, 403, 403, 201)),
    ("patch", "/api/v1/sites/{site}/", {"capacity": 12000}, (401, 403, 403, 200)),
    ("delete", "/api/v1/sites/{site}/", None, (401, 403, 403, 405)),
    ("get", "/api/v1/sites/{site}/estimates/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/estimates/latest/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/population-reports/", None, (401, 200, 200, 200)),
    ("post", "/api/v1/population-reports/", report_body("new-1"), (401, 201, 201, 201)),
    ("get", "/api/v1/population-reports/{report}/", None, (401, 200, 404, 200)),
    ("post", "/api/v1/population-reports/{report}/retract/", {"reason": "duplicate"}, (401, 200, 404, 200)),
    ("patch", "/api/v1/population-reports/{report}/", {"value": 1}, (401, 405, 405, 405)),
    ("put", "/api/v1/population-reports/{report}/", report_body("alice-1"), (401, 405, 405, 405)),
    ("delete", "/api/v1/population-reports/{report}/", None, (401, 405, 405, 405)),
    ("get", "/api/v1/departure-notices/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/departure-notices/{notice}/", None, (401, 200, 404, 200)),
    ("patch", "/api/v1/departure-notices/{notice}/", {"compulsion": "mandatory"}, (401, 200, 404, 200)),
    ("delete", "/api/v1/departure-notices/{notice}/", None, (401, 405, 405, 405)),
    ("get", "/api/v1/aid-distributions/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/aid-distributions/{distribution}/", None, (401, 200, 404, 200)),
    ("patch", "/api/v1/aid-distributions/{distribution}/", {"individuals": 40}, (401, 200, 404, 200)),
    ("delete", "/api/v1/aid-distributions/{distribution}/", None, (401, 405, 405, 405)),
    ("get", "/api/v1/sources/", None, (401, 200, 200, 200)),
    ("post", "/api/v1/sources/", NEW_SOURCE, (401, 403, 403, 201)),
    ("get", "/api/v1/organizations/", None, (401, 200, 200, 200)),
    ("get", "/api/v1/organizations/alice-ngo/", None, (401, 200, 404, 200)),
    ("get", "/api/v1/organizations/bob-agency/", None, (401, 404, 200, 200)),
    # The API's documentation is public on purpose: it holds no data.
    ("get", "/api/schema/", None, (200, 200, 200, 200)),
    ("get", "/api/docs/", None, (200, 200, 200, 200)),
]

WHO = ("anonymous", "alice", "bob", "staff")


def _etag(path: str) -> str | None:
    kind, key = path.strip("/").split("/")[2:4]
    model = {"sites": Site, "departure-notices": DepartureNotice, "aid-distributions": AidDistribution}.get(kind)
    if model is None:
        return None
    instance = model.objects.filter(code=key).first() if model is Site else model.objects.filter(pk=key).first()
    return etag_for(instance) if instance else None


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
@pytest.mark.parametrize("who", range(len(WHO)), ids=WHO)
def test_permission_matrix(world, alice_api, bob_api, staff_api, anonymous_api, method, path, body, expected, who):
    client = (anonymous_api, alice_api, bob_api, staff_api)[who]
    url = path.format(**world)
    headers = {}
    if method in ("patch", "put"):
        etag = _etag(url)
        if etag:
            headers["HTTP_IF_MATCH"] = etag
    response = getattr(client, method)(url, body, format="json", **headers)
    assert response.status_code == expected[who], (WHO[who], method, url, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


def test_a_viewer_account_cannot_submit(demo, alice_org):
    viewer = User.objects.create_user("viewer", organization=alice_org, role=User.Role.VIEWER)
    client = _client_for(viewer)
    assert client.get("/api/v1/population-reports/").status_code == 200
    assert client.post("/api/v1/population-reports/", report_body("v1"), format="json").status_code == 403


def test_lists_only_show_the_callers_own_records(world, bob_api, alice_api, staff_api):
    bob_api.post("/api/v1/population-reports/", report_body("bob-1"), format="json")
    seen = lambda client: {r["external_id"] for r in client.get("/api/v1/population-reports/").json()["results"]}  # noqa: E731
    assert seen(alice_api) == {"alice-1"}
    assert seen(bob_api) == {"bob-1"}
    assert seen(staff_api) == {"alice-1", "bob-1", "hm-001", "hm-002"}
    assert PopulationReport.objects.count() == 4


def test_a_revoked_or_expired_token_is_refused(alice, demo):
    from knox.models import AuthToken

    instance, token = AuthToken.objects.create(user=alice)
    client = _client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/sites/").status_code == 200
    instance.delete()  # revoked in the admin
    assert client.get("/api/v1/sites/").status_code == 401
