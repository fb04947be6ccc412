"""Reading interchange files (CSV or XLSX) into rows matched by header name.

Columns may come in any order and optional ones may be missing. A second row of
HXL hashtags (every non-empty cell starting with ``#``) is recognised and skipped.
An XLSX workbook is read from its first sheet, its cells turned into the text
the same sheet saved as CSV would hold, so both go through the same parsers.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO

import openpyxl

# What an upload may be; anything else is refused before it is read.
EXTENSIONS = (".csv", ".xlsx")
# Every XLSX file is a zip archive; so is nothing a CSV file would start with.
_ZIP_MAGIC = b"PK\x03\x04"
# Old binary .xls workbooks (OLE2 compound files), which openpyxl cannot read.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0"


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
    """The file as a whole cannot be read (encoding, not a workbook, no header)."""


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
        suffix = Path(name).suffix.lower()
        if suffix == ".xlsx" or raw.startswith(_ZIP_MAGIC):
            return parse_xlsx_bytes(raw, name=name)
        if suffix == ".xls" or raw.startswith(_OLE2_MAGIC):
            raise TableError(f"{name} is an old Excel .xls workbook: save it as .xlsx or CSV (UTF-8)")
        try:
            # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise TableError(f"{name} is not UTF-8 text (byte {error.start})") from error
    else:
        text = raw.removeprefix("\ufeff")
    return parse_csv_text(text, name=name)


def parse_csv_text(text: str, *, name: str) -> Table:
    return _build_table(_csv_records(text, name=name), name=name)


def parse_xlsx_bytes(raw: bytes, *, name: str) -> Table:
    return _build_table(_xlsx_records(raw, name=name), name=name)


def _csv_records(text: str, *, name: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    try:
        for cells in reader:
            # A quoted cell may span lines: a record starts after the previous one ends.
            line, previous_end = previous_end + 1, reader.line_num
            for column, cell in enumerate(cells, start=1):
                if "\x00" in cell:  # no database stores it in text, and no spreadsheet means it
                    raise TableError(f"{name}, line {line}, column {column}: contains a NUL character; not a text file")
            yield line, cells
    except csv.Error as error:
        raise TableError(f"{name}, line {reader.line_num}: {error}") from error


def _xlsx_records(raw: bytes, *, name: str) -> Iterator[tuple[int, list[str]]]:
    # A damaged or foreign file can fail anywhere in openpyxl (zip, XML, styles),
    # and read-only mode parses lazily, so loading and reading are both guarded.
    unreadable = f"{name} is not a readable XLSX workbook"
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as error:
        raise TableError(unreadable) from error
    try:
        if not workbook.worksheets:
            raise TableError(f"{name} has no worksheet")
        # Read-only rows start at row 1, padded with empty cells, so the count is the sheet's row number.
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        for line, values in enumerate(rows, start=1):
            cells = [_cell_text(value) for value in values]
            # Formatting can widen the sheet with empty cells; trailing ones carry nothing.
            while cells and not cells[-1]:
                cells.pop()
            yield line, cells
    except TableError:
        raise
    except Exception as error:
        raise TableError(unreadable) from error
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """A cell's value as the text a CSV export of the sheet gives, for the same parsers."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        # Excel has no date type: a date is a datetime at midnight.
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # 8000, not 8000.0
        return format(value, ".15g")  # Excel keeps 15 significant digits: 0.3, not 0.30000000000000004
    return str(value)


def _build_table(records: Iterable[tuple[int, list[str]]], *, name: str) -> Table:
    lines = iter(records)
    try:
        header_line, header = next(lines)
    except StopIteration:
        raise TableError(f"{name} is empty: a header row is required") from None
    columns = [column.strip().lower() for column in header]
    if not any(columns):
        raise TableError(f"{name}, line {header_line}: the header row is empty")
    table = Table(name=name, columns=columns)
    for line, cells in lines:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines carry nothing
        padded = cells + [""] * (len(columns) - len(cells))
        if line == header_line + 1 and _is_hxl_row(cells):
            table.hxl_tags = {column: tag.strip() for column, tag in zip(columns, padded, strict=False) if column}
            continue
        row = {column: value.strip() for column, value in zip(columns, padded, strict=False) if column}
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            row["__extra__"] = "1"
        table.rows.append(Row(line=line, cells=row))
    return table
