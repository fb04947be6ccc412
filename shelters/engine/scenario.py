"""Run the engine on a scenario directory (Django-free backtest harness).

    python -m shelters.engine.scenario SCENARIO_DIR --out estimates.csv

Reads sites.csv, reports.csv (and notices.csv if present), reconciles up to
the last truth date (or the last report date without truth.csv) and writes
``site_code,date,estimate,low,high,flags`` for tools/score.py.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

from . import reconcile_all
from .types import NoticeInput, ReportInput, SiteInput, SiteResult, SourceProfile


def _f(x: str | None) -> float | None:
    return float(x) if x not in (None, "") else None


def load_scenario(path: str | Path) -> tuple[list[SiteInput], date]:
    p = Path(path)
    reports: dict[str, list[ReportInput]] = defaultdict(list)
    last = date.min
    with open(p / "reports.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            d = date.fromisoformat(r["as_of"][:10])
            last = max(last, d)
            reports[r["site_code"]].append(
                ReportInput(
                    key=r["external_id"],
                    source=r["source"],
                    grade=r.get("source_grade") or None,
                    method=r.get("method") or "other",
                    qualifier=r["qualifier"],
                    value=_f(r.get("value")),
                    low=_f(r.get("low")),
                    high=_f(r.get("high")),
                    as_of=d,
                )
            )
    notices: dict[str, list[NoticeInput]] = defaultdict(list)
    if (p / "notices.csv").exists():
        with open(p / "notices.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                notices[r["site_code"]].append(
                    NoticeInput(
                        key=r["external_id"],
                        issued_on=date.fromisoformat(r["issued_on"][:10]),
                        compulsion=r.get("compulsion") or "unclear",
                    )
                )
    until = last
    if (p / "truth.csv").exists():
        with open(p / "truth.csv", newline="") as fh:
            until = max(date.fromisoformat(r["date"][:10]) for r in csv.DictReader(fh))
    codes: list[str] = []
    closed: dict[str, date | None] = {}
    with open(p / "sites.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            codes.append(r["site_code"])
            c = r.get("closed_on") or ""
            closed[r["site_code"]] = date.fromisoformat(c[:10]) if c else None
    for code in reports:
        if code not in closed:
            codes.append(code)
            closed[code] = None
    sites = [
        SiteInput(key=c, reports=tuple(reports.get(c, ())), notices=tuple(notices.get(c, ())), closed_on=closed[c])
        for c in codes
    ]
    return sites, until


def write_estimates(results: list[SiteResult], out: str | Path) -> None:
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["site_code", "date", "estimate", "low", "high", "flags"])
        for res in results:
            for e in res.estimates:
                w.writerow([res.site, e.day.isoformat(), e.estimate, e.low, e.high, ";".join(e.flags)])


def run(path: str | Path, out: str | Path) -> tuple[dict[str, SourceProfile], list[SiteResult]]:
    sites, until = load_scenario(path)
    profiles, results = reconcile_all(sites, until=until)
    write_estimates(results, out)
    return profiles, results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--out", default="estimates.csv")
    ap.add_argument("--profiles", action="store_true", help="print learned source profiles")
    a = ap.parse_args(argv)
    profiles, _ = run(a.scenario, a.out)
    if a.profiles:
        for p in profiles.values():
            print(p)


if __name__ == "__main__":
    main()
