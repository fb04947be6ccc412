"""Reconciliation through real worker processes: a new report's estimate is
updated in the background, and a worker killed mid-run (SIGKILL) leaves every
site with its old or its new series, never a mix; the redelivered task then
finishes the job."""

import io
import os
import signal
import threading
import time
import uuid
from datetime import date

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, transaction

from config import celery_app
from shelters import engine
from shelters.models import Organization, PopulationEstimate, ReconciliationState, Site, Source
from shelters.selectors.reconciliation import site_inputs, source_profiles
from shelters.services.reconciliation import reconcile_everything, reconcile_sites
from shelters.services.reports import report_create
from shelters.tasks import reconcile_sites_task
from tests.conftest import SCENARIOS_DIR
from tests.support.processes import child_env, running, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def _worker(hostname: str) -> list[str]:
    return ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1", "--hostname", hostname]


def _quiet(*args: str) -> None:
    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())


def test_a_new_report_updates_the_estimate_in_the_background(tmp_path):
    _quiet("load_demo")
    site = Site.objects.get(code="SY-LAT-HMEIMIM")
    log = tmp_path / "worker.log"
    with running(_worker(f"rec-{uuid.uuid4().hex[:6]}@localhost"), log, child_env()):
        # The demo import asked for a run; the worker answers it.
        wait_for(lambda: PopulationEstimate.objects.filter(site=site).exists(), timeout=90, what="estimates", log=log)
        with transaction.atomic():
            report = report_create(
                organization=site.reports.first().organization,
                site=site,
                source=Source.objects.get(slug="hmeimim-command"),
                as_of=date(2025, 3, 18),
                qualifier="exact",
                method="registration",
                value=6100,
            )

        def updated():
            day = PopulationEstimate.objects.filter(site=site, date=date(2025, 3, 18)).first()
            return day and report.pk in {pk for pk, _ in day.contributions} and day

        day = wait_for(updated, timeout=60, what="the estimate to include the new report", log=log)
    assert abs(day.estimate - 6100) < 800
    assert not ReconciliationState.objects.get(site=site).pending


def _series_by_site() -> dict[int, list[tuple]]:
    series: dict[int, list[tuple]] = {}
    for row in PopulationEstimate.objects.order_by("site_id", "date").values_list(
        "site_id", "date", "estimate", "low", "high", "flags", "contributions"
    ):
        series.setdefault(row[0], []).append(row[1:])
    return series


def _reference(until: date) -> dict[int, list[tuple]]:
    """What the engine says, computed here in-process from the same reports and profiles."""
    results = engine.reconcile_many(list(site_inputs()), until=until, profiles=source_profiles())
    return {
        int(result.site): [
            (
                d.day,
                d.estimate,
                d.low,
                d.high,
                sorted(d.flags),
                [[int(k), round(w, 4)] for k, w in d.contributions],
            )
            for d in result.estimates
        ]
        for result in results
    }


def _run_in_progress() -> bool:
    """True while another transaction holds the reconciliation locks (PostgreSQL)."""
    try:
        with transaction.atomic():
            list(ReconciliationState.objects.select_for_update(nowait=True).all()[:1])
    except OperationalError:
        return True
    return False


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://") or connection.vendor != "postgresql",
    reason="redelivery after SIGKILL needs Redis (the filesystem transport consumes on receipt) "
    "and row locks need PostgreSQL",
)
def test_a_worker_killed_mid_run_leaves_old_or_new_series_and_the_rerun_completes(tmp_path):
    for scenario in ("synthetic-1", "synthetic-2", "synthetic-3"):
        # Each scenario numbers its reports from r0000000: one organisation each.
        Organization.objects.create(slug=scenario, name=scenario)
        _quiet("import_sites", str(SCENARIOS_DIR / scenario / "sites.csv"))
        _quiet("import_reports", str(SCENARIOS_DIR / scenario / "reports.csv"), "--organization", scenario)
    old_until, new_until = date(2025, 4, 29), date(2025, 7, 31)
    reconcile_everything(until=old_until)
    old = _series_by_site()
    ids = sorted(old)
    env = child_env(
        CELERY_VISIBILITY_TIMEOUT="4", CELERY_UNACKED_RESTORE_INTERVAL="1", CELERY_UNACKED_RESTORE_THROTTLE="1"
    )
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    celery_app.control.purge()
    with running(_worker(f"victim-{uuid.uuid4().hex[:6]}@localhost"), first_log, env) as victim:
        # One task, one transaction, every site: long enough to be caught in the middle.
        reconcile_sites_task.delay(ids, new_until.isoformat())
        wait_for(_run_in_progress, timeout=90, what="the run to start", log=first_log)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=15)
    # Right after the kill: every site still has exactly its old series.
    assert _series_by_site() == old
    # A new worker gets the unacknowledged task back and completes it.
    with running(_worker(f"heir-{uuid.uuid4().hex[:6]}@localhost"), second_log, env):
        wait_for(
            lambda: PopulationEstimate.objects.filter(date=new_until).count() == len(ids),
            timeout=120,
            what="the redelivered task to finish",
            log=second_log,
        )
    after = _series_by_site()
    reference = _reference(new_until)
    assert {site: [row[:5] for row in rows] for site, rows in after.items()} == {
        site: [row[:5] for row in rows] for site, rows in reference.items()
    }
    assert after == reference
    # Running the same task once more changes nothing.
    assert reconcile_sites(site_ids=ids, until=new_until).estimates_written == 0
    assert _series_by_site() == after


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer already")
def test_runs_for_one_site_wait_for_each_other():
    _quiet("load_demo")
    site = Site.objects.get(code="SY-LAT-HMEIMIM")
    ReconciliationState.objects.get_or_create(site=site)
    holding, events = threading.Event(), []

    def hold_the_lock():
        with transaction.atomic():
            ReconciliationState.objects.select_for_update().get(site=site)
            holding.set()
            time.sleep(1)
            events.append("released")
        connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(timeout=10)
    reconcile_sites(site_ids=[site.pk], until=date(2025, 3, 20))
    events.append("reconciled")
    holder.join()
    assert events == ["released", "reconciled"]
    assert PopulationEstimate.objects.filter(site=site).count() == 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises every writer already")
def test_a_run_cannot_start_between_a_request_and_its_commit():
    """A site already pending (its task queued) gets new reports: the queued run must not
    start, read the reports before they commit, and clear pending, leaving them out.
    The request holds the site's row until its transaction commits, so the run waits."""
    from shelters.services.reconciliation import reconciliation_request

    _quiet("load_demo")
    site = Site.objects.get(code="SY-LAT-HMEIMIM")
    ReconciliationState.objects.update_or_create(site=site, defaults={"pending": True})  # a task is queued
    requested, events = threading.Event(), []

    def the_queued_run():
        requested.wait(timeout=10)
        with transaction.atomic():  # what reconcile_sites does first
            ReconciliationState.objects.select_for_update().filter(site=site).update(pending=False)
            events.append("run locked the site")
        connection.close()

    run = threading.Thread(target=the_queued_run)
    run.start()
    with transaction.atomic():
        assert reconciliation_request(site_ids=[site.pk]) == []  # already pending: coalesced
        requested.set()
        time.sleep(1)  # the rest of the request (history, notifications, the response)
        events.append("request committed")
    run.join()
    assert events == ["request committed", "run locked the site"]
