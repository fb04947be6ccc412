"""Spreadsheet import in the admin: upload, dry-run preview, confirm; CSV and XLSX."""

import io
import os
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from shelters.importing import read_table
from shelters.models import PopulationReport, Site, Source, User
from shelters.services.imports import purge_staged, stage_upload, staged_file
from shelters.services.organizations import default_organization

IMPORT_URL = "/admin/import/"
REPORT_HEADER = ["external_id", "site_code", "as_of", "source", "source_grade", "qualifier", "value", "quote"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _csv(name: str, rows: list[list[str]]) -> SimpleUploadedFile:
    text = "\n".join(",".join(row) for row in rows) + "\n"
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _snapshot() -> tuple[int, ...]:
    return (
        PopulationReport.objects.count(),
        PopulationReport.history.count(),
        Source.objects.count(),
        Site.objects.count(),
        Site.history.count(),
    )


def _staged(media_root: Path) -> list[Path]:
    directory = media_root / "imports"
    return sorted(directory.iterdir()) if directory.exists() else []


def _upload(client, kind: str, file: SimpleUploadedFile):
    return client.post(IMPORT_URL, {"kind": kind, "file": file})


def test_clean_csv_preview_writes_nothing_then_confirm_imports(staff_client, charlie, site, source, media_root):
    upload = _csv(
        "reports.csv",
        [
            REPORT_HEADER,
            ["r1", site.code, "2025-03-08", source.slug, "", "at_least", "8000", '"more than 8,000"'],
            ["r2", site.code, "2025-03-09", "sana", "B", "approx", "7500", ""],
        ],
    )
    before = _snapshot()
    response = _upload(staff_client, "reports", upload)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm import" in html
    result = response.context["result"]
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert result.sources_created == ["sana"]
    assert "sana" in html
    # The preview went through every write and undid them.
    assert _snapshot() == before
    assert len(_staged(media_root)) == 1

    response = staff_client.post(IMPORT_URL, {"token": response.context["token"]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:shelters_populationreport_changelist")
    assert "Imported reports.csv: 2 rows, 2 created, 0 unchanged, new sources: sana." in response.content.decode()
    reports = PopulationReport.objects.order_by("external_id")
    assert [(r.external_id, r.value, r.source.slug) for r in reports] == [
        ("r1", 8000, source.slug),
        ("r2", 7500, "sana"),
    ]
    assert {r.organization for r in reports} == {default_organization()}
    record = PopulationReport.history.get(external_id="r1")
    assert record.history_user == charlie
    assert record.history_change_reason == "import reports.csv"
    assert _staged(media_root) == []


def test_a_preview_is_confirmed_once(staff_client, site, source):
    upload = _csv("reports.csv", [REPORT_HEADER, ["r1", site.code, "2025-03-08", source.slug, "", "exact", "10", ""]])
    token = _upload(staff_client, "reports", upload).context["token"]
    staff_client.post(IMPORT_URL, {"token": token})
    response = staff_client.post(IMPORT_URL, {"token": token}, follow=True)
    assert "expired or was already imported" in response.content.decode()
    # A token the session never issued (or a path) names nothing.
    response = staff_client.post(IMPORT_URL, {"token": "../../db.sqlite3"}, follow=True)
    assert "expired or was already imported" in response.content.decode()
    assert PopulationReport.objects.count() == 1


def test_xlsx_upload_previews_and_imports(staff_client, charlie, media_root):
    content = _xlsx(
        [
            ["site_code", "name", "site_type", "latitude", "longitude", "capacity", "opened_on"],
            ["#loc+code", "#loc+name", "#loc+type", "#geo+lat", "#geo+lon", "#capacity", "#date+opened"],
            ["SY-LAT-A", "School A", "collective_centre", 35.52521, 36.00641, 800, date(2025, 3, 7)],
            ["SY-LAT-B", "Camp B", "camp", None, None, None, None],
        ]
    )
    upload = SimpleUploadedFile("sites.xlsx", content)
    response = _upload(staff_client, "sites", upload)
    assert response.status_code == 200
    assert response.context["errors"] == ()
    assert "Confirm import" in response.content.decode()
    assert response.context["result"].created == 2
    assert Site.objects.count() == 0

    response = staff_client.post(IMPORT_URL, {"token": response.context["token"]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:shelters_site_changelist")
    a = Site.objects.get(code="SY-LAT-A")
    assert (a.capacity, a.opened_on, a.latitude) == (800, date(2025, 3, 7), Decimal("35.52521"))
    assert Site.objects.get(code="SY-LAT-B").capacity is None  # an empty cell is unknown, not 0
    assert Site.history.get(code="SY-LAT-A").history_change_reason == "import sites.xlsx"
    assert Site.history.get(code="SY-LAT-A").history_user == charlie


def test_bad_rows_are_listed_by_row_and_column_and_nothing_is_written(staff_client, site, source, media_root):
    upload = _csv(
        "reports.csv",
        [
            REPORT_HEADER,
            ["ok", site.code, "2025-03-08", source.slug, "", "exact", "10", ""],
            ["bad1", site.code, "2025-03-08", source.slug, "", "exact", "-5", ""],
            ["bad2", "NOWHERE", "2025-03-08", "new-source", "", "exact", "10", ""],
            ["bad3", site.code, "2025-02-30", source.slug, "", "exact", "10", ""],
        ],
    )
    before = _snapshot()
    response = _upload(staff_client, "reports", upload)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm import" not in html and 'name="token"' not in html
    problems = {(e.line, e.field) for e in response.context["errors"]}
    assert problems == {(3, "value"), (4, "site_code"), (5, "as_of")}
    assert "<td>3</td><td><code>value</code></td>" in html
    assert "<td>5</td><td><code>as_of</code></td><td>&#x27;2025-02-30&#x27; is not a valid calendar date</td>" in html
    assert _snapshot() == before
    assert _staged(media_root) == []


def test_a_missing_required_column_is_named(staff_client, site):
    upload = _csv("reports.csv", [["external_id", "site_code", "as_of"], ["r1", site.code, "2025-03-08"]])
    response = _upload(staff_client, "reports", upload)
    assert {(e.line, e.field) for e in response.context["errors"]} == {(1, "source"), (1, "qualifier")}
    assert "required column is missing from the header" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reports.txt", b"external_id\n", "File extension \u201ctxt\u201d is not allowed"),
        ("reports.csv", "external_id,site_code\nr1,caf\xe9\n".encode("latin-1"), "reports.csv is not UTF-8 text"),
        ("reports.xlsx", b"not a workbook at all", "reports.xlsx is not a readable XLSX workbook"),
        ("reports.csv", b"", "The submitted file is empty."),
    ],
)
def test_a_file_of_the_wrong_kind_gets_a_clear_message(staff_client, media_root, name, content, message):
    response = _upload(staff_client, "reports", SimpleUploadedFile(name, content))
    assert response.status_code == 200
    assert message in response.context["form"].errors["file"][0]
    assert "Confirm import" not in response.content.decode()
    assert _staged(media_root) == []
    assert PopulationReport.objects.count() == 0


def test_non_staff_users_are_refused(client, alice, site, source):
    client.force_login(alice)
    upload = _csv("reports.csv", [REPORT_HEADER, ["r1", site.code, "2025-03-08", source.slug, "", "exact", "10", ""]])
    response = _upload(client, "reports", upload)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    assert client.get(IMPORT_URL).status_code == 302
    assert PopulationReport.objects.count() == 0


def test_staff_may_import_only_what_they_may_add(client, site, source):
    clerk = User.objects.create_user("clerk", password="clerk-password", is_staff=True)
    client.force_login(clerk)
    assert client.get(IMPORT_URL).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="add_site"))
    clerk = User.objects.get(pk=clerk.pk)  # permissions are cached on the instance
    client.force_login(clerk)
    assert [kind for kind, _ in client.get(IMPORT_URL).context["form"].fields["kind"].choices] == ["sites"]
    upload = _csv("reports.csv", [REPORT_HEADER, ["r1", site.code, "2025-03-08", source.slug, "", "exact", "10", ""]])
    response = _upload(client, "reports", upload)
    assert "kind" in response.context["form"].errors
    assert PopulationReport.objects.count() == 0


def test_the_changelists_link_to_the_import(staff_client, site):
    lists = [("admin:shelters_populationreport_changelist", "reports"), ("admin:shelters_site_changelist", "sites")]
    for name, kind in lists:
        html = staff_client.get(reverse(name)).content.decode()
        assert f'href="{IMPORT_URL}?kind={kind}"' in html and "Import a spreadsheet" in html
    response = staff_client.get(f"{IMPORT_URL}?kind=sites")
    assert response.status_code == 200 and response.context["form"]["kind"].value() == "sites"


def test_read_table_reads_xlsx_with_an_hxl_row_like_the_same_csv(tmp_path):
    csv_text = (
        "site_code,name,latitude,capacity,opened_on,notes\n"
        "#loc+code,#loc+name,#geo+lat,#capacity,#date+opened,\n"
        "SY-A,School A,35.52521,8000,2025-03-07,first\n"
        "\n"
        "SY-B,Camp B,,,,\n"
    )
    xlsx = _xlsx(
        [
            ["site_code", "name", "latitude", "capacity", "opened_on", "notes"],
            ["#loc+code", "#loc+name", "#geo+lat", "#capacity", "#date+opened", None],
            ["SY-A", "School A", 35.52521, 8000.0, date(2025, 3, 7), "first"],
            [],
            ["SY-B", "Camp B", None, None, None, None],
        ]
    )
    (tmp_path / "sites.csv").write_text(csv_text, encoding="utf-8")
    (tmp_path / "sites.xlsx").write_bytes(xlsx)
    from_csv, from_xlsx = read_table(tmp_path / "sites.csv"), read_table(tmp_path / "sites.xlsx")
    assert from_xlsx.columns == from_csv.columns
    assert from_xlsx.hxl_tags == from_csv.hxl_tags
    assert from_xlsx.rows == from_csv.rows
    assert [row.line for row in from_xlsx.rows] == [3, 5]
    # The zip signature is enough, whatever the name says.
    assert read_table(io.BytesIO(xlsx), name="upload").rows == from_csv.rows


def test_the_import_commands_accept_xlsx(db, tmp_path):
    path = tmp_path / "sites.xlsx"
    path.write_bytes(_xlsx([["site_code", "name"], ["SY-A", "School A"]]))
    out = io.StringIO()
    call_command("import_sites", str(path), stdout=out)
    assert "1 created" in out.getvalue()
    assert Site.objects.filter(code="SY-A").exists()


def test_unconfirmed_uploads_are_deleted_after_a_day(media_root):
    token = stage_upload(io.BytesIO(b"site_code,name\n"))
    path = media_root / "imports" / token
    with staged_file(token) as handle:
        assert handle.read() == b"site_code,name\n"
    old = time.time() - 25 * 3600
    os.utime(path, (old, old))
    assert staged_file(token) is None  # too old to confirm, even before the purge
    purge_staged()
    assert not path.exists()
