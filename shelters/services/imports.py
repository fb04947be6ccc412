from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction

from shelters.importing import IMPORTERS, Context, ImportResult, read_table
from shelters.models import Organization, User

from .reconciliation import reconciliation_request
from .versions import sites_changed

# What the engine reads: these imports trigger reconciliation of the sites they touch.
RECONCILED_KINDS = ("reports", "notices", "sites")


def import_file(
    *,
    kind: str,
    file: str | Path | IO[bytes],
    organization: Organization,
    user: User | None = None,
    skip_invalid: bool = False,
    progress: bool | None = None,
    name: str | None = None,
) -> ImportResult:
    """Import one interchange file; all or nothing unless ``skip_invalid``.

    ``progress`` None shows a progress bar for long files only.
    Raises ``TableError`` when the file cannot be read and ``ImportRejected``
    (with every bad row) when a row is invalid; nothing is written then.
    """
    table = read_table(file, name=name)
    if progress is None:
        # Long files show a progress bar on the terminal; short ones stay quiet.
        progress = len(table.rows) >= settings.SHELTERS_PROGRESS_MIN_ROWS
    importer = IMPORTERS[kind](Context(organization=organization, user=user, progress=progress))
    with transaction.atomic():
        result = importer.run(table, skip_invalid=skip_invalid)
        if kind in RECONCILED_KINDS:
            reconciliation_request(site_ids=result.site_ids)
        if kind == "sites":
            sites_changed()
    return result
