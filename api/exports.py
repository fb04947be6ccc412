"""Streaming file downloads: CSV, HXL-tagged CSV and XLSX, of any size.

CSV rows leave as the database cursor yields them (a server-side iterator in
chunks), so a million-row export neither times out waiting for the whole file
nor holds it in memory. XLSX is written row by row to a temporary file by
openpyxl's write-only mode, then streamed from disk.
"""

import tempfile
from collections.abc import Iterable

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework.exceptions import ValidationError

from shelters.exporting import Format, csv_lines, write_xlsx

FORMATS = ("csv", "hxl", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# For the OpenAPI schema: the same endpoint answers in either media type.
EXPORT_RESPONSES = {(200, "text/csv"): OpenApiTypes.BINARY, (200, XLSX_TYPE): OpenApiTypes.BINARY}


def requested_format(request) -> str:
    wanted = request.query_params.get("as", "csv").lower()
    if wanted not in FORMATS:
        raise ValidationError({"as": [f"Choose one of: {', '.join(FORMATS)}."]})
    return wanted


def file_response(
    spec: Format, rows: Iterable[tuple], *, wanted: str, name: str
) -> StreamingHttpResponse | FileResponse:
    if wanted == "xlsx":
        # Deleted when the response (and so the file handle) is closed.
        handle = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115
        write_xlsx(spec, rows, handle.name, sheet=name[:31])
        handle.seek(0)
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type=XLSX_TYPE,
        )
    response = StreamingHttpResponse(csv_lines(spec, rows, hxl=wanted == "hxl"), content_type="text/csv; charset=utf-8")
    suffix = "-hxl" if wanted == "hxl" else ""
    response["Content-Disposition"] = f'attachment; filename="{name}{suffix}.csv"'
    return response
