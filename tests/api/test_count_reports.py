"""Count reports over the API: everyone reads the figures, staff ask for reports and get every file."""

import csv
import io
from datetime import date

import pytest

from shelters.models import AidDistribution, CountReport
from shelters.services.count_reports import count_report_generate, count_report_request, period_containing
from shelters.services.reconciliation import reconcile_sites

URL = "/api/v1/count-reports/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def report(demo, bob_org) -> CountReport:
    AidDistribution.objects.create(
        organization=bob_org, site=demo, distributed_on=date(2025, 3, 13), provider="Bob Agency", item="water"
    )
    reconcile_sites(site_ids=[demo.pk], until=date(2025, 3, 20))
    created, _ = count_report_request(period=period_containing("day", date(2025, 3, 13)), enqueue=False)
    return count_report_generate(report_id=created.pk)


def _download(client, url: str) -> tuple[int, bytes]:
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response.status_code, body


def test_partners_read_totals_and_get_the_per_site_files(alice_api, report, demo):
    page = alice_api.get(URL).json()
    row = next(r for r in page["results"] if r["id"] == report.pk)
    assert row["status"] == "ready" and row["totals"]["estimate"] == report.summary["totals"]["estimate"]
    assert set(row["files"]) == {"csv", "hxl"}
    status, body = _download(alice_api, row["files"]["csv"])
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert rows[0]["site_code"] == demo.code
    assert int(rows[0]["estimate"]) == report.summary["totals"]["estimate"] == 8485
    # The document and workbook list other organisations' records: staff only.
    assert alice_api.get(f"{URL}{report.pk}/files/pdf/").status_code == 404
    report.summary["site_charts"] = [{"code": demo.code, "series": [], "reports": [{"date": "2025-03-13", "value": 1}]}]
    report.save(update_fields=["summary"])
    detail = alice_api.get(f"{URL}{report.pk}/").json()
    assert detail["summary"]["aid"]["count"] == 1 and "distributions" not in detail["summary"]["aid"]
    # Raw reports behind the charts are other organisations' records too.
    assert detail["summary"]["site_charts"] == [{"code": demo.code, "series": []}]


def test_staff_get_every_file_and_the_full_summary(staff_api, report):
    detail = staff_api.get(f"{URL}{report.pk}/").json()
    assert set(detail["files"]) == {"csv", "hxl", "xlsx", "html", "pdf"}
    assert detail["summary"]["aid"]["distributions"][0]["provider"] == "Bob Agency"
    status, body = _download(staff_api, detail["files"]["pdf"])
    assert status == 200 and body.startswith(b"%PDF")
    assert staff_api.get(f"{URL}{report.pk}/files/nonsense/").status_code == 404


def test_staff_ask_for_a_report_partners_cannot(
    staff_api, alice_api, anonymous_api, demo, django_capture_on_commit_callbacks
):
    body = {"scope": "sites", "site_codes": [demo.code], "period_kind": "week", "day": "2025-03-13"}
    assert anonymous_api.get(URL).status_code == 401
    assert alice_api.post(URL, body, format="json").status_code == 403
    with django_capture_on_commit_callbacks() as enqueued:
        response = staff_api.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["site_codes"] == [demo.code]
    assert (response.json()["period_start"], response.json()["period_end"]) == ("2025-03-10", "2025-03-16")
    assert len(enqueued) == 1  # generation enqueued after commit


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "governorate", "day": "2025-03-13"}, "governorate"),
        ({"scope": "sites", "site_codes": ["NOWHERE"], "day": "2025-03-13"}, "site_codes"),
        ({"scope": "all", "day": "13/03/2025"}, "day"),
        ({"scope": "everything", "day": "2025-03-13"}, "scope"),
        ({"scope": "governorate", "governorate": "x" * 101, "day": "2025-03-13"}, "governorate"),
        ({"scope": "all", "period_kind": "week", "day": "9999-12-31"}, "day"),
    ],
)
def test_a_bad_request_names_the_field(staff_api, demo, body, field):
    response = staff_api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not CountReport.objects.exists()
