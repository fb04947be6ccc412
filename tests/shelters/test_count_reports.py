"""Count reports: every file read back with a real reader and checked against the database."""

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from pypdf import PdfReader

from shelters.models import (
    AidDistribution,
    CountReport,
    CountReportSchedule,
    DepartureNotice,
    Organization,
    PopulationEstimate,
    Site,
    User,
)
from shelters.services.count_reports import (
    count_report_deliver,
    count_report_for_schedule,
    count_report_generate,
    count_report_request,
    count_report_schedule_save,
    period_containing,
    scheduled_period,
)
from shelters.tasks import run_count_report_schedule

DAY = date(2025, 4, 29)
BEFORE = DAY - timedelta(days=7)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def world(db):
    """Three sites with known estimates a week apart, a notice and two distributions in the week."""
    org = Organization.objects.create(slug="ngo", name="NGO")
    sites = [
        Site.objects.create(code="LAT-A", name="School A", name_ar="مدرسة أ", governorate="Latakia"),
        Site.objects.create(code="LAT-B", name="Camp B", governorate="Latakia"),
        Site.objects.create(code="TAR-C", name="Hall C", governorate="Tartus"),
    ]
    figures = {  # site: (estimate a week before, estimate on DAY, flags on DAY)
        "LAT-A": (1000, 1200, ["conflict"]),
        "LAT-B": (500, 450, []),
        "TAR-C": (3000, 3100, ["stale", "single_source"]),
    }
    now = timezone.now()
    for site in sites:
        before, after, flags = figures[site.code]
        for offset in range(8):
            day = BEFORE + timedelta(days=offset)
            value = before if day < DAY else after
            PopulationEstimate.objects.create(
                site=site,
                date=day,
                estimate=value,
                low=int(value * 0.9),
                high=int(value * 1.1),
                flags=flags if day == DAY else [],
                contributions=[],
                engine_version="test",
                computed_at=now,
            )
    DepartureNotice.objects.create(
        organization=org, site=sites[1], issued_on=DAY, issuer="Municipality", compulsion="mandatory"
    )
    AidDistribution.objects.create(
        organization=org,
        site=sites[0],
        distributed_on=DAY,
        provider="NGO",
        item="food_package",
        quantity=600,
        unit="package",
        individuals=5000,  # more than LAT-A's band allows (high 1,320)
    )
    AidDistribution.objects.create(
        organization=org,
        site=sites[2],
        distributed_on=DAY,
        provider="NGO",
        item="water",
        quantity=9300,
        unit="litre",
        individuals=3000,
    )
    return {site.code: site for site in sites}


def _make(day: date, **scope) -> CountReport:
    report, created = count_report_request(period=period_containing("day", day), enqueue=False, **scope)
    assert created
    return count_report_generate(report_id=report.pk)


def _db_figures(day: date, codes) -> dict:
    return {
        code: (estimate, low, high)
        for code, estimate, low, high in PopulationEstimate.objects.filter(date=day, site__code__in=codes).values_list(
            "site__code", "estimate", "low", "high"
        )
    }


