"""Count reports: asked for (by a schedule or a person), then generated in the background.

Generation freezes each site's figures into CountReportSite rows with one
INSERT ... SELECT (the database does the work; nothing is held in Python),
computes the summary with aggregates and bounded lists, then writes the files
by streaming those rows. It runs under a row lock and skips a report already
ready, so a retried or duplicated task makes the files once.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import File
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from shelters.models import (
    COUNTING_STATUSES,
    AidDistribution,
    CountReport,
    CountReportSchedule,
    CountReportSite,
    DepartureNotice,
    PeriodKind,
    PopulationEstimate,
    PopulationReport,
    Scope,
    Site,
    User,
)

from . import notifications

logger = logging.getLogger(__name__)

TREND_DAYS = 30  # the population-over-time charts look back this far from the period's end
FLAG_NAMES = ("conflict", "stale", "outlier")  # flags a coordination meeting asks about
LIST_LIMIT = 500  # flagged sites, notices and distributions listed in the summary (all are counted)
CHARTED_SITES = 8  # flagged sites drawn one by one (the largest)
GENERATION_STEPS = 7  # site figures, summary, CSV, HXL, XLSX, document, PDF (for progress bars)


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date


def period_containing(kind: str, day: date) -> Period:
    """The day itself, or the Monday-to-Sunday week around it; ValueError past the calendar's end."""
    if kind == PeriodKind.WEEK:
        start = day - timedelta(days=day.weekday())
        try:
            return Period(kind, start, start + timedelta(days=6))
        except OverflowError:
            raise ValueError("That week ends after the last date the calendar can hold.") from None
    return Period(kind, day, day)


def scheduled_period(kind: str, now: datetime) -> Period:
    """The period a schedule firing at ``now`` reports on: today, or the last full week."""
    today = now.astimezone(UTC).date()
    if kind == PeriodKind.WEEK:
        return period_containing(kind, today - timedelta(days=today.weekday() + 1))
    return period_containing(kind, today)


# --- asking for a report --------------------------------------------------------


def count_report_request(
    *,
    period: Period,
    scope: str = Scope.ALL,
    governorate: str = "",
    site_ids: Iterable[int] = (),
    schedule: CountReportSchedule | None = None,
    by: User | None = None,
    enqueue: bool = True,
) -> tuple[CountReport, bool]:
    """The report for this scope and period, created if new and generated after commit.

    A schedule has one report per period (a unique constraint): asking twice,
    from beat firing twice or a retried task, returns the existing one.
    """
    from shelters.tasks import generate_count_report_task  # tasks import services

    if schedule is not None:
        existing = CountReport.objects.filter(schedule=schedule, period_start=period.start).first()
        if existing is not None:
            if existing.status != CountReport.Status.READY and enqueue:
                # Its task may have been lost or may have failed: generating again is safe.
                generate_count_report_task.delay_on_commit(existing.pk)
            return existing, False
    report = CountReport(
        schedule=schedule,
        scope=scope,
        governorate=governorate if scope == Scope.GOVERNORATE else "",
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        requested_by=by,
    )
    report.full_clean(exclude=["sites"], validate_constraints=False)
    try:
        with transaction.atomic():
            report.save()
            if scope == Scope.SITES:
                report.sites.set(list(site_ids))
    except IntegrityError:
        if schedule is None:
            raise
        # The same period asked for concurrently: the constraint kept one.
        return CountReport.objects.get(schedule=schedule, period_start=period.start), False
    if enqueue:
        generate_count_report_task.delay_on_commit(report.pk)
    return report, True


def count_report_for_schedule(*, schedule_id: int, now: datetime | None = None) -> tuple[CountReport, bool]:
    schedule = CountReportSchedule.objects.get(pk=schedule_id)
    period = scheduled_period(schedule.period_kind, now or timezone.now())
    with transaction.atomic():
        report, created = count_report_request(
            period=period,
            scope=schedule.scope,
            governorate=schedule.governorate,
            site_ids=schedule.sites.values_list("pk", flat=True),
            schedule=schedule,
        )
    return report, created


