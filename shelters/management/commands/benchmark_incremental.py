import os
import random
import statistics
import time
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from shelters.benchmarks.processes import child_env, running, wait_for
from shelters.models import Organization, PopulationEstimate, ReconciliationState, Site, Source
from shelters.services.reconciliation import today
from shelters.services.reports import report_create


class Command(BaseCommand):
    help = (
        "Time from saving a report to reading the updated estimate, through a real worker on the configured "
        "broker: p50/p95/max over --trials reports on random sites."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trials", type=int, default=100)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, trials: int, seed: int, **options) -> None:
        rng = random.Random(seed)
        site_ids = list(Site.objects.filter(reports__isnull=False).distinct().values_list("pk", flat=True)[:5000])
        if not site_ids:
            raise CommandError("no site has reports: run generate_sites first")
        organization, _ = Organization.objects.get_or_create(slug="benchmark", defaults={"name": "Benchmark"})
        source, _ = Source.objects.get_or_create(
            slug="benchmark-registration", defaults={"name": "Benchmark registration desk", "grade": "A"}
        )
        env = child_env(os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"))
        log = Path("/tmp/benchmark-incremental-worker.log")
        hostname = f"incr-{uuid.uuid4().hex[:6]}@localhost"
        args = ["celery", "--app", "config", "worker", "--loglevel", "WARNING", "--concurrency", "1"]
        args += ["--hostname", hostname]
        latencies = []
        with running(args, log, env):
            time.sleep(3)  # connected before the first trial
            day = today()
            for trial in range(trials):
                site_id = rng.choice(site_ids)
                current = PopulationEstimate.objects.filter(site_id=site_id).order_by("-date").first()
                value = int((current.estimate if current else 1000) * rng.uniform(0.9, 1.1))
                with transaction.atomic():
                    report = report_create(
                        organization=organization,
                        site=Site(pk=site_id),
                        source=source,
                        as_of=day,
                        qualifier="exact",
                        method="registration",
                        value=value,
                        external_id=f"bench-{uuid.uuid4().hex}",
                    )
                clock = time.perf_counter()

                def included(site_id=site_id, saved=report.created_at):
                    # Done when a run that started after the report was saved has committed: it read
                    # the report (an outlier among them gets no weight, so it is not always a contribution).
                    return (
                        ReconciliationState.objects.filter(
                            site_id=site_id, pending=False, started_at__gte=saved
                        ).exists()
                        and PopulationEstimate.objects.filter(site_id=site_id, date=day).exists()
                    )

                wait_for(included, timeout=60, what=f"trial {trial}", log=log, interval=0.002)
                latencies.append(time.perf_counter() - clock)
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        self.stdout.write(
            f"{trials} reports: save -> updated estimate readable: p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
