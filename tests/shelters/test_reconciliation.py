"""The engine's adapter: estimates stored per site and day, idempotent, following
every change of evidence, with bursts of requests coalesced."""

import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from shelters.engine import SourceProfile
from shelters.models import PopulationEstimate, PopulationReport, ReconciliationState, Site, Source
from shelters.services.reconciliation import (
    reconcile_everything,
    reconcile_site,
    reconcile_sites,
    reconciliation_request,
    requeue_stale_requests,
)
from shelters.services.reports import report_create, report_reject, report_retract
from tests.conftest import SCENARIOS_DIR

UNTIL = date(2025, 3, 31)


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _series(site: Site) -> list[tuple]:
    return list(
        PopulationEstimate.objects.filter(site=site)
        .order_by("date")
        .values_list("date", "estimate", "low", "high", "flags", "contributions", "computed_at")
    )


@pytest.fixture
def hmeimim(db) -> Site:
    _call("load_demo")
    return Site.objects.get(code="SY-LAT-HMEIMIM")


def test_hmeimim_bounds_give_an_estimate_between_them(hmeimim):
    reconcile_everything(until=UNTIL)
    day = PopulationEstimate.objects.get(site=hmeimim, date=date(2025, 3, 13))
    assert 8000 <= day.estimate <= 9000
    # Both bounds agree, so the band is (close to) the interval they give.
    assert 7800 <= day.low <= 8000 and 9000 <= day.high <= 9200
    at_least, at_most = hmeimim.reports.order_by("external_id")
    assert {pk for pk, _ in day.contributions} == {at_least.pk, at_most.pk}
    assert sum(weight for _, weight in day.contributions) == pytest.approx(1, abs=1e-3)
    # One series from the first report through --until; the band widens with time.
    series = _series(hmeimim)
    assert (series[0][0], series[-1][0], len(series)) == (date(2025, 3, 13), UNTIL, 19)
    widths = [high - low for _, _, low, high, *_ in series]
    assert widths == sorted(widths) and widths[-1] > 2 * widths[0]
    assert "stale" in series[-1][4]
    at_least.refresh_from_db()
    assert at_least.engine_weight is not None and at_least.is_outlier is False


def test_rerunning_changes_nothing(hmeimim):
    reconcile_everything(until=UNTIL)
    first = _series(hmeimim)
    stats = reconcile_everything(until=UNTIL)
    assert (stats.estimates_written, stats.estimates_deleted, stats.reports_reassessed) == (0, 0, 0)
    assert _series(hmeimim) == first  # computed_at included: rows were not even rewritten


def test_a_site_whose_input_did_not_change_is_not_recomputed(hmeimim, charlie):
    first = reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    assert (first.sites, first.sites_computed) == (1, 1)
    # Same evidence, profiles, engine and last day: the engine does not even run.
    assert reconcile_site(site_id=hmeimim.pk, until=UNTIL).sites_computed == 0
    # Each thing the series depends on makes it count again.
    assert reconcile_site(site_id=hmeimim.pk, until=UNTIL + timedelta(days=1)).sites_computed == 1
    Source.objects.filter(slug="russian-mfa").update(grade="E")
    assert reconcile_site(site_id=hmeimim.pk, until=UNTIL).sites_computed == 1
    learned = {"russian-mfa": SourceProfile(source="russian-mfa", log_bias=0.05, n=40)}
    assert reconcile_sites(site_ids=[hmeimim.pk], until=UNTIL, profiles=learned).sites_computed == 1
    assert reconcile_sites(site_ids=[hmeimim.pk], until=UNTIL, profiles=learned).sites_computed == 0
    at_most = hmeimim.reports.order_by("external_id").last()
    report_reject(report=at_most, by=charlie, reason="test")
    stats = reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    assert stats.sites_computed == 1 and stats.estimates_written > 0
    # --force recomputes anyway, and writes nothing when nothing moved.
    assert "0 recomputed" in _call("reconcile", "--site", "SY-LAT-HMEIMIM", "--until", UNTIL.isoformat())
    out = _call("reconcile", "--site", "SY-LAT-HMEIMIM", "--until", UNTIL.isoformat(), "--force")
    assert "1 recomputed" in out and "0 estimate(s) written" in out


def test_a_rejected_report_has_no_influence(hmeimim, charlie):
    at_least, at_most = hmeimim.reports.order_by("external_id")
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    both = PopulationEstimate.objects.get(site=hmeimim, date=date(2025, 3, 13))
    report_reject(report=at_most, by=charlie, reason="test")
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    only_bound = PopulationEstimate.objects.get(site=hmeimim, date=date(2025, 3, 13))
    assert only_bound.estimate >= 8000 and only_bound.high > both.high  # no upper bound any more
    assert {pk for pk, _ in only_bound.contributions} == {at_least.pk}
    at_most.refresh_from_db()
    assert (at_most.engine_weight, at_most.is_outlier) == (None, False)