# --- generating it --------------------------------------------------------------


def sites_in_scope(report: CountReport) -> QuerySet[Site]:
    """The report's sites: in its scope, open at some point of its period."""
    sites = Site.objects.filter(
        Q(opened_on__isnull=True) | Q(opened_on__lte=report.period_end),
        Q(closed_on__isnull=True) | Q(closed_on__gte=report.period_start),
    )
    if report.scope == Scope.GOVERNORATE:
        sites = sites.filter(governorate=report.governorate)
    elif report.scope == Scope.SITES:
        sites = sites.filter(pk__in=report.sites.values("pk"))
    return sites


def previous_report(report: CountReport) -> CountReport | None:
    """The latest ready report of the same scope and period kind that ended before this one began."""
    candidates = CountReport.objects.filter(
        status=CountReport.Status.READY,
        scope=report.scope,
        governorate=report.governorate,
        period_kind=report.period_kind,
        period_end__lt=report.period_start,
    ).exclude(pk=report.pk)
    if report.schedule_id:
        candidates = candidates.filter(schedule_id=report.schedule_id)
    if report.scope != Scope.SITES:
        return candidates.order_by("-period_end", "-pk").first()
    wanted = set(report.sites.values_list("pk", flat=True))
    for candidate in candidates.order_by("-period_end", "-pk")[:20]:
        if set(candidate.sites.values_list("pk", flat=True)) == wanted:
            return candidate
    return None


def _freeze_site_rows(report: CountReport) -> None:
    """Copy each site's estimate on the period's last day (and its previous figure) into the report."""
    scope_sql, scope_params = sites_in_scope(report).values("pk").query.sql_with_params()
    rows = CountReportSite._meta.db_table
    estimates = PopulationEstimate._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {rows} WHERE report_id = %s", [report.pk])
        cursor.execute(
            f"INSERT INTO {rows} (report_id, site_id, estimate, low, high, flags, previous_estimate) "
            f"SELECT %s, s.id, e.estimate, e.low, e.high, COALESCE(e.flags, %s), p.estimate "
            f"FROM {Site._meta.db_table} s "
            f"LEFT JOIN {estimates} e ON e.site_id = s.id AND e.date = %s "
            f"LEFT JOIN {rows} p ON p.site_id = s.id AND p.report_id = %s "
            f"WHERE s.id IN ({scope_sql})",
            [report.pk, "[]", report.period_end, report.previous_id, *scope_params],
        )


def site_rows(report: CountReport) -> Iterable[dict]:
    """The report's per-site figures with the site's names, streamed in site-code order."""
    return (
        CountReportSite.objects.filter(report=report)
        .order_by("site__code")
        .values(
            "site_id",
            "site__code",
            "site__name",
            "site__name_ar",
            "site__governorate",
            "estimate",
            "low",
            "high",
            "flags",
            "previous_estimate",
        )
        .iterator(chunk_size=2000)
    )


def _totals(report: CountReport) -> dict:
    rows = CountReportSite.objects.filter(report=report)
    sums = rows.filter(estimate__isnull=False).aggregate(estimate=Sum("estimate"), low=Sum("low"), high=Sum("high"))
    both = rows.filter(estimate__isnull=False, previous_estimate__isnull=False).aggregate(
        now=Sum("estimate"), before=Sum("previous_estimate")
    )
    previous_total = (report.previous.summary.get("totals") or {}).get("estimate") if report.previous else None
    return {
        "sites": rows.count(),
        "sites_with_estimate": rows.filter(estimate__isnull=False).count(),
        "estimate": sums["estimate"] or 0,
        "low": sums["low"] or 0,
        "high": sums["high"] or 0,
        "previous_estimate": previous_total,
        "change": None if previous_total is None else (sums["estimate"] or 0) - previous_total,
        # Sites in both reports: a change not made of sites entering or leaving the scope.
        "change_same_sites": None if both["now"] is None else both["now"] - both["before"],
    }


