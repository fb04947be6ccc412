import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

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
    dry_run: bool = False,
) -> ImportResult:
    """Import one interchange file; all or nothing unless ``skip_invalid``.

    ``progress`` None shows a progress bar for long files only.
    ``dry_run`` goes through every write and rolls them back, so the result
    (created, updated, unchanged, new sources) is exactly what a real run gives.
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
        if dry_run:
            # Undone on leaving the block; nothing was asked of the engine or the cache.
            transaction.set_rollback(True)
            return result
        if kind in RECONCILED_KINDS:
            reconciliation_request(site_ids=result.site_ids)
        if kind == "sites":
            sites_changed()
    return result


# --- uploads kept between a preview and its confirmation ---------------------

STAGING_DIR = "imports"  # in the default storage (MEDIA_ROOT), shared by every web process
STAGED_MAX_AGE = timedelta(days=1)
# Tokens are made here; one from anywhere else that does not look like ours names no file.
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def stage_upload(upload: IO[bytes]) -> str:
    """Keep an uploaded file until it is confirmed; returns the random token naming it."""
    purge_staged()
    token = secrets.token_hex(16)
    default_storage.save(f"{STAGING_DIR}/{token}", File(upload))
    return token


def staged_file(token: str) -> IO[bytes] | None:
    """The file kept under ``token``, open for reading, or None when there is none (or it expired)."""
    if not _TOKEN.match(token):
        return None
    name = f"{STAGING_DIR}/{token}"
    if not default_storage.exists(name) or default_storage.get_modified_time(name) < timezone.now() - STAGED_MAX_AGE:
        return None
    return default_storage.open(name, "rb")


def discard_staged(token: str) -> None:
    if _TOKEN.match(token):
        default_storage.delete(f"{STAGING_DIR}/{token}")


def purge_staged() -> None:
    """Delete the kept files older than a day: previews nobody confirmed."""
    try:
        _, names = default_storage.listdir(STAGING_DIR)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - STAGED_MAX_AGE
    for name in names:
        path = f"{STAGING_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except FileNotFoundError:
            pass  # another process purged it first
