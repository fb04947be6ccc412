"""Writing the estimates interchange file (CSV, optionally with an HXL row)."""

import csv
from collections.abc import Iterable
from typing import TextIO

ESTIMATE_COLUMNS = ("site_code", "date", "estimate", "low", "high", "flags")
# HXL hashtags: the Humanitarian Exchange Language's tags for these columns.
ESTIMATE_HXL = (
    "#loc+code",
    "#date",
    "#affected+idps+ind",
    "#affected+idps+ind+min",
    "#affected+idps+ind+max",
    "#meta+flags",
)


def write_estimates_csv(rows: Iterable[tuple], handle: TextIO, *, hxl: bool = False) -> int:
    """Write (site_code, date, estimate, low, high, flags) rows; returns how many."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(ESTIMATE_COLUMNS)
    if hxl:
        writer.writerow(ESTIMATE_HXL)
    count = 0
    for code, day, estimate, low, high, flags in rows:
        writer.writerow((code, day.isoformat(), estimate, low, high, ";".join(flags)))
        count += 1
    return count