def _flagged(report: CountReport) -> dict:
    """Sites flagged conflict/stale/outlier: counted all, listed by size up to LIST_LIMIT.

    Filtered while streaming (JSON containment is not portable to SQLite).
    """
    counts = dict.fromkeys(FLAG_NAMES, 0)
    listed: list[dict] = []
    total = 0
    for row in site_rows(report):
        flags = [flag for flag in row["flags"] or [] if flag in FLAG_NAMES]
        if not flags:
            continue
        total += 1
        for flag in flags:
            counts[flag] += 1
        listed.append(_site_entry(row, flags))
        if len(listed) > 2 * LIST_LIMIT:  # keep memory bounded: trim to the largest as we go
            listed = sorted(listed, key=_by_size)[:LIST_LIMIT]
    return {"count": total, "by_flag": counts, "sites": sorted(listed, key=_by_size)[:LIST_LIMIT]}


def _by_size(entry: dict) -> tuple:
    return (-(entry["estimate"] or 0), entry["code"])


def _site_entry(row: dict, flags: list[str]) -> dict:
    return {
        "site_id": row["site_id"],
        "code": row["site__code"],
        "name": row["site__name"],
        "name_ar": row["site__name_ar"],
        "estimate": row["estimate"],
        "low": row["low"],
        "high": row["high"],
        "flags": flags,
    }


def _notices(report: CountReport) -> dict:
    notices = DepartureNotice.objects.filter(
        site__in=sites_in_scope(report), issued_on__range=(report.period_start, report.period_end)
    ).order_by("issued_on", "site__code", "pk")
    listed = [
        {
            "site_code": code,
            "site_name": name,
            "site_name_ar": name_ar,
            "issued_on": issued_on.isoformat(),
            "issuer": issuer,
            "compulsion": compulsion,
            "deadline": deadline.isoformat() if deadline else None,
            "stated_reason": reason,
        }
        for code, name, name_ar, issued_on, issuer, compulsion, deadline, reason in notices.values_list(
            "site__code",
            "site__name",
            "site__name_ar",
            "issued_on",
            "issuer",
            "compulsion",
            "deadline",
            "stated_reason",
        )[:LIST_LIMIT]
    ]
    # One grouped query; compulsions with no notice still show, as 0.
    counted = dict(notices.order_by().values_list("compulsion").annotate(n=Count("pk")))
    by_compulsion = {compulsion: counted.get(compulsion, 0) for compulsion in DepartureNotice.Compulsion.values}
    return {"count": notices.count(), "by_compulsion": by_compulsion, "notices": listed}


def _aid(report: CountReport) -> dict:
    """Distributions in the period, each against the site's reconciled population that day."""
    distributions = AidDistribution.objects.filter(
        site__in=sites_in_scope(report), distributed_on__range=(report.period_start, report.period_end)
    ).order_by("distributed_on", "site__code", "pk")
    rows = list(
        distributions.values_list(
            "site_id",
            "site__code",
            "site__name",
            "distributed_on",
            "provider",
            "item",
            "quantity",
            "unit",
            "individuals",
            "households",
        )[:LIST_LIMIT]
    )
    wanted = Q()
    for site_id, _, _, day, *_ in rows:
        wanted |= Q(site_id=site_id, date=day)
    population = (
        {
            (site_id, day): (estimate, low, high)
            for site_id, day, estimate, low, high in PopulationEstimate.objects.filter(wanted).values_list(
                "site_id", "date", "estimate", "low", "high"
            )
        }
        if rows
        else {}
    )
    listed = []
    for site_id, code, name, day, provider, item, quantity, unit, individuals, households in rows:
        estimate, low, high = population.get((site_id, day), (None, None, None))
        per_person = round(float(Decimal(quantity) / estimate), 3) if quantity is not None and estimate else None
        # More people reached than the site can hold on any reading of the evidence.
        claims_too_many = individuals is not None and high is not None and individuals > high
        listed.append(
            {
                "site_code": code,
                "site_name": name,
                "distributed_on": day.isoformat(),
                "provider": provider,
                "item": item,
                "quantity": None if quantity is None else float(quantity),
                "unit": unit,
                "individuals": individuals,
                "households": households,
                "population": estimate,
                "population_low": low,
                "population_high": high,
                "items_per_person": per_person,
                "claims_more_than_band": claims_too_many,
            }
        )
    # Counted over every distribution in the period, not only those listed.
    band_high = PopulationEstimate.objects.filter(site_id=OuterRef("site_id"), date=OuterRef("distributed_on")).values(
        "high"
    )[:1]
    over_band = distributions.filter(individuals__gt=Subquery(band_high)).count()
    return {"count": distributions.count(), "claims_more_than_band": over_band, "distributions": listed}


