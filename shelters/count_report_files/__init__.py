"""The files of a count report: CSV, HXL CSV, XLSX, HTML and PDF.

Per-site rows stream from the database into the spreadsheets; the document
shows the summary, the largest sites and charts.
"""

import io
import tempfile
from collections.abc import Callable
from typing import IO

from shelters.models import CountReport

from . import document, tables


def write_files(
    report: CountReport, *, progress: Callable[[str], None] | None = None
) -> dict[str, tuple[str, IO[bytes]]]:
    """Format name -> (file name, an open binary file positioned at its start)."""
    from shelters.services.count_reports import site_rows

    step = progress or (lambda label: None)
    stem = f"count-report-{report.pk}-{report.period_end.isoformat()}"
    files: dict[str, tuple[str, IO[bytes]]] = {}
    for name, hxl in (("csv", False), ("hxl", True)):
        step(f"{name.upper()} file")
        handle = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the caller, who closes it)
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        tables.write_sites_csv(report, site_rows(report), text, hxl=hxl)
        text.flush()
        text.detach()
        handle.seek(0)
        files[name] = (f"{stem}{'-hxl' if hxl else ''}.csv", handle)
    step("XLSX file")
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the caller, who closes it)
    tables.write_xlsx(report, site_rows(report), handle)
    handle.seek(0)
    files["xlsx"] = (f"{stem}.xlsx", handle)
    step("document")
    html = document.render_html(report)
    files["html"] = (f"{stem}.html", io.BytesIO(html.encode("utf-8")))
    step("PDF file")
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the caller, who closes it)
    document.write_pdf(html, handle)
    handle.seek(0)
    files["pdf"] = (f"{stem}.pdf", handle)
    return files
