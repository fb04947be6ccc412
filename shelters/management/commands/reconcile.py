from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from shelters import engine
from shelters.models import Site
from shelters.services.reconciliation import RunStats, reconcile_everything, reconcile_sites, site_chunks


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"'{text}' is not a date in YYYY-MM-DD form") from None


class Command(BaseCommand):
    help = (
        "Run the reconciliation engine now, in-process: every site (learning source reliability first), "
        "or one site with --site."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", help="reconcile only the site with this code")
        parser.add_argument("--until", help="last day to estimate (YYYY-MM-DD); default today")
        parser.add_argument(
            "--force",
            action="store_true",
            help="recompute every site, even those whose evidence has not changed since their series was stored",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, site: str | None, until: str | None, force: bool, no_progress: bool, **options) -> None:
        until_day = iso_date(until) if until else None
        if site:
            try:
                site_id = Site.objects.values_list("pk", flat=True).get(code=site)
            except Site.DoesNotExist:
                raise CommandError(f"no site with code '{site}'") from None
            stats = reconcile_sites(site_ids=[site_id], until=until_day, force=force)
        else:
            total = sum(len(chunk) for chunk in site_chunks())
            with tqdm(total=total, unit="site", desc="reconciling", disable=no_progress or None) as bar:
                stats = reconcile_everything(until=until_day, on_chunk=bar.update, force=force)
        self.stdout.write(self._summary(stats))

    def _summary(self, stats: RunStats) -> str:
        return (
            f"reconciled {stats.sites} site(s) from {stats.reports} report(s) with engine {engine.ENGINE_VERSION}: "
            f"{stats.sites_computed} recomputed, the others' evidence unchanged; "
            f"{stats.estimates_written} estimate(s) written, {stats.estimates_deleted} removed, "
            f"{stats.reports_reassessed} report weight(s) updated"
        )
