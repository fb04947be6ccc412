"""HTTP behaviour every partner relies on: one error shape, conditional updates,
streaming exports, GeoJSON, bounded pages and queries that do not grow with them."""

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shelters.models import PopulationEstimate, Site
from shelters.services.reconciliation import refresh_latest_estimates
from tests.api.conftest import report_body


def test_malformed_json_is_a_problem_not_a_500(alice_api, demo):
    response = alice_api.generic("POST", "/api/v1/population-reports/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] == "Invalid input"


@pytest.mark.parametrize(
    "payload",
    [None, 17, "text", [None], [17], {"value": {"nested": True}}, [[]], {"site_code": ["a"], "as_of": 5}],
)
def test_odd_bodies_are_refused_cleanly(alice_api, demo, payload):
    response = alice_api.post("/api/v1/population-reports/", payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_unknown_api_urls_answer_in_json(alice_api):
    response = alice_api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "No such resource.",
    }


def test_too_large_a_body_is_413(alice_api, demo, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = alice_api.post(
        "/api/v1/population-reports/", [report_body(f"big-{n}") for n in range(50)], format="json"
    )
    assert response.status_code == 413
    assert response.json()["title"] == "Request body too large"


def test_updates_need_if_match(staff_api, demo):
    url = f"/api/v1/sites/{demo.code}/"
    etag = staff_api.get(url)["ETag"]
    assert staff_api.patch(url, {"capacity": 10000}, format="json").status_code == 428
    assert staff_api.patch(url, {"capacity": 10000}, format="json", HTTP_IF_MATCH='"stale"').status_code == 412
    response = staff_api.patch(url, {"capacity": 10000}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["capacity"] == 10000
    # The old ETag is now stale: a second writer cannot overwrite blindly.
    assert staff_api.patch(url, {"capacity": 1}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    assert Site.objects.get().capacity == 10000
    assert [h.capacity for h in Site.history.order_by("history_date")] == [None, 10000]


def test_site_rules_apply_through_the_api(staff_api, demo):
    url = f"/api/v1/sites/{demo.code}/"
    etag = staff_api.get(url)["ETag"]
    response = staff_api.patch(url, {"latitude": "95"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "latitude"


def _estimates(site: Site) -> None:
    for day in range(1, 4):
        PopulationEstimate.objects.create(
            site=site,
            date=date(2025, 3, 12 + day),
            estimate=8000 + day,
            low=7000,
            high=9000,
            flags=["stale"] if day == 3 else [],
            engine_version="t",
            computed_at="2025-03-20T00:00:00Z",
        )
    refresh_latest_estimates(site_ids=[site.pk])  # the read model, as a run leaves it


def test_site_estimates_for_a_date_range(alice_api, demo):
    _estimates(demo)
    response = alice_api.get(f"/api/v1/sites/{demo.code}/estimates/?start=2025-03-14&end=2025-03-15")
    assert response.json() == [
        {"date": "2025-03-14", "estimate": 8002, "low": 7000, "high": 9000, "flags": []},
        {"date": "2025-03-15", "estimate": 8003, "low": 7000, "high": 9000, "flags": ["stale"]},
    ]
    assert alice_api.get(f"/api/v1/sites/{demo.code}/estimates/?start=14-03-2025").status_code == 400


def test_latest_estimates_of_every_site(alice_api, demo):
    _estimates(demo)
    Site.objects.create(code="NO-ESTIMATE", name="Empty")
    rows = alice_api.get("/api/v1/estimates/latest/").json()["results"]
    assert rows == [
        {"site_code": demo.code, "date": "2025-03-15", "estimate": 8003, "low": 7000, "high": 9000, "flags": ["stale"]}
    ]


def test_exports_stream_csv_hxl_and_xlsx(alice_api, bob_api, demo):
    _estimates(demo)
    alice_api.post(
        "/api/v1/population-reports/",
        [report_body("e1"), report_body("e2", value=None, qualifier="range", low=7000, high=9000)],
        format="json",
    )
    response = alice_api.get("/api/v1/population-reports/export/")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["external_id"], r["value"], r["low"]) for r in rows] == [("e1", "8120", ""), ("e2", "", "7000")]
    # Scoped like everything else: Bob's export has none of Alice's reports.
    bob_rows = b"".join(bob_api.get("/api/v1/population-reports/export/").streaming_content).decode().splitlines()
    assert len(bob_rows) == 1
    hxl = b"".join(alice_api.get("/api/v1/estimates/export/?as=hxl").streaming_content).decode().splitlines()
    assert hxl[1].startswith("#loc+code,#date,#affected+idps+ind")
    assert hxl[-1] == f"{demo.code},2025-03-15,8003,7000,9000,stale"
    response = alice_api.get("/api/v1/estimates/export/?as=xlsx&start=2025-03-14")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    assert [cell.value for cell in sheet[1]] == ["site_code", "date", "estimate", "low", "high", "flags"]
    assert sheet.max_row == 3
    assert alice_api.get("/api/v1/estimates/export/?as=pdf").status_code == 400


def test_sites_as_geojson(alice_api, demo):
    body = alice_api.get("/api/v1/sites/?format=geojson").json()
    assert body["type"] == "FeatureCollection" and body["count"] == 1
    feature = body["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [35.9487, 35.4011]}
    assert feature["properties"]["name_ar"] == "قاعدة حميميم الجوية"


def test_sites_filter_by_bounding_box_and_governorate(alice_api, demo):
    Site.objects.create(code="FAR", name="Far", latitude=10, longitude=10, governorate="Aleppo")
    codes = lambda query: [s["code"] for s in alice_api.get("/api/v1/sites/" + query).json()["results"]]  # noqa: E731
    assert codes("?bbox=35,35,36,36") == [demo.code]
    assert codes("?governorate=aleppo") == ["FAR"]
    assert alice_api.get("/api/v1/sites/?bbox=1,2,3").status_code == 400


def test_page_size_is_capped(alice_api, demo):
    for n in range(3):
        Site.objects.create(code=f"S{n}", name=f"S{n}")
    body = alice_api.get("/api/v1/sites/?page_size=2").json()
    assert len(body["results"]) == 2 and body["count"] == 4
    assert alice_api.get("/api/v1/sites/?page_size=100000").status_code == 200  # capped at 500, not refused


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_queries_per_request_do_not_grow_with_the_page(alice_api, demo):
    for n in range(120):
        site = Site.objects.create(code=f"Q{n:03d}", name=f"Q{n}")
        _estimates(site)
    small = _queries(alice_api, "/api/v1/sites/?page_size=5")
    large = _queries(alice_api, "/api/v1/sites/?page_size=100")
    assert small == large
    alice_api.post("/api/v1/population-reports/", [report_body(f"q{n}") for n in range(60)], format="json")
    assert _queries(alice_api, "/api/v1/population-reports/?page_size=5") == _queries(
        alice_api, "/api/v1/population-reports/?page_size=50"
    )
    assert _queries(alice_api, "/api/v1/estimates/latest/?page_size=5") == _queries(
        alice_api, "/api/v1/estimates/latest/?page_size=100"
    )


def test_requests_per_token_are_throttled(alice_api, demo, monkeypatch):
    from django.core.cache import cache

    from api.throttling import TokenRateThrottle

    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    statuses = [alice_api.get("/api/v1/whoami/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert alice_api.get("/api/v1/whoami/").json()["title"] == "Too many requests"
    cache.clear()


def test_the_fast_sites_list_matches_the_serializer(alice_api, demo):
    """The list builds rows from dicts for speed; they must equal what the detail view serializes."""
    _estimates(demo)
    listed = alice_api.get("/api/v1/sites/").json()["results"][0]
    detail = alice_api.get(f"/api/v1/sites/{demo.code}/").json()
    assert listed == detail
    assert listed["latest_estimate"]["estimate"] == 8003


def test_a_conditional_update_is_checked_again_under_the_lock(alice_api, alice, demo):
    """Two clients PATCH with the same If-Match: the second must fail, not overwrite."""
    from shelters.models import DepartureNotice
    from shelters.services.errors import StaleRecord
    from shelters.services.evidence import record_update

    response = alice_api.post(
        "/api/v1/departure-notices/",
        {"external_id": "n-race", "site_code": demo.code, "issued_on": "2025-03-16", "issuer": "Base"},
        format="json",
    )
    notice = DepartureNotice.objects.get(pk=response.json()["id"])
    read_at = notice.updated_at
    record_update(record=notice, by=alice, fields={"compulsion": "mandatory"}, expected_updated_at=read_at)
    with pytest.raises(StaleRecord):
        record_update(record=notice, by=alice, fields={"compulsion": "voluntary"}, expected_updated_at=read_at)
    notice.refresh_from_db()
    assert notice.compulsion == "mandatory"


def test_a_negative_quantity_is_a_400_naming_the_field(alice_api, demo):
    response = alice_api.post(
        "/api/v1/aid-distributions/",
        {
            "external_id": "d-neg",
            "site_code": demo.code,
            "distributed_on": "2025-03-16",
            "provider": "X",
            "item": "water",
            "quantity": "-5",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "quantity"


def test_staff_without_an_organisation_can_use_idempotency_keys(demo):
    from shelters.models import User
    from tests.api.conftest import _client_for

    coordinator = User.objects.create_user("no-org", is_staff=True)
    client = _client_for(coordinator)
    first = client.post("/api/v1/population-reports/", report_body("k1"), format="json", HTTP_IDEMPOTENCY_KEY="x")
    again = client.post("/api/v1/population-reports/", report_body("k1"), format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