def _trend(report: CountReport) -> list[dict]:
    """Scope totals per day over the TREND_DAYS up to the period's end."""
    start = report.period_end - timedelta(days=TREND_DAYS - 1)
    daily = (
        PopulationEstimate.objects.filter(site__in=sites_in_scope(report), date__range=(start, report.period_end))
        .values("date")
        .annotate(estimate=Sum("estimate"), low=Sum("low"), high=Sum("high"))
        .order_by("date")
    )
    return [
        {"date": d["date"].isoformat(), "estimate": d["estimate"], "low": d["low"], "high": d["high"]} for d in daily
    ]


def _site_charts(report: CountReport, flagged: list[dict]) -> list[dict]:
    """For the largest flagged sites: the estimate series with its band, and the raw reports as points."""
    start = report.period_end - timedelta(days=TREND_DAYS - 1)
    charts = []
    for entry in flagged[:CHARTED_SITES]:
        series = PopulationEstimate.objects.filter(
            site_id=entry["site_id"], date__range=(start, report.period_end)
        ).order_by("date")
        reports = PopulationReport.objects.filter(
            site_id=entry["site_id"], status__in=COUNTING_STATUSES, as_of__range=(start, report.period_end)
        ).order_by("as_of", "pk")
        charts.append(
            {
                "code": entry["code"],
                "name": entry["name"],
                "name_ar": entry["name_ar"],
                "flags": entry["flags"],
                "series": [
                    {"date": d.isoformat(), "estimate": e, "low": lo, "high": hi}
                    for d, e, lo, hi in series.values_list("date", "estimate", "low", "high")
                ],
                "reports": [
                    {"date": d.isoformat(), "qualifier": q, "value": v, "low": lo, "high": hi, "is_outlier": bool(o)}
                    for d, q, v, lo, hi, o in reports.values_list(
                        "as_of", "qualifier", "value", "low", "high", "assessment__outlier"
                    )[:200]
                ],
            }
        )
    return charts


def build_summary(report: CountReport) -> dict:
    flagged = _flagged(report)
    return {
        "scope": report.scope_label(),
        "period": {
            "kind": report.period_kind,
            "start": report.period_start.isoformat(),
            "end": report.period_end.isoformat(),
        },
        "previous_report": None
        if report.previous is None
        else {"id": report.previous.pk, "period_end": report.previous.period_end.isoformat()},
        "totals": _totals(report),
        "flagged": flagged,
        "notices": _notices(report),
        "aid": _aid(report),
        "trend": _trend(report),
        "site_charts": _site_charts(report, flagged["sites"]),
    }


def count_report_generate(*, report_id: int, progress: Callable[[str], None] | None = None) -> CountReport:
    """Make the report's figures and files; a report already ready is left as it is.

    ``progress`` is called with the name of each step as it starts (GENERATION_STEPS of them).
    """
    from shelters.count_report_files import write_files  # rendering imports this module's readers

    step = progress or (lambda label: None)
    with transaction.atomic():
        report = CountReport.objects.select_for_update().get(pk=report_id)
        if report.status == CountReport.Status.READY:
            return report
        report.previous = previous_report(report)
        report.generated_at = timezone.now()
        report.save(update_fields=["previous", "generated_at"])
        step("site figures")
        _freeze_site_rows(report)
        step("summary")
        report.summary = build_summary(report)
        for name, (filename, handle) in write_files(report, progress=step).items():
            field = getattr(report, CountReport.FILE_FIELDS[name])
            if field:  # left by an attempt that failed after writing it
                field.delete(save=False)
            with handle:
                field.save(filename, File(handle), save=False)
        report.status = CountReport.Status.READY
        report.error = ""
        report.save()
        transaction.on_commit(lambda: count_report_deliver(report_id=report.pk), robust=True)
        notifications.count_report_ready(report)
    return report


