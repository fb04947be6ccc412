"""Reading interchange files (CSV) into rows matched by header name.

Columns may come in any order and optional ones may be missing. A second row of
HXL hashtags (every non-empty cell starting with ``#``) is recognised and skipped.
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # 1-based line number in the file, as a spreadsheet shows it
    cells: dict[str, str]


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    hxl_tags: dict[str, str] = field(default_factory=dict)


class TableError(ValueError):
    """The file as a whole cannot be read (encoding, no header)."""


def _is_hxl_row(cells: list[str]) -> bool:
    filled = [cell.strip() for cell in cells if cell.strip()]
    return bool(filled) and all(cell.startswith("#") for cell in filled)


def read_table(source: str | Path | IO[str] | IO[bytes], *, name: str | None = None) -> Table:
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            with path.open("rb") as handle:
                raw = handle.read()
        except OSError as error:
            raise TableError(f"cannot read {path}: {error.strerror}") from error
        name = name or path.name
    else:
        raw = source.read()
        name = name or getattr(source, "name", "upload")
    if isinstance(raw, bytes):
        try:
            # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise TableError(f"{name} is not UTF-8 text (byte {error.start})") from error
    else:
        text = raw.removeprefix("\ufeff")
    return parse_csv_text(text, name=name)


def parse_csv_text(text: str, *, name: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: Iterator[list[str]] = iter(reader)
    try:
        header = next(lines)
    except StopIteration:
        raise TableError(f"{name} is empty: a header row is required") from None
    except csv.Error as error:
        raise TableError(f"{name}, line 1: {error}") from error
    columns = [column.strip().lower() for column in header]
    if not any(columns):
        raise TableError(f"{name}, line 1: the header row is empty")
    table = Table(name=name, columns=columns)
    previous_end = reader.line_num
    try:
        for cells in lines:
            # A quoted cell may span lines: a record starts after the previous one ends.
            line, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines carry nothing
            if line == 2 and _is_hxl_row(cells):
                table.hxl_tags = dict(zip(columns, (cell.strip() for cell in cells), strict=False))
                continue
            padded = cells + [""] * (len(columns) - len(cells))
            row = {column: value.strip() for column, value in zip(columns, padded, strict=False) if column}
            if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
                row["__extra__"] = "1"
            table.rows.append(Row(line=line, cells=row))
    except csv.Error as error:
        raise TableError(f"{name}, line {reader.line_num}: {error}") from error
    return table
