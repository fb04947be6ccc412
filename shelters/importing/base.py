"""The import pipeline shared by every interchange format.

An import runs in two phases. Validation reads every row, parses its cells,
resolves its references (sites, sources, notices) and runs the model's own
validation, collecting every problem with its line and column. Only when no
row failed (or ``skip_invalid`` was asked for) does the write phase save
everything in one transaction, with a history row for each record, so a
rejected file changes nothing.

Imports are idempotent on each format's key (``external_id`` per submitting
organisation; ``site_code`` for sites, ``slug`` for sources): a row already
stored with the same values is left alone.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history
from tqdm import tqdm

from shelters.models import Organization, Source, User
from shelters.services.history import bulk_create_with_history

from .fields import CellError, Parser
from .table import Row, Table

# Writes go to the database in batches of this many rows.
BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # header name in the file
    parse: Parser
    attr: str | None = None  # model field it fills, when it maps straight onto one
    required: bool = False  # the column must exist and the cell must not be empty


@dataclass(frozen=True, slots=True, order=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclass
class ImportResult:
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    sources_created: list[str] = field(default_factory=list)
    # Sites whose data changed; reconciliation runs for these.
    site_ids: set[int] = field(default_factory=set)

    def summary(self) -> str:
        parts = [f"{self.file}: {self.rows} rows", f"{self.created} created", f"{self.unchanged} unchanged"]
        if self.updated:
            parts.insert(2, f"{self.updated} updated")
        if self.skipped:
            parts.append(f"{self.skipped} invalid rows skipped")
        if self.sources_created:
            parts.append(f"new sources: {', '.join(sorted(self.sources_created))}")
        return ", ".join(parts)


class ImportRejected(Exception):
    """The file had invalid rows; nothing was written."""

    def __init__(self, file: str, errors: list[RowError]) -> None:
        self.file = file
        self.errors = sorted(errors)
        super().__init__(f"{file}: {len(self.errors)} problem(s) in {len({e.line for e in self.errors})} row(s)")


class RowInvalid(Exception):
    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems


@dataclass
class Context:
    """What one import run knows beyond the file itself."""

    organization: Organization
    user: User | None
    progress: bool = False
    # Sources named in the file but not in the database, created on write.
    new_sources: dict[str, models.Model] = field(default_factory=dict)


class Importer:
    """One interchange format. Subclasses declare columns and how a row becomes a record."""

    model: ClassVar[type[models.Model]]
    columns: ClassVar[tuple[Column, ...]]
    key_column: ClassVar[str]
    # What happens when the key is already stored with other values: sites and
    # sources are reference data and get updated; reports, notices and
    # distributions are evidence and are never overwritten.
    updates_existing: ClassVar[bool] = False
    # Model fields that are references resolved here, excluded from per-row
    # validation (resolution already proved they exist), with the column named in errors.
    reference_columns: ClassVar[dict[str, str]] = {}
    # A new site has no reports yet; a new report or notice changes its site's estimates.
    new_records_change_estimates: ClassVar[bool] = True

    def __init__(self, context: Context) -> None:
        self.context = context

    # --- hooks ---------------------------------------------------------------

    def preload(self, table: Table) -> None:
        """Fetch what rows refer to, in a few queries rather than one per row."""

    def existing_by_key(self, keys: set[str]) -> dict[str, models.Model]:
        raise NotImplementedError

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        raise NotImplementedError

    def site_id_of(self, record: models.Model) -> int | None:
        return getattr(record, "site_id", None)

    def create(self, records: list[models.Model], reason: str) -> None:
        bulk_create_with_history(records, self.model, user=self.context.user, reason=reason, batch_size=BATCH_SIZE)

    # --- the pipeline --------------------------------------------------------

    def run(self, table: Table, *, skip_invalid: bool = False) -> ImportResult:
        result = ImportResult(file=table.name, rows=len(table.rows))
        missing = [c.name for c in self.columns if c.required and c.name not in table.columns]
        if missing:
            raise ImportRejected(
                table.name, [RowError(1, name, "required column is missing from the header") for name in missing]
            )
        present = [c for c in self.columns if c.name in table.columns]
        self.preload(table)
        keys = {row.cells.get(self.key_column, "") for row in table.rows} - {""}
        existing = self.existing_by_key(keys)

        to_create: list[models.Model] = []
        to_update: list[models.Model] = []
        seen_keys: dict[str, int] = {}
        bad_lines: set[int] = set()
        for row in self._progress(table.rows, "checking"):
            values, problems = self._parse(row, present)
            key = row.cells.get(self.key_column, "")
            if key and key in seen_keys:
                problems[self.key_column] = f"'{key}' appears twice in this file (first on line {seen_keys[key]})"
            elif key:
                seen_keys[key] = row.line
            if "__extra__" in row.cells:
                problems["row"] = "more cells than header columns"
            record = None
            if not problems:
                current = existing.get(key)
                try:
                    record = self.build(values, row, current)
                    self._validate(record)
                except RowInvalid as invalid:
                    problems.update(invalid.problems)
                else:
                    if current is not None:
                        changed = self._changed_fields(current, record, present)
                        if not changed:
                            result.unchanged += 1
                            continue
                        if not self.updates_existing:
                            problems[self.key_column] = (
                                f"'{key}' was already imported with other values "
                                f"({', '.join(changed)}); records are never overwritten: "
                                "submit a correction under a new external_id"
                            )
                        else:
                            to_update.append(record)
                    else:
                        to_create.append(record)
            if problems:
                bad_lines.add(row.line)
                result.errors.extend(RowError(row.line, name, message) for name, message in problems.items())

        if result.errors and not skip_invalid:
            raise ImportRejected(table.name, result.errors)
        result.skipped = len(bad_lines)
        self._write(result, to_create, to_update, present)
        return result

    def _parse(self, row: Row, present: list[Column]) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for column in present:
            cell = row.cells.get(column.name, "")
            if column.required and not cell:
                problems[column.name] = "required, but empty"
                continue
            try:
                values[column.name] = column.parse(cell)
            except CellError as error:
                problems[column.name] = str(error)
        for column in self.columns:
            if column.required and column.name not in values and column.name not in problems:
                problems[column.name] = "required, but empty"
        return values, problems

    def _column_for(self, attr: str) -> str:
        for column in self.columns:
            if column.attr == attr:
                return column.name
        if attr in self.reference_columns:
            return self.reference_columns[attr]
        return "row" if attr == "__all__" else attr

    def _validate(self, record: models.Model) -> None:
        try:
            # References were resolved from preloaded maps; uniqueness of the key
            # is handled by the pipeline; the model's clean() repeats every check
            # constraint with field names, so constraints need no extra query.
            record.full_clean(
                exclude=[*self.reference_columns, "organization", "created_by"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as error:
            raise RowInvalid(
                {self._column_for(attr): " ".join(messages) for attr, messages in error.message_dict.items()}
            ) from None

    def _changed_fields(self, current: models.Model, record: models.Model, present: list[Column]) -> list[str]:
        changed = []
        for column in present:
            attr = column.attr
            if attr is None:
                continue
            if getattr(current, attr) != getattr(record, attr):
                changed.append(column.name)
        for attr, column_name in self.reference_columns.items():
            if column_name in {c.name for c in present} and getattr(current, f"{attr}_id") != getattr(
                record, f"{attr}_id"
            ):
                changed.append(column_name)
        return changed

    def _write(
        self, result: ImportResult, to_create: list[models.Model], to_update: list[models.Model], present: list[Column]
    ) -> None:
        reason = f"import {result.file}"
        with transaction.atomic():
            # Only sources that an accepted row refers to (not those of skipped rows).
            used = {
                record.source.slug for record in to_create if getattr(record, "source", None) and not record.source.pk
            }
            sources = [source for slug, source in self.context.new_sources.items() if slug in used]
            Source.objects.bulk_create(sources)
            result.sources_created = sorted(source.slug for source in sources)
            for batch in self._batches(to_create, "writing"):
                self.create(batch, reason)
            if to_update:
                fields = [c.attr for c in present if c.attr] + [
                    attr for attr, name in self.reference_columns.items() if name in {c.name for c in present}
                ]
                if any(f.name == "updated_at" for f in self.model._meta.concrete_fields):
                    # bulk_update skips auto_now: without this an imported change would keep
                    # the old updated_at, and with it the ETag an API client's If-Match checks.
                    now = timezone.now()
                    for record in to_update:
                        record.updated_at = now
                    fields.append("updated_at")
                bulk_update_with_history(
                    to_update,
                    self.model,
                    fields=[f for f in fields if f != self._key_attr()],
                    batch_size=BATCH_SIZE,
                    default_user=self.context.user,
                    default_change_reason=reason,
                )
        result.created = len(to_create)
        result.updated = len(to_update)
        touched = [*to_create, *to_update] if self.new_records_change_estimates else to_update
        result.site_ids = {sid for sid in map(self.site_id_of, touched) if sid is not None}

    def _key_attr(self) -> str:
        return next((c.attr for c in self.columns if c.name == self.key_column), "") or ""

    def _progress(self, items: list[Any], label: str) -> Iterable[Any]:
        if not self.context.progress:
            return items
        return tqdm(items, desc=f"{label} {self.model._meta.verbose_name_plural}", unit="row", leave=False)

    def _batches(self, items: list[models.Model], label: str) -> Iterable[list[models.Model]]:
        chunks = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
        if not self.context.progress or len(chunks) < 2:
            return chunks
        return tqdm(chunks, desc=f"{label} {self.model._meta.verbose_name_plural}", unit="batch", leave=False)


ImporterFactory = Callable[[Context], Importer]
