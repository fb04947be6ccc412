"""The import commands on the interchange files: every row in, idempotent,
and a file with any bad row rejected whole with line numbers."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from shelters.models import PopulationReport, Site, Source
from tests.conftest import SCENARIOS_DIR

SYNTHETIC_1 = SCENARIOS_DIR / "synthetic-1"
PROJECT_DIR = Path(__file__).resolve().parents[2]
REPORT_HEADER = "external_id,site_code,as_of,reported_on,source,source_grade,method,qualifier,value,low,high,quote"


def _count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _run(command: str, path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _snapshot() -> tuple[int, ...]:
    """Everything an import could touch, including history and sources."""
    return (
        Site.objects.count(),
        Site.history.count(),
        PopulationReport.objects.count(),
        PopulationReport.history.count(),
        Source.objects.count(),
    )


@pytest.fixture
def synthetic_sites(db) -> None:
    _run("import_sites", SYNTHETIC_1 / "sites.csv")


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_synthetic_scenario_imports_every_row_once(db):
    out, _ = _run("import_sites", SYNTHETIC_1 / "sites.csv")
    assert Site.objects.count() == _count_rows(SYNTHETIC_1 / "sites.csv") == 30
    out, _ = _run("import_reports", SYNTHETIC_1 / "reports.csv")
    expected = _count_rows(SYNTHETIC_1 / "reports.csv")
    assert PopulationReport.objects.count() == expected == 1371
    assert f"{expected} created" in out
    # Unknown source slugs became sources with the grade the file gave.
    assert dict(Source.objects.values_list("slug", "grade")) == {
        "authority-statement": "B",
        "camp-registration": "A",
        "news-agency": "C",
        "ngo-partner": "B",
    }

    before = _snapshot()
    out_sites, _ = _run("import_sites", SYNTHETIC_1 / "sites.csv")
    out_reports, _ = _run("import_reports", SYNTHETIC_1 / "reports.csv")
    assert _snapshot() == before
    assert "0 created, 30 unchanged" in out_sites
    assert f"0 created, {expected} unchanged" in out_reports


def test_import_records_history_for_every_row(db, charlie):
    _run("import_sites", SYNTHETIC_1 / "sites.csv", "--user", "charlie")
    _run("import_reports", SYNTHETIC_1 / "reports.csv", "--user", "charlie")
    assert PopulationReport.history.filter(history_type="+").count() == 1371
    record = PopulationReport.history.first()
    assert record.history_user == charlie
    assert record.history_change_reason == "import reports.csv"
    assert Site.history.filter(history_type="+", history_user=charlie).count() == 30


@pytest.mark.parametrize(
    ("bad_row", "field", "message"),
    [
        ("bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,-500,,,", "value", "greater"),
        ("bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,ngo-partner,B,key_informant,range,,3400,2700,", "low", "above"),
        ("bad1,NO-SUCH-SITE,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,500,,,", "site_code", "unknown"),
        ("bad1,SIM-PUB-001-0016,2025-02-30,2025-03-05,news-agency,C,media_claim,approx,500,,,", "as_of", "date"),
        ("bad1,SIM-PUB-001-0016,05/03/2025,2025-03-05,news-agency,C,media_claim,approx,500,,,", "as_of", "YYYY-MM-DD"),
        ("bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,about,500,,,", "qualifier", "one of"),
        ("bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,exact,,,,", "value", "required"),
        (
            "bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,exact,lots,,,",
            "value",
            "whole number",
        ),
    ],
)
def test_one_bad_row_rejects_the_whole_file(synthetic_sites, tmp_path, bad_row, field, message):
    good = SYNTHETIC_1.joinpath("reports.csv").read_text(encoding="utf-8").splitlines()[:6]
    path = _write(tmp_path, "reports.csv", [*good[:3], bad_row, *good[3:]])
    before = _snapshot()
    with pytest.raises(CommandError, match="nothing was imported"):
        _run("import_reports", path)
    assert _snapshot() == before
    # The problem is named by line (the header is line 1) and column.
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_reports", str(path), stdout=out, stderr=err)
    assert f"line 4, {field}:" in err.getvalue()
    assert message in err.getvalue()


def test_every_bad_row_is_listed(synthetic_sites, tmp_path):
    path = _write(
        tmp_path,
        "reports.csv",
        [
            REPORT_HEADER,
            "ok1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,500,,,",
            "bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,-500,,,",
            "bad2,SIM-PUB-001-0016,2025-03-05,2025-03-05,ngo-partner,B,key_informant,range,,3400,2700,",
            "bad3,NOWHERE,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,500,,,",
            "bad4,SIM-PUB-001-0016,2025-13-05,2025-03-05,news-agency,C,media_claim,approx,500,,,",
            "ok1,SIM-PUB-001-0016,2025-03-06,2025-03-06,news-agency,C,media_claim,approx,500,,,",
        ],
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="5 row"):
        call_command("import_reports", str(path), stdout=out, stderr=err)
    lines = err.getvalue()
    for expected in ("line 3, value", "line 4, low", "line 5, site_code", "line 6, as_of", "line 7, external_id"):
        assert expected in lines
    assert PopulationReport.objects.count() == 0
    assert not Source.objects.exists()  # sources named by a rejected file are not created


def test_skip_invalid_imports_the_good_rows_and_lists_the_rest(synthetic_sites, tmp_path):
    path = _write(
        tmp_path,
        "reports.csv",
        [
            REPORT_HEADER,
            "ok1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,500,,,",
            "bad1,SIM-PUB-001-0016,2025-03-05,2025-03-05,social,E,media_claim,approx,-500,,,",
        ],
    )
    out, err = _run("import_reports", path, "--skip-invalid")
    assert "1 created" in out and "1 invalid rows skipped" in out
    assert "skipped line 3, value" in err
    assert list(PopulationReport.objects.values_list("external_id", flat=True)) == ["ok1"]
    # The source only a skipped row named was not created.
    assert list(Source.objects.values_list("slug", flat=True)) == ["news-agency"]


def test_columns_in_any_order_with_an_hxl_row_and_optional_columns_absent(db, tmp_path):
    _write(
        tmp_path,
        "sites.csv",
        [
            "name,site_code,governorate",
            "#loc+name,#loc+code,#adm1+name",
            "School 1,SCH-1,Latakia",
        ],
    )
    _run("import_sites", tmp_path / "sites.csv")
    path = _write(
        tmp_path,
        "reports.csv",
        [
            "qualifier,value,site_code,as_of,source,external_id",
            "#meta+qualifier,#affected+idps+ind,#loc+code,#date,#meta+source,#meta+id",
            "at_least,8000,SCH-1,2025-03-13,mfa,r1",
        ],
    )
    _run("import_reports", path)
    report = PopulationReport.objects.get()
    assert (report.qualifier, report.value, report.site.code, report.source.slug) == ("at_least", 8000, "SCH-1", "mfa")
    assert report.source.grade == ""  # no grade given: left ungraded


def test_missing_required_column_is_named(db, tmp_path):
    path = _write(tmp_path, "reports.csv", ["external_id,site_code,as_of,source", "r1,X,2025-03-13,mfa"])
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_reports", str(path), stdout=out, stderr=err)
    assert "line 1, qualifier: required column is missing" in err.getvalue()


def test_a_changed_report_is_never_overwritten(synthetic_sites, tmp_path):
    row = "r1,SIM-PUB-001-0016,2025-03-05,2025-03-05,news-agency,C,media_claim,approx,{},,,"
    _run("import_reports", _write(tmp_path, "a.csv", [REPORT_HEADER, row.format(500)]))
    before = _snapshot()
    with pytest.raises(CommandError):
        _run("import_reports", _write(tmp_path, "b.csv", [REPORT_HEADER, row.format(600)]))
    assert _snapshot() == before
    assert PopulationReport.objects.get().value == 500


def test_a_changed_site_is_updated_with_history(db, tmp_path):
    _run("import_sites", _write(tmp_path, "a.csv", ["site_code,name,capacity", "S1,School,100"]))
    out, _ = _run("import_sites", _write(tmp_path, "b.csv", ["site_code,name,capacity", "S1,School,250"]))
    assert "1 updated" in out
    site = Site.objects.get()
    assert site.capacity == 250
    assert [h.capacity for h in site.history.order_by("history_date")] == [100, 250]


def test_notices_and_distributions_import_and_link(site, tmp_path):
    notices = _write(
        tmp_path,
        "notices.csv",
        [
            "external_id,site_code,issued_on,issuer,channel,compulsion,source",
            "n1,SY-LAT-HMEIMIM,2025-03-15,Base command,leaflet,unclear,enab-baladi",
        ],
    )
    _run("import_notices", notices)
    distributions = _write(
        tmp_path,
        "distributions.csv",
        [
            "external_id,site_code,distributed_on,provider,item,quantity,unit,households,individuals,purpose,notice_external_id",
            "d1,SY-LAT-HMEIMIM,2025-03-15,Base command,food_package,,package,,,departure_support,n1",
            "d2,SY-LAT-HMEIMIM,2025-03-16,Base command,food_package,100,package,50,40,general,",
        ],
    )
    with pytest.raises(CommandError):
        _run("import_distributions", distributions)  # d2: more households than individuals
    text = distributions.read_text().replace("100,package,50,40", "100,package,40,50")
    distributions.write_text(text)
    _run("import_distributions", distributions)
    d1 = site.aid_distributions.get(external_id="d1")
    assert d1.notice.external_id == "n1"
    assert d1.quantity is None and d1.households is None  # unknown stays unknown, not 0


def test_command_exits_non_zero_with_a_one_line_error(tmp_path):
    """The operator contract, through a real process: exit status and the last line."""
    path = _write(tmp_path, "sites.csv", ["site_code,name,latitude,longitude", "S1,School,95,35"])
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], capture_output=True, text=True, cwd=PROJECT_DIR, env=env, check=False
        )

    assert manage("migrate", "--no-input").returncode == 0
    completed = manage("import_sites", str(path))
    assert completed.returncode == 1
    assert "line 2, latitude: Latitude must be between -90 and 90." in completed.stderr
    assert completed.stderr.strip().splitlines()[-1] == (
        "CommandError: sites.csv: 1 problem(s) in 1 row(s); nothing was imported"
    )
    assert manage("import_sites", str(tmp_path / "missing.csv")).stderr.strip().startswith("CommandError: cannot read")


def test_a_negative_quantity_is_a_listed_row_not_a_crash(site, tmp_path):
    path = _write(
        tmp_path,
        "distributions.csv",
        ["external_id,site_code,distributed_on,provider,item,quantity", "d1,SY-LAT-HMEIMIM,2025-03-15,X,water,-5"],
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_distributions", str(path), stdout=out, stderr=err)
    assert "line 2, quantity: Quantities and counts cannot be negative." in err.getvalue()
