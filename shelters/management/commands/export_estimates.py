import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shelters.exporting import write_estimates_csv
from shelters.models import Site
from shelters.selectors.estimates import estimates_between

from .reconcile import iso_date


class Command(BaseCommand):
    help = "Export reconciled estimates as CSV: site_code,date,estimate,low,high,flags (flags ;-separated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="file to write (replaced only when complete)")
        parser.add_argument("--start", help="first day (YYYY-MM-DD)")
        parser.add_argument("--end", help="last day (YYYY-MM-DD)")
        parser.add_argument("--site", help="only this site code")
        parser.add_argument("--hxl", action="store_true", help="add a row of HXL hashtags under the header")

    def handle(self, *args, out: str, start: str | None, end: str | None, site: str | None, hxl: bool, **options):
        start_day, end_day = (iso_date(start) if start else None), (iso_date(end) if end else None)
        if start_day and end_day and start_day > end_day:
            raise CommandError("--start is after --end")
        site_obj = None
        if site:
            site_obj = Site.objects.filter(code=site).first()
            if site_obj is None:
                raise CommandError(f"no site with code '{site}'")
        rows = (
            estimates_between(site=site_obj, start=start_day, end=end_day)
            .values_list("site__code", "date", "estimate", "low", "high", "flags")
            .iterator(chunk_size=20_000)
        )
        target = Path(out)
        if not target.parent.is_dir():
            raise CommandError(f"cannot write {out}: no directory {target.parent}")
        # Write beside the target and rename: a reader never sees half a file.
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
                count = write_estimates_csv(rows, handle, hxl=hxl)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(f"{count} estimate(s) written to {out}")