def count_report_retry(*, report_ids: Iterable[int]) -> list[int]:
    """Generate again the reports that are not ready (failed, or pending with a lost task)."""
    from shelters.tasks import generate_count_report_task

    retried = list(
        CountReport.objects.filter(pk__in=list(report_ids))
        .exclude(status=CountReport.Status.READY)
        .values_list("pk", flat=True)
    )
    CountReport.objects.filter(pk__in=retried).update(status=CountReport.Status.PENDING, error="")
    for report_id in retried:
        generate_count_report_task.delay_on_commit(report_id)
    return retried


def count_report_failed(*, report_id: int, error: str) -> None:
    CountReport.objects.filter(pk=report_id).exclude(status=CountReport.Status.READY).update(
        status=CountReport.Status.FAILED, error=error[:4000]
    )


def count_report_deliver(*, report_id: int) -> int:
    """E-mail the report to its schedule's recipients (the PDF attached); returns how many were sent."""
    report = CountReport.objects.select_related("schedule").get(pk=report_id)
    if report.schedule is None:
        return 0
    addresses = sorted(
        {
            email
            for email in report.schedule.recipients.filter(is_active=True, is_staff=True).values_list(
                "email", flat=True
            )
            if email
        }
    )
    if not addresses:
        return 0
    totals = report.summary.get("totals", {})
    body = (
        f"{report}\n\n"
        f"People: {totals.get('estimate', 0):,} "
        f"(sum of site bands {totals.get('low', 0):,}–{totals.get('high', 0):,})\n"
        f"Sites: {totals.get('sites', 0):,}, flagged: {report.summary.get('flagged', {}).get('count', 0):,}\n"
        f"Departure notices: {report.summary.get('notices', {}).get('count', 0):,}\n"
        f"Distributions: {report.summary.get('aid', {}).get('count', 0):,}\n"
    )
    message = EmailMessage(
        subject=f"[{settings.SHELTERS_EMAIL_SUBJECT_PREFIX}] Count report: {report}",
        body=body,
        to=addresses,
    )
    if report.pdf_file:
        with report.pdf_file.open("rb") as pdf:
            message.attach(f"count-report-{report.pk}.pdf", pdf.read(), "application/pdf")
    return message.send()


# --- schedules ----------------------------------------------------------------------

SCHEDULE_TASK = "shelters.tasks.run_count_report_schedule"


@transaction.atomic
def count_report_schedule_save(
    *, schedule: CountReportSchedule, site_ids: Iterable[int] | None = None
) -> CountReportSchedule:
    """Save a schedule; a new one gets its beat task (06:00 UTC, Mondays for a weekly one), which staff then edit."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if schedule.periodic_task_id is None:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute="0",
            hour="6",
            day_of_week="1" if schedule.period_kind == PeriodKind.WEEK else "*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"Count report: {schedule.name}", task=SCHEDULE_TASK, crontab=crontab
        )
    schedule.full_clean(exclude=["sites", "recipients"])
    schedule.save()
    if site_ids is not None:
        schedule.sites.set(list(site_ids))
    task = schedule.periodic_task
    kwargs = json.dumps({"schedule_id": schedule.pk})
    if task.kwargs != kwargs or task.task != SCHEDULE_TASK:
        task.kwargs, task.task = kwargs, SCHEDULE_TASK
        task.save(update_fields=["kwargs", "task"])
    return schedule
