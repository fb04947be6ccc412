import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from shelters.exporting import write_estimates_csv
from shelters.importing import ImportRejected, TableError
from shelters.models import Organization, PopulationEstimate, Site
from shelters.scoring import read_truth, score
from shelters.services.imports import import_file
from shelters.services.reconciliation import reconcile_everything

from .reconcile import iso_date

# Reference data first; reports name sources, distributions name notices.
FILES = ("sources", "sites", "reports", "notices", "distributions")


class Rollback(Exception):
    """Raised to undo the scratch import once the figures are known."""


class Command(BaseCommand):
    help = (
        "Judge the engine on a scenario with a known truth: import SCENARIO_DIR (sites.csv, reports.csv, "
        "truth.csv, optional sources/notices), reconcile, print the scores as JSON. Nothing is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario", help="a folder with sites.csv, reports.csv and truth.csv")
        parser.add_argument("--until", help="last day to estimate; default the last day of truth.csv")
        parser.add_argument("--out", help="also write the estimates CSV here (for tools/score.py)")

    def handle(self, *args, scenario: str, until: str | None, out: str | None, **options) -> None:
        folder = Path(scenario)
        for required in ("sites.csv", "reports.csv", "truth.csv"):
            if not (folder / required).is_file():
                raise CommandError(f"{folder} has no {required}")
        truth = read_truth(folder)
        until_day = iso_date(until) if until else iso_date(max(day for _, day in truth))
        try:
            with transaction.atomic():
                result = self._run(folder, until_day, out)
                raise Rollback
        except Rollback:
            pass
        self.stdout.write(json.dumps(result))

    def _run(self, folder: Path, until, out: str | None) -> dict:
        organization, _ = Organization.objects.get_or_create(slug="backtest", defaults={"name": "Backtest"})
        before = set(Site.objects.values_list("code", flat=True))
        try:
            for kind in FILES:
                path = folder / f"{kind}.csv"
                if path.is_file():
                    imported = import_file(kind=kind, file=path, organization=organization)
                    self.stderr.write(imported.summary())
        except (ImportRejected, TableError) as error:
            details = "; ".join(map(str, getattr(error, "errors", [])[:10]))
            raise CommandError(f"the scenario did not import: {error} {details}") from error
        sites = dict(Site.objects.exclude(code__in=before).values_list("pk", "code"))
        if not sites:
            raise CommandError("the scenario's sites already exist here; run the backtest on an empty database")
        with tqdm(total=len(sites), unit="site", desc="reconciling", disable=None) as bar:
            reconcile_everything(until=until, site_ids=list(sites), on_chunk=bar.update)
        rows = list(
            PopulationEstimate.objects.filter(site_id__in=sites)
            .order_by("site_id", "date")
            .values_list("site__code", "date", "estimate", "low", "high", "flags")
        )
        if out:
            with open(out, "w", newline="", encoding="utf-8") as handle:
                write_estimates_csv(rows, handle)
        estimates = {(code, day.isoformat()): (estimate, low, high) for code, day, estimate, low, high, _ in rows}
        return score(folder, estimates)
