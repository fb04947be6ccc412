import os
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils import timezone

from shelters.benchmarks.processes import child_env, running, wait_for
from shelters.models import PopulationEstimate, PopulationReport, ReconciliationState, ReportAssessment, Site
from shelters.selectors.reconciliation import counting_report_rows
from shelters.services.reconciliation import reconcile_everything, today
from shelters.tasks import reconcile_all_task

from .reconcile import iso_date


class Command(BaseCommand):
    help = (
        "Time a full reconciliation of everything in the database next to the time it takes just to read "
        "the reports (same run, same query), in-process and through real Celery workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until", help="last day to estimate; default today")
        parser.add_argument(
            "--workers", type=int, default=2, help="Celery worker processes for the fan-out run (0: skip)"
        )
        parser.add_argument("--skip-in-process", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the workers")

    def handle(self, *args, until: str | None, workers: int, skip_in_process: bool, timeout: float, **options):
        until_day = iso_date(until) if until else today()
        sites, reports = Site.objects.count(), PopulationReport.objects.count()
        self.stdout.write(f"database: {connection.vendor}, {sites:,} sites, {reports:,} reports, until {until_day}")

        read = self._time(lambda: sum(1 for _ in counting_report_rows()))
        rows = [("read every counting report (the engine adapter's query)", read)]
        if not skip_in_process:
            self._forget_estimates()
            run = lambda: reconcile_everything(until=until_day)  # noqa: E731
            rows.append(("full reconciliation, in-process (1 core)", self._time(run)))
            rows.append(("  the same again: nothing changed, nothing written", self._time(run)))
        if workers:
            self._forget_estimates()
            seconds = self._fan_out(workers, until_day, timeout)
            rows.append((f"full reconciliation, nightly task fanned out to {workers} workers", seconds))

        estimates = PopulationEstimate.objects.count()
        self.stdout.write(f"{'':<64}{'seconds':>10}{'x read':>9}")
        for label, seconds in rows:
            self.stdout.write(f"{label:<64}{seconds:>10.2f}{seconds / read:>9.2f}")
        self.stdout.write(f"estimates stored: {estimates:,}")

    def _time(self, work) -> float:
        start = time.perf_counter()
        work()
        return time.perf_counter() - start

    def _forget_estimates(self) -> None:
        """Start each measured run from nothing, as on a new deployment (not timed)."""
        PopulationEstimate.objects.all().delete()
        ReportAssessment.objects.all().delete()
        ReconciliationState.objects.update(input_fingerprint="")

    def _fan_out(self, workers: int, until_day, timeout: float) -> float:
        if until_day != today():
            self.stderr.write("note: the nightly task reconciles through today; --until applies in-process only")
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base")
        env = child_env(settings_module)
        logs = [f"/tmp/benchmark-worker-{n}.log" for n in range(workers)]
        sites = Site.objects.count()
        with ExitStack() as stack:
            for n, log in enumerate(logs):
                args = ["celery", "--app", "config", "worker", "--loglevel", "WARNING", "--concurrency", "1"]
                args += ["--hostname", f"bench{n}-{uuid.uuid4().hex[:6]}@localhost"]
                stack.enter_context(running(args, Path(log), env))
            time.sleep(3)  # let the workers connect before the clock starts
            started = timezone.now()
            clock = time.perf_counter()
            reconcile_all_task.delay()
            wait_for(
                lambda: ReconciliationState.objects.filter(finished_at__gte=started).count() >= sites,
                timeout=timeout,
                what="every site to be reconciled",
                log=Path(logs[0]),
            )
            return time.perf_counter() - clock
