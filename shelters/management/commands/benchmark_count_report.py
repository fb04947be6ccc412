import resource
import time
import tracemalloc

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from shelters.models import CountReport, CountReportSite, PopulationEstimate, Site
from shelters.services.count_reports import count_report_generate, count_report_request, period_containing
from shelters.services.reconciliation import today

from .reconcile import iso_date


class Command(BaseCommand):
    help = (
        "Time a daily count report over every site next to the time to just read that day's estimates "
        "(same run), and measure its peak memory. The reports it makes are deleted afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day reported on (YYYY-MM-DD); default today")

    def handle(self, *args, date: str | None, **options) -> None:
        day = iso_date(date) if date else today()
        sites = Site.objects.count()
        self.stdout.write(f"database: {connection.vendor}, {sites:,} sites, daily report for {day}")

        started = time.perf_counter()
        estimates = PopulationEstimate.objects.filter(date=day).values_list("site_id", "estimate", "low", "high")
        rows = sum(1 for _ in estimates.iterator(chunk_size=2000))
        read = time.perf_counter() - started

        made: list[int] = []
        # The first run in a process also loads WeasyPrint and its fonts (once per worker).
        cold = self._generate(day, made)
        warm = self._generate(day, made)
        tracemalloc.start()
        self._generate(day, made)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux

        report = CountReport.objects.get(pk=made[0])
        sizes = {name: getattr(report, field).size for name, field in CountReport.FILE_FIELDS.items()}
        self.stdout.write(f"{'':<58}{'seconds':>10}{'x read':>9}")
        for label, seconds in (
            (f"read the day's estimates ({rows:,} rows)", read),
            ("generate the report, first in this process", cold),
            ("  the same again (warm)", warm),
        ):
            self.stdout.write(f"{label:<58}{seconds:>10.2f}{seconds / read:>9.2f}")
        self.stdout.write(f"peak Python memory while generating (tracemalloc): {peak / 2**20:,.1f} MiB")
        self.stdout.write(f"peak resident memory of this process: {rss:,.0f} MiB")
        self.stdout.write("files: " + ", ".join(f"{name} {size / 2**10:,.0f} KiB" for name, size in sizes.items()))
        for pk in made:
            report = CountReport.objects.get(pk=pk)
            for field in CountReport.FILE_FIELDS.values():
                getattr(report, field).delete(save=False)
            CountReportSite.objects.filter(report=report).delete()
            report.delete()

    def _generate(self, day, made: list[int]) -> float:
        report, _ = count_report_request(period=period_containing("day", day), enqueue=False)
        made.append(report.pk)
        started = time.perf_counter()
        count_report_generate(report_id=report.pk)
        return time.perf_counter() - started
