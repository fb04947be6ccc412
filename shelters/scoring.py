"""Scoring estimates against a known truth, exactly as the project's reference
scorer (``tests/data/score.py``, from the design notes' tools) defines it.

Scored site-days: from a site's first report to the last truth day, where the
true population is above zero. MAPE (a missing day counts as a 100 % miss,
errors capped at 500 %), band coverage, mean band width relative to the truth,
and the two naive baselines: carry the latest report forward, and the mean of
the last seven days' reports (a range counts as its midpoint).
"""

import csv
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

Estimates = dict[tuple[str, str], tuple[float, float, float]]


def _point(row: dict[str, str]) -> float:
    if row["qualifier"] == "range":
        return (float(row["low"]) + float(row["high"])) / 2
    return float(row["value"])


def read_truth(scenario: Path) -> dict[tuple[str, str], int]:
    with (scenario / "truth.csv").open(newline="", encoding="utf-8") as handle:
        return {(r["site_code"], r["date"]): int(r["population"]) for r in csv.DictReader(handle)}


def read_report_points(scenario: Path) -> dict[str, list[tuple[str, float]]]:
    reports: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with (scenario / "reports.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("external_id", "").startswith("#"):
                continue  # an HXL row
            reports[row["site_code"]].append((row["as_of"], _point(row)))
    return reports


def score(scenario: Path, estimates: Estimates) -> dict[str, float | int | str]:
    truth = read_truth(scenario)
    reports = read_report_points(scenario)
    days_by_site: dict[str, list[str]] = defaultdict(list)
    for site, day in truth:
        days_by_site[site].append(day)
    n = missing = covered = 0
    ape = ape_latest = ape_mean7 = width = 0.0
    for site, days in days_by_site.items():
        points = sorted(reports.get(site, []))
        if not points:
            continue
        first = points[0][0]
        for day in sorted(days):
            population = truth[(site, day)]
            if day < first or population <= 0:
                continue
            n += 1
            upto = [value for (as_of, value) in points if as_of <= day]
            ape_latest += min(abs(upto[-1] - population) / population, 5)
            week_start = (date.fromisoformat(day) - timedelta(days=6)).isoformat()
            window = [value for (as_of, value) in points if week_start <= as_of <= day] or [upto[-1]]
            ape_mean7 += min(abs(sum(window) / len(window) - population) / population, 5)
            estimate = estimates.get((site, day))
            if estimate is None:
                missing += 1
                ape += 1.0
                continue
            ape += min(abs(estimate[0] - population) / population, 5)
            covered += estimate[1] <= population <= estimate[2]
            width += (estimate[2] - estimate[1]) / population
    if n == 0:
        return {"error": "no scored site-days"}
    return {
        "site_days": n,
        "missing": missing,
        "mape": round(ape / n, 4),
        "coverage": round(covered / n, 4),
        "rel_width": round(width / max(1, n - missing), 4),
        "mape_latest": round(ape_latest / n, 4),
        "mape_mean7": round(ape_mean7 / n, 4),
        "ratio_vs_latest": round((ape / n) / (ape_latest / n), 3),
    }
