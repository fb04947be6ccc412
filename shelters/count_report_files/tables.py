"""A count report as CSV, HXL-tagged CSV and XLSX; per-site rows stream from the database."""

from collections.abc import Iterable, Iterator
from typing import IO, TextIO

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference

from shelters.exporting import Format, cell, write_csv
from shelters.models import CountReport

SITES = Format(
    (
        "site_code",
        "site_name",
        "site_name_ar",
        "governorate",
        "date",
        "estimate",
        "low",
        "high",
        "flags",
        "previous_estimate",
        "change",
    ),
    (
        "#loc+code",
        "#loc+name",
        "#loc+name+i_ar",
        "#adm1+name",
        "#date",
        "#affected+idps+ind",
        "#affected+idps+ind+min",
        "#affected+idps+ind+max",
        "#meta+flags",
        "#affected+idps+ind+previous",
        "#affected+idps+ind+change",
    ),
)


def site_table_rows(report: CountReport, rows: Iterable[dict]) -> Iterator[tuple]:
    day = report.period_end
    for row in rows:
        estimate, previous = row["estimate"], row["previous_estimate"]
        yield (
            row["site__code"],
            row["site__name"],
            row["site__name_ar"],
            row["site__governorate"],
            day if estimate is not None else None,
            estimate,
            row["low"],
            row["high"],
            row["flags"] or [],
            previous,
            None if estimate is None or previous is None else estimate - previous,
        )


def write_sites_csv(report: CountReport, rows: Iterable[dict], handle: TextIO, *, hxl: bool) -> int:
    return write_csv(SITES, site_table_rows(report, rows), handle, hxl=hxl)


def summary_pairs(report: CountReport) -> list[tuple[str, object]]:
    summary = report.summary
    totals = summary["totals"]
    pairs: list[tuple[str, object]] = [
        ("Scope", summary["scope"]),
        ("Period", f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"),
        ("Figures as of", report.period_end.isoformat()),
        ("Generated at", report.generated_at.isoformat() if report.generated_at else ""),
        ("People (sum of site estimates)", totals["estimate"]),
        ("Low (sum of site bands' lows)", totals["low"]),
        ("High (sum of site bands' highs)", totals["high"]),
        ("Previous report's total", totals["previous_estimate"]),
        ("Change since the previous report", totals["change"]),
        ("Change, sites in both reports", totals["change_same_sites"]),
        ("Sites", totals["sites"]),
        ("Sites with an estimate", totals["sites_with_estimate"]),
        ("Sites flagged", summary["flagged"]["count"]),
    ]
    pairs += [(f"  flagged {flag}", count) for flag, count in summary["flagged"]["by_flag"].items()]
    pairs += [("Departure notices issued", summary["notices"]["count"])]
    pairs += [(f"  {kind}", count) for kind, count in summary["notices"]["by_compulsion"].items()]
    pairs += [
        ("Aid distributions", summary["aid"]["count"]),
        ("  claiming more people than the site's band allows", summary["aid"]["claims_more_than_band"]),
    ]
    return pairs


FLAGGED_COLUMNS = ("site_code", "site_name", "site_name_ar", "estimate", "low", "high", "flags")
NOTICE_COLUMNS = ("site_code", "site_name", "issued_on", "issuer", "compulsion", "deadline", "stated_reason")
AID_COLUMNS = (
    "site_code",
    "site_name",
    "distributed_on",
    "provider",
    "item",
    "quantity",
    "unit",
    "individuals",
    "households",
    "population",
    "population_low",
    "population_high",
    "items_per_person",
    "claims_more_than_band",
)


def write_xlsx(report: CountReport, rows: Iterable[dict], handle: IO[bytes]) -> None:
    """One sheet per section, the per-site sheet streamed; the trend sheet carries a native line chart."""
    summary = report.summary
    workbook = Workbook(write_only=True)

    sheet = workbook.create_sheet("Summary")
    for label, value in summary_pairs(report):
        sheet.append([label, cell(value)])

    sheet = workbook.create_sheet("Sites")
    sheet.append(list(SITES.columns))
    for row in site_table_rows(report, rows):
        sheet.append([cell(value) for value in row])

    sheet = workbook.create_sheet("Flagged")
    sheet.append(list(FLAGGED_COLUMNS))
    for site in summary["flagged"]["sites"]:
        sheet.append(
            [
                cell(v)
                for v in (
                    site["code"],
                    site["name"],
                    site["name_ar"],
                    site["estimate"],
                    site["low"],
                    site["high"],
                    site["flags"],
                )
            ]
        )

    sheet = workbook.create_sheet("Notices")
    sheet.append(list(NOTICE_COLUMNS))
    for notice in summary["notices"]["notices"]:
        sheet.append([cell(notice[column]) for column in NOTICE_COLUMNS])

    sheet = workbook.create_sheet("Aid")
    sheet.append(list(AID_COLUMNS))
    for distribution in summary["aid"]["distributions"]:
        sheet.append([cell(distribution[column]) for column in AID_COLUMNS])

    trend = summary["trend"]
    sheet = workbook.create_sheet("Trend")
    sheet.append(["date", "estimate", "low", "high"])
    for point in trend:
        sheet.append([point["date"], point["estimate"], point["low"], point["high"]])
    if trend:
        chart = LineChart()
        chart.title = "People over time (sum of site estimates and bands)"
        chart.y_axis.title = "people"
        chart.x_axis.title = "date"
        chart.height, chart.width = 9, 22
        data = Reference(sheet, min_col=2, max_col=4, min_row=1, max_row=len(trend) + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(trend) + 1))
        sheet.add_chart(chart, "F2")
    workbook.save(handle)
