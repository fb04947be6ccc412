from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from shelters.models import CountReport, PeriodKind, Scope, Site
from shelters.services.count_reports import (
    GENERATION_STEPS,
    count_report_generate,
    count_report_request,
    period_containing,
)
from shelters.services.reconciliation import today

from .reconcile import iso_date


class Command(BaseCommand):
    help = (
        "Make a count report now, in-process: --scope all (default), governorate:NAME or sites:CODE,CODE; "
        "--date the day (or any day of the week with --period week). Prints the files made."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", default="all", help="all | governorate:NAME | sites:CODE,CODE,...")
        parser.add_argument("--date", help="the day reported on (YYYY-MM-DD); default today")
        parser.add_argument("--period", choices=PeriodKind.values, default=PeriodKind.DAY)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, scope: str, date: str | None, period: str, no_progress: bool, **options) -> None:
        kind, _, value = scope.partition(":")
        site_ids: list[int] = []
        governorate = ""
        if kind == Scope.ALL and not value:
            pass
        elif kind == Scope.GOVERNORATE and value:
            governorate = value
        elif kind == Scope.SITES and value:
            codes = {code.strip() for code in value.split(",") if code.strip()}
            sites = dict(Site.objects.filter(code__in=codes).values_list("code", "pk"))
            if unknown := sorted(codes - set(sites)):
                raise CommandError(f"unknown site code(s): {', '.join(unknown)}")
            site_ids = list(sites.values())
        else:
            raise CommandError(f"--scope '{scope}': use all, governorate:NAME or sites:CODE,CODE")
        day = iso_date(date) if date else today()
        report, _ = count_report_request(
            period=period_containing(period, day), scope=kind, governorate=governorate, site_ids=site_ids, enqueue=False
        )
        with tqdm(total=GENERATION_STEPS, unit="step", desc="count report", disable=no_progress or None) as bar:

            def step(label: str) -> None:
                bar.set_postfix_str(label)
                bar.update(1)

            report = count_report_generate(report_id=report.pk, progress=step)
        if report.status != CountReport.Status.READY:
            raise CommandError(f"report {report.pk} is {report.status}: {report.error}")
        totals = report.summary["totals"]
        self.stdout.write(
            f"count report {report.pk}: {report}: {totals['estimate']:,} people "
            f"({totals['low']:,}–{totals['high']:,}) at {totals['sites_with_estimate']:,} of {totals['sites']:,} sites"
        )
        for name, field in CountReport.FILE_FIELDS.items():
            self.stdout.write(f"  {name}: {getattr(report, field).path}")
