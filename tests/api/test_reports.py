"""Bulk ingest that loses nothing: validated whole, idempotent, scoped."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shelters.models import PopulationReport, ReconciliationState
from tests.api.conftest import report_body

URL = "/api/v1/population-reports/"


def test_posting_1000_reports_in_one_request(alice_api, demo):
    items = [report_body(f"bulk-{n}", value=8000 + n) for n in range(1000)]
    response = alice_api.post(URL, items, format="json")
    assert response.status_code == 201, response.json()
    assert len(response.json()) == 1000
    assert PopulationReport.objects.filter(external_id__startswith="bulk-").count() == 1000
    assert PopulationReport.history.filter(external_id__startswith="bulk-", history_type="+").count() == 1000
    # Each history row is a full copy of its report, with who and why.
    report = PopulationReport.objects.get(external_id="bulk-417")
    record = PopulationReport.history.get(id=report.pk)
    assert (record.value, record.site_id, record.source_id, record.as_of, record.created_at) == (
        8417,
        demo.pk,
        report.source_id,
        report.as_of,
        report.created_at,
    )
    assert record.history_user.username == "alice" and record.history_change_reason == "submitted through the API"
    assert ReconciliationState.objects.get(site=demo).pending  # one request for the site


def test_a_batch_costs_no_query_per_report(alice_api, demo):
    """No query per report: not to validate, store or answer (the engine's assessment included).

    The same count, give or take the database's batching of large INSERTs."""
    alice_api.post(URL, [report_body("warm-up")], format="json")  # the site's first request creates its state row
    counts = []
    for size in (2, 40):
        items = [report_body(f"size-{size}-{n}", value=8000 + n) for n in range(size)]
        with CaptureQueriesContext(connection) as queries:
            response = alice_api.post(URL, items, format="json")
        assert response.status_code == 201 and response.json()[0]["engine_weight"] is None
        counts.append(len(queries))
    # SQLite splits the 40-row INSERTs in batches (its parameter limit); one query per report would add 38.
    assert counts[1] - counts[0] <= 2, counts


def test_one_bad_item_saves_nothing_and_is_named(alice_api, demo):
    items = [report_body(f"bulk-{n}") for n in range(1000)]
    items[417] = report_body("bulk-417", qualifier="range", value=None, low=9000, high=8000)
    items[901] = report_body("bulk-901", site_code="NOWHERE")
    before = PopulationReport.objects.count()
    response = alice_api.post(URL, items, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    fields = {(e["field"], e["message"]) for e in response.json()["errors"]}
    assert ("417.low", "The low end of a range cannot be above the high end.") in fields
    assert ("901.site_code", "Unknown site code 'NOWHERE'.") in fields
    assert PopulationReport.objects.count() == before


def test_type_errors_are_named_by_index_too(alice_api, demo):
    response = alice_api.post(
        URL, [report_body("a"), report_body("b", value="lots", as_of="13/03/2025")], format="json"
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"1.value", "1.as_of"}


def test_a_replayed_idempotency_key_saves_nothing_twice(alice_api, demo):
    items = [report_body(f"idem-{n}") for n in range(3)]
    first = alice_api.post(URL, items, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    again = alice_api.post(URL, items, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PopulationReport.objects.filter(external_id__startswith="idem-").count() == 3
    # The same key with a different body is refused.
    changed = alice_api.post(URL, [report_body("idem-9")], format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    assert changed.status_code == 422
    # Keys are per organisation: Bob may use the same one.
    assert PopulationReport.objects.count() == 5


def test_idempotency_keys_are_scoped_to_the_organisation(alice_api, bob_api, demo):
    assert alice_api.post(URL, report_body("x"), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert bob_api.post(URL, report_body("x"), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert PopulationReport.objects.filter(external_id="x").count() == 2


def test_an_in_flight_duplicate_is_a_conflict(alice_api, alice, demo):
    from api.idempotency import _fingerprint
    from api.models import IdempotencyKey

    body = report_body("flight")
    # Simulate the first request still running: its key is claimed, not finished.
    request = type("R", (), {"method": "POST", "path": URL, "data": body})()
    IdempotencyKey.objects.create(organization=alice.organization, key="busy", fingerprint=_fingerprint(request))
    response = alice_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert not PopulationReport.objects.filter(external_id="flight").exists()


def test_external_id_is_unique_per_organisation(alice_api, demo):
    assert alice_api.post(URL, report_body("dup"), format="json").status_code == 201
    response = alice_api.post(URL, report_body("dup"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "external_id"
    within = alice_api.post(URL, [report_body("twice"), report_body("twice")], format="json")
    assert within.status_code == 400 and within.json()["errors"][0]["field"] == "1.external_id"


def test_server_owned_fields_cannot_be_set(alice_api, bob_org, demo):
    body = report_body(
        "owned", status="verified", engine_weight=0.9, is_outlier=True, organization=bob_org.slug, id=999999
    )
    response = alice_api.post(URL, body, format="json")
    assert response.status_code == 201
    report = PopulationReport.objects.get(external_id="owned")
    assert (report.status, report.engine_weight, report.is_outlier, report.organization.slug) == (
        "received",
        None,
        False,
        "alice-ngo",
    )
    assert report.pk != 999999


def test_retract_with_a_reason(alice_api, demo):
    pk = alice_api.post(URL, report_body("to-retract"), format="json").json()["id"]
    assert alice_api.post(f"{URL}{pk}/retract/", {}, format="json").status_code == 400
    response = alice_api.post(f"{URL}{pk}/retract/", {"reason": "counted twice"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "retracted"


def test_filters(alice_api, demo):
    alice_api.post(URL, [report_body("f1", as_of="2025-03-14"), report_body("f2", as_of="2025-03-20")], format="json")
    ids = lambda query: [r["external_id"] for r in alice_api.get(URL + query).json()["results"]]  # noqa: E731
    assert ids("?start=2025-03-15") == ["f2"]
    assert ids("?site=SY-LAT-HMEIMIM&source=alpha-field-team&status=received") == ["f1", "f2"]
    assert ids("?site=ELSEWHERE") == []


def test_small_breakdown_cells_are_suppressed_for_other_organisations(alice_api, bob, demo):
    from tests.api.conftest import _client_for

    alice_api.post(URL, report_body("cells", female=3, male=8000, children=120), format="json")
    bob.is_staff = True  # a coordinator from another organisation sees every report...
    bob.save()
    row = _client_for(bob).get(URL + "?external_id=cells").json()["results"][0]
    assert row["female"] is None and row["male"] == 8000 and row["children"] == 120
    assert row["suppressed"] == ["female"]  # ...but not cells small enough to identify people
    own = alice_api.get(URL + "?external_id=cells").json()["results"][0]
    assert own["female"] == 3 and own["suppressed"] == []


@pytest.mark.parametrize("size", [1001])
def test_too_many_items(alice_api, demo, size):
    response = alice_api.post(URL, [report_body(f"n{n}") for n in range(size)], format="json")
    assert response.status_code == 400
    assert "At most 1000 items" in response.json()["errors"][0]["message"]
