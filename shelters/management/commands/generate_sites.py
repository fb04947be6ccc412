from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from shelters.engine import simulation
from shelters.models import Organization, PopulationReport, Site, Source
from shelters.services.reconciliation import today

# Sites simulated and written per transaction: bounds memory for large N.
BATCH_SITES = 250


class Command(BaseCommand):
    help = (
        "Generate N simulated sites with realistic report streams (lagging registrations, rounded bounds, "
        "ranges, repeated and inflated media figures) ending today, for benchmarks. Written in bulk, "
        "without history rows: this is test data, not evidence."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sites", type=int)
        parser.add_argument("--days", type=int, default=100, help="days of reporting per site")
        parser.add_argument("--profile", default="public", choices=sorted(simulation.PROFILES))
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--prefix", default="GEN", help="site codes are PREFIX-SEED-BATCH-NNNNNN")
        parser.add_argument(
            "--density", type=float, default=1.35, help="reporting rate multiplier (1.35: ~1 report per site-day)"
        )

    def handle(
        self, *args, sites: int, days: int, profile: str, seed: int, prefix: str, density: float, **options
    ) -> None:
        if sites < 1 or days < 1:
            raise CommandError("sites and --days must be positive")
        code_prefix = f"{prefix}-{seed}"
        if Site.objects.filter(code__startswith=f"{code_prefix}-").exists():
            raise CommandError(f"sites {code_prefix}-* exist already: use another --seed or --prefix")
        organization, _ = Organization.objects.get_or_create(slug="generator", defaults={"name": "Generated data"})
        start = today() - timedelta(days=days - 1)
        sources: dict[str, Source] = {}
        reports_written = 0
        with tqdm(total=sites, unit="site", desc="generating", disable=None) as bar:
            for first in range(0, sites, BATCH_SITES):
                count = min(BATCH_SITES, sites - first)
                simulated = simulation.simulate_sites(
                    count,
                    days=days,
                    seed=seed * 1_000_003 + first,
                    profile=profile,
                    start=start,
                    site_prefix=f"{code_prefix}-{first // BATCH_SITES:04d}",
                    density=density,
                )
                with transaction.atomic():
                    site_rows = Site.objects.bulk_create(
                        [
                            Site(code=code, name=f"Generated site {code}", site_type=Site.Type.COLLECTIVE_CENTRE)
                            for code, _, _ in simulated
                        ]
                    )
                    site_ids = {site.code: site.pk for site in site_rows}
                    reports = []
                    for code, site_reports, _ in simulated:
                        for report in site_reports:
                            slug = report["source"]
                            if slug not in sources:
                                sources[slug], _ = Source.objects.get_or_create(
                                    slug=slug, defaults={"name": slug, "grade": report["source_grade"] or ""}
                                )
                            reports.append(
                                PopulationReport(
                                    organization=organization,
                                    external_id=report["external_id"],
                                    site_id=site_ids[code],
                                    source=sources[slug],
                                    as_of=report["as_of"],
                                    reported_on=report["reported_on"],
                                    method=report["method"],
                                    qualifier=report["qualifier"],
                                    value=report["value"],
                                    low=report["low"],
                                    high=report["high"],
                                )
                            )
                    PopulationReport.objects.bulk_create(reports, batch_size=5000)
                    reports_written += len(reports)
                bar.update(count)
        if connection.vendor == "postgresql":
            # Fresh statistics: without them the planner mistakes a bulk-loaded
            # table for a small one and picks plans that scan it per site.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Site._meta.db_table}, {PopulationReport._meta.db_table}")
        self.stdout.write(f"{sites:,} sites and {reports_written:,} reports generated ({profile}, {days} days)")
