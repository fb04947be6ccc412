"""A count report as a document staff read and print: HTML, and PDF made from it by WeasyPrint."""

from typing import IO

from django.template.loader import render_to_string

from shelters.models import CountReport, CountReportSite

from .charts import band_chart

# The document lists this many sites (the largest); the spreadsheets have them all.
DOCUMENT_SITES = 200


def _site_rows(report: CountReport) -> list[dict]:
    rows = (
        CountReportSite.objects.filter(report=report)
        .order_by("-estimate", "site__code")
        .values("site__code", "site__name", "site__name_ar", "estimate", "low", "high", "flags", "previous_estimate")[
            :DOCUMENT_SITES
        ]
    )
    return [
        {
            "code": row["site__code"],
            "name": row["site__name"],
            "name_ar": row["site__name_ar"],
            "estimate": row["estimate"],
            "low": row["low"],
            "high": row["high"],
            "flags": row["flags"] or [],
            "change": None
            if row["estimate"] is None or row["previous_estimate"] is None
            else row["estimate"] - row["previous_estimate"],
        }
        for row in rows
    ]


def render_html(report: CountReport) -> str:
    summary = report.summary
    site_rows = _site_rows(report)
    charts = [
        {**chart, "svg": band_chart(chart["series"], chart["reports"], label=f"{chart['code']}: estimate and reports")}
        for chart in summary["site_charts"]
    ]
    return render_to_string(
        "shelters/count_report.html",
        {
            "report": report,
            "summary": summary,
            "totals": summary["totals"],
            "trend_chart": band_chart(summary["trend"], label="People over time"),
            "site_rows": site_rows,
            "more_sites": max(0, summary["totals"]["sites"] - len(site_rows)),
            "site_charts": charts,
            # A CSS string (the page footer): backslashes and quotes escaped; autoescape does the rest.
            "footer": str(report).replace("\\", "\\\\").replace('"', '\\"'),
        },
    )


def write_pdf(html: str, handle: IO[bytes]) -> None:
    from weasyprint import HTML  # imported here: it loads Pango, needed only when a PDF is made

    HTML(string=html).write_pdf(handle)
