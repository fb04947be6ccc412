from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shelters.importing import ImportRejected
from shelters.services.imports import import_file
from shelters.services.organizations import default_organization

# Shipped inside the project: the demo must not depend on anything outside it.
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo" / "hmeimim"
# Reference data first: reports name sources, distributions name notices.
ORDER = ("sources", "sites", "reports", "notices", "distributions")


class Command(BaseCommand):
    help = "Load the Hmeimim air base case (March 2025); safe to run again."

    def handle(self, *args, **options) -> None:
        organization = default_organization()
        try:
            with transaction.atomic():
                for kind in ORDER:
                    result = import_file(kind=kind, file=DEMO_DIR / f"{kind}.csv", organization=organization)
                    self.stdout.write(result.summary())
        except ImportRejected as rejected:
            raise CommandError(f"the demo data did not load: {'; '.join(map(str, rejected.errors))}") from rejected
        self.stdout.write(self.style.SUCCESS("Hmeimim demo loaded."))