def test_retracting_every_report_removes_the_series(hmeimim, charlie):
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    for report in hmeimim.reports.all():
        report_retract(report=report, by=charlie, reason="withdrawn")
    stats = reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    assert stats.estimates_deleted == 19
    assert not PopulationEstimate.objects.filter(site=hmeimim).exists()


def test_a_closed_site_has_no_estimates_after_closing(hmeimim):
    hmeimim.closed_on = date(2025, 3, 20)
    hmeimim.status = Site.Status.CLOSED
    hmeimim.save()
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    assert PopulationEstimate.objects.filter(site=hmeimim).latest("date").date == date(2025, 3, 20)


def test_a_later_report_revises_the_series(hmeimim):
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    report = report_create(
        organization=hmeimim.reports.first().organization,
        site=hmeimim,
        source=Source.objects.get(slug="hmeimim-command"),
        as_of=date(2025, 3, 20),
        qualifier="exact",
        method="registration",
        value=5200,
    )
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    day = PopulationEstimate.objects.get(site=hmeimim, date=date(2025, 3, 20))
    assert abs(day.estimate - 5200) < 600
    assert report.pk in {pk for pk, _ in day.contributions}


def test_bursts_of_reports_coalesce_into_one_task(hmeimim, django_capture_on_commit_callbacks):
    source = Source.objects.get(slug="sana")
    organization = hmeimim.reports.first().organization
    # The demo import asked already and nothing ran it: a further burst adds nothing.
    with django_capture_on_commit_callbacks() as callbacks:
        report_create(organization=organization, site=hmeimim, source=source, as_of=UNTIL, qualifier="approx", value=1)
    assert callbacks == []
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    with django_capture_on_commit_callbacks() as callbacks:
        for day in range(5):
            report_create(
                organization=organization,
                site=hmeimim,
                source=source,
                as_of=date(2025, 3, 14) + timedelta(days=day),
                qualifier="approx",
                value=8000,
            )
    assert len(callbacks) == 1  # one reconciliation task for five reports
    state = ReconciliationState.objects.get(site=hmeimim)
    assert state.pending
    # Once a run has started (pending cleared), a new report asks again.
    reconcile_site(site_id=hmeimim.pk, until=UNTIL)
    assert not ReconciliationState.objects.get(site=hmeimim).pending
    assert reconciliation_request(site_ids=[hmeimim.pk]) == [hmeimim.pk]
    assert reconciliation_request(site_ids=[hmeimim.pk]) == []


def test_a_request_whose_task_was_lost_is_requeued(hmeimim, django_capture_on_commit_callbacks):
    reconciliation_request(site_ids=[hmeimim.pk])
    assert requeue_stale_requests() == []
    ReconciliationState.objects.filter(site=hmeimim).update(requested_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert requeue_stale_requests() == [hmeimim.pk]
    assert len(callbacks) == 1


def test_importing_reports_asks_for_each_touched_site_once(db, django_capture_on_commit_callbacks):
    _call("import_sites", str(SCENARIOS_DIR / "synthetic-1" / "sites.csv"))
    with django_capture_on_commit_callbacks() as callbacks:
        _call("import_reports", str(SCENARIOS_DIR / "synthetic-1" / "reports.csv"))
    touched = PopulationReport.objects.values("site").distinct().count()
    assert len(callbacks) == touched == 30


def test_reconcile_and_export_commands(hmeimim, tmp_path):
    out = _call("reconcile", "--until", "2025-03-20")
    assert "reconciled 1 site(s) from 2 report(s)" in out and "8 estimate(s) written" in out
    assert "0 estimate(s) written" in _call("reconcile", "--site", "SY-LAT-HMEIMIM", "--until", "2025-03-20")
    target = tmp_path / "estimates.csv"
    _call("export_estimates", "--out", str(target), "--start", "2025-03-13", "--end", "2025-03-14", "--hxl")
    lines = target.read_text().splitlines()
    assert lines[0] == "site_code,date,estimate,low,high,flags"
    assert lines[1].startswith("#loc+code,#date,")
    assert len(lines) == 4 and lines[2].startswith("SY-LAT-HMEIMIM,2025-03-13,")


@pytest.mark.parametrize("args", [["--until", "13/03/2025"], ["--site", "NOPE"]])
def test_reconcile_rejects_bad_input(db, args):
    with pytest.raises(Exception, match=r"YYYY-MM-DD|no site"):
        _call("reconcile", *args)
