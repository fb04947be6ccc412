from pathlib import Path
from typing import IO

from shelters.importing import IMPORTERS, Context, ImportResult, read_table
from shelters.models import Organization, User


def import_file(
    *,
    kind: str,
    file: str | Path | IO[bytes],
    organization: Organization,
    user: User | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
    name: str | None = None,
) -> ImportResult:
    """Import one interchange file; all or nothing unless ``skip_invalid``.

    Raises ``TableError`` when the file cannot be read and ``ImportRejected``
    (with every bad row) when a row is invalid; nothing is written then.
    """
    table = read_table(file, name=name)
    importer = IMPORTERS[kind](Context(organization=organization, user=user, progress=progress))
    return importer.run(table, skip_invalid=skip_invalid)
