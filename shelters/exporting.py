"""Interchange files out: estimates and reports as CSV (optionally HXL-tagged) and XLSX.

Everything streams: rows come from an iterator and leave as they are written,
so exporting a million rows holds one chunk in memory, not the table.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from openpyxl import Workbook


class Format:
    def __init__(self, columns: tuple[str, ...], hxl: tuple[str, ...]) -> None:
        assert len(columns) == len(hxl)
        self.columns = columns
        self.hxl = hxl


ESTIMATES = Format(
    ("site_code", "date", "estimate", "low", "high", "flags"),
    ("#loc+code", "#date", "#affected+idps+ind", "#affected+idps+ind+min", "#affected+idps+ind+max", "#meta+flags"),
)
REPORTS = Format(
    (
        "external_id",
        "site_code",
        "as_of",
        "reported_on",
        "source",
        "source_grade",
        "method",
        "qualifier",
        "value",
        "low",
        "high",
        "quote",
        "status",
    ),
    (
        "#meta+id",
        "#loc+code",
        "#date",
        "#date+reported",
        "#meta+source",
        "#meta+source+grade",
        "#meta+method",
        "#meta+qualifier",
        "#affected+idps+ind",
        "#affected+idps+ind+min",
        "#affected+idps+ind+max",
        "#description",
        "#status",
    ),
)


def cell(value) -> str | int | float:
    """Unknown is an empty cell, never 0; dates ISO; flag lists ;-separated."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return value


class _Line:
    """A file-like that hands back what csv.writer writes, for streaming."""

    def write(self, text: str) -> str:
        return text


def csv_lines(spec: Format, rows: Iterable[tuple], *, hxl: bool = False) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow(spec.columns)
    if hxl:
        yield writer.writerow(spec.hxl)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def write_csv(spec: Format, rows: Iterable[tuple], handle: TextIO, *, hxl: bool = False) -> int:
    count = -1 - int(hxl)
    for line in csv_lines(spec, rows, hxl=hxl):
        handle.write(line)
        count += 1
    return count


def write_xlsx(spec: Format, rows: Iterable[tuple], path: Path, *, sheet: str) -> int:
    """Write-only workbook: openpyxl keeps one row at a time, whatever the size."""
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(list(spec.columns))
    count = 0
    for row in rows:
        worksheet.append([cell(value) for value in row])
        count += 1
    workbook.save(path)
    return count


def write_estimates_csv(rows: Iterable[tuple], handle: TextIO, *, hxl: bool = False) -> int:
    return write_csv(ESTIMATES, rows, handle, hxl=hxl)