def test_every_file_states_the_database_figures_and_the_change(world):
    first = _make(BEFORE)
    report = _make(DAY)
    assert report.status == CountReport.Status.READY and report.previous == first
    now, before = _db_figures(DAY, world), _db_figures(BEFORE, world)

    # Summary: totals, change, flags, notices, aid per person and the over-band claim.
    totals = report.summary["totals"]
    assert totals["estimate"] == sum(e for e, _, _ in now.values()) == 4750
    assert (totals["low"], totals["high"]) == (sum(v[1] for v in now.values()), sum(v[2] for v in now.values()))
    assert totals["previous_estimate"] == sum(e for e, _, _ in before.values()) == 4500
    assert totals["change"] == 250
    assert report.summary["flagged"]["count"] == 2
    assert report.summary["flagged"]["by_flag"] == {"conflict": 1, "stale": 1, "outlier": 0}
    assert report.summary["notices"]["by_compulsion"]["mandatory"] == 1
    food, water = sorted(report.summary["aid"]["distributions"], key=lambda d: d["item"])
    assert food["items_per_person"] == round(600 / 1200, 3) and food["claims_more_than_band"] is True
    assert water["population"] == 3100 and water["items_per_person"] == round(9300 / 3100, 3)
    assert water["claims_more_than_band"] is False  # 3,000 reached of 2,790–3,410
    assert report.summary["aid"]["claims_more_than_band"] == 1

    # CSV, read with the csv module.
    with report.csv_file.open("rb") as handle:
        rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
    assert {row["site_code"] for row in rows} == set(world)
    for row in rows:
        estimate, low, high = now[row["site_code"]]
        assert (int(row["estimate"]), int(row["low"]), int(row["high"])) == (estimate, low, high)
        assert int(row["previous_estimate"]) == before[row["site_code"]][0]
        assert int(row["change"]) == estimate - before[row["site_code"]][0]
        assert row["date"] == DAY.isoformat()
    assert next(r for r in rows if r["site_code"] == "LAT-A")["site_name_ar"] == "مدرسة أ"

    # HXL: the same with a tag row under the header.
    with report.hxl_file.open("rb") as handle:
        hxl = list(csv.reader(io.TextIOWrapper(handle, encoding="utf-8")))
    assert hxl[1][:6] == ["#loc+code", "#loc+name", "#loc+name+i_ar", "#adm1+name", "#date", "#affected+idps+ind"]
    assert len(hxl) == 2 + len(world)

    # XLSX, read with openpyxl: a sheet per section, and a native chart on the trend sheet.
    with report.xlsx_file.open("rb") as handle:
        content = handle.read()
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["Summary", "Sites", "Flagged", "Notices", "Aid", "Trend"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["People (sum of site estimates)"] == 4750
    assert summary["Change since the previous report"] == 250
    sites = {row[0]: row for row in book["Sites"].iter_rows(min_row=2, values_only=True)}
    assert sites["TAR-C"][5:8] == now["TAR-C"] and sites["TAR-C"][10] == 100
    aid = list(book["Aid"].iter_rows(values_only=True))
    per_person = dict(zip(aid[0], next(r for r in aid[1:] if r[4] == "food_package")))
    assert per_person["items_per_person"] == 0.5 and per_person["claims_more_than_band"] is True
    trend = list(book["Trend"].iter_rows(min_row=2, values_only=True))
    assert trend[-1][:2] == (DAY.isoformat(), 4750) and len(trend) == 8
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
        assert charts and "Trend" in archive.read(charts[0]).decode()

    # The PDF, its text extracted.
    with report.pdf_file.open("rb") as handle:
        text = " ".join(page.extract_text() for page in PdfReader(handle).pages)
    for expected in ("4,750", "+250", "LAT-A", "TAR-C", "1,200", "0.50", "mandatory"):
        assert expected in text, expected
    # The HTML marks Arabic names right-to-left.
    with report.html_file.open("rb") as handle:
        html = handle.read().decode()
    assert '<span class="ar" dir="rtl" lang="ar">مدرسة أ</span>' in html


def test_a_governorate_scope_and_its_own_previous_report(world):
    _make(BEFORE)  # all sites: not the previous report of a governorate's
    report = _make(DAY, scope="governorate", governorate="Latakia")
    assert report.previous is None
    assert report.summary["totals"]["estimate"] == 1200 + 450
    assert report.summary["notices"]["count"] == 1 and report.summary["aid"]["count"] == 1


def test_generating_twice_changes_nothing(world):
    report = _make(DAY)
    name, generated = report.pdf_file.name, report.generated_at
    again = count_report_generate(report_id=report.pk)
    assert (again.pdf_file.name, again.generated_at) == (name, generated)


def _daily_schedule() -> CountReportSchedule:
    return count_report_schedule_save(schedule=CountReportSchedule(name="Test daily, all sites", period_kind="day"))


@pytest.fixture
def schedule(db):
    return _daily_schedule()


def test_the_default_schedules_exist(db):
    # Run the data migration's function again (a transactional test elsewhere may
    # have emptied the tables it filled); it leaves existing schedules alone.
    import importlib

    from django.apps import apps

    importlib.import_module("shelters.migrations.0007_default_count_report_schedules").create_schedules(apps, None)
    daily = CountReportSchedule.objects.get(name="Daily count, all sites")
    weekly = CountReportSchedule.objects.get(name="Weekly count, all sites")
    assert (daily.periodic_task.crontab.hour, daily.periodic_task.crontab.day_of_week) == ("6", "*")
    assert (weekly.periodic_task.crontab.hour, weekly.periodic_task.crontab.day_of_week) == ("6", "1")
    assert weekly.periodic_task.task == "shelters.tasks.run_count_report_schedule"


def test_a_schedule_firing_twice_makes_one_report(world, schedule, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        first = run_count_report_schedule.apply(args=[schedule.pk]).get()
        second = run_count_report_schedule.apply(args=[schedule.pk]).get()
    assert first == second
    assert CountReport.objects.filter(schedule=schedule).count() == 1
    # The second firing found the report still pending and asked again (its task may be lost);
    # generating is safe twice. Once it is ready, firing again asks for nothing.
    assert len(enqueued) == 2
    count_report_generate(report_id=first)
    with django_capture_on_commit_callbacks() as enqueued:
        assert run_count_report_schedule.apply(args=[schedule.pk]).get() == first
    assert not enqueued


def test_the_database_refuses_a_second_report_for_a_schedule_period(world, schedule):
    report, _ = count_report_for_schedule(schedule_id=schedule.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        CountReport.objects.create(
            schedule=schedule,
            period_kind=report.period_kind,
            period_start=report.period_start,
            period_end=report.period_end,
        )


def test_scheduled_periods():
    monday = datetime(2025, 4, 28, 6, 0, tzinfo=UTC)
    assert scheduled_period("day", monday) == period_containing("day", date(2025, 4, 28))
    week = scheduled_period("week", monday)  # the full week that ended yesterday
    assert (week.start, week.end) == (date(2025, 4, 21), date(2025, 4, 27))


def test_recipients_get_the_pdf_by_email(world, schedule):
    staff = User.objects.create_user("coord", email="coord@example.org", is_staff=True)
    partner = User.objects.create_user("partner", email="partner@example.org")  # the PDF is not for partners
    schedule.recipients.add(staff, partner)
    report, _ = count_report_for_schedule(schedule_id=schedule.pk)
    count_report_generate(report_id=report.pk)
    mail.outbox.clear()
    assert count_report_deliver(report_id=report.pk) == 1
    message = mail.outbox[0]
    assert message.to == ["coord@example.org"]
    assert message.attachments[0][2] == "application/pdf"
    assert "People:" in message.body


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_firing_twice_through_a_real_worker_makes_one_report(world, tmp_path, settings):
    """Two deliveries of the scheduled task, run concurrently by a real worker: one report, made once."""
    from config import celery_app
    from tests.support.processes import child_env, running, wait_for

    schedule = _daily_schedule()
    log = tmp_path / "worker.log"
    args = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"]
    args += ["--hostname", f"count-reports-{tmp_path.name}@localhost"]
    celery_app.control.purge()
    with running(args, log, child_env(DJANGO_MEDIA_ROOT=settings.MEDIA_ROOT)):
        run_count_report_schedule.delay(schedule.pk)
        run_count_report_schedule.delay(schedule.pk)
        report = wait_for(
            lambda: CountReport.objects.filter(schedule=schedule, status=CountReport.Status.READY).first(),
            timeout=120,
            what="the scheduled report to be generated",
            log=log,
        )
        wait_for(
            lambda: log.read_text().count("run_count_report_schedule") >= 4,  # two received, two succeeded
            timeout=60,
            what="both deliveries to finish",
            log=log,
        )
    assert CountReport.objects.filter(schedule=schedule).count() == 1
    assert report.pdf_file and report.summary["totals"]["sites"] == 3


def test_partners_subscribed_hear_that_a_report_is_ready(world):
    from webhooks.models import WebhookDelivery
    from webhooks.services import subscription_create

    subscription, _ = subscription_create(
        Organization.objects.get(slug="ngo"), None, "https://partner.example.org/hook", ["count_report.ready"]
    )
    report = _make(DAY)
    count_report_generate(report_id=report.pk)  # a second run sends nothing more
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.event == "count_report.ready"
    assert delivery.payload["id"] == report.pk and delivery.payload["estimate"] == 4750


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_beats_firing_the_same_schedule_make_one_report(world, tmp_path, settings):
    """Two beat processes (a deployment mistake) fire the same schedule every second: one report for the period."""
    from django_celery_beat.models import IntervalSchedule

    from config import celery_app
    from tests.support.processes import child_env, running, wait_for

    schedule = _daily_schedule()
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    task = schedule.periodic_task
    task.crontab, task.interval = None, every_second
    task.save()
    env = child_env(DJANGO_MEDIA_ROOT=settings.MEDIA_ROOT)
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat-1", "beat-2")}
    worker = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"]
    worker += ["--hostname", f"two-beats-{tmp_path.name}@localhost"]
    beat = ["celery", "--app", "config", "beat", "--loglevel", "INFO", "--max-interval", "1"]
    celery_app.control.purge()
    with (
        running(worker, logs["worker"], env),
        running([*beat, "--pidfile", str(tmp_path / "beat-1.pid")], logs["beat-1"], env),
        running([*beat, "--pidfile", str(tmp_path / "beat-2.pid")], logs["beat-2"], env),
    ):
        # Both beats sent the schedule's task several times, and the worker ran them.
        wait_for(
            lambda: all(
                log.read_text().count("Count report: Test daily") >= 3 for log in (logs["beat-1"], logs["beat-2"])
            ),
            timeout=90,
            what="both beats to fire the schedule a few times",
            log=logs["beat-2"],
        )
        wait_for(
            lambda: CountReport.objects.filter(schedule=schedule, status=CountReport.Status.READY).exists(),
            timeout=90,
            what="the report",
            log=logs["worker"],
        )
    assert logs["worker"].read_text().count("run_count_report_schedule") >= 6
    assert CountReport.objects.filter(schedule=schedule).count() == 1
