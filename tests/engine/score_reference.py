"""Verbatim copy of the shared tools/score.py (reference scoring), vendored so the
engine tests run in a clean clone of the repository.

Score daily reconciled estimates against a simulated truth.

estimates.csv: site_code,date,estimate,low,high[,flags]
Scored site-days: from a site's first report to the last truth day, where the
true population is above zero.  Prints a JSON line with the estimator's mean
absolute percentage error (MAPE), the share of days whose [low, high] band
covers the truth, the mean band width relative to the truth, and the same
error for two naive baselines computed here from reports.csv:
  latest: carry the most recent report forward (range -> midpoint)
  mean7:  mean of the reports of the last 7 days (range -> midpoint)
"""
import csv
import json
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path


def point(r):
    if r["qualifier"] == "range":
        return (float(r["low"]) + float(r["high"])) / 2
    return float(r["value"])


def load(scenario, estimates):
    scenario = Path(scenario)
    truth = {(r["site_code"], r["date"]): int(r["population"])
             for r in csv.DictReader(open(scenario / "truth.csv"))}
    reports = defaultdict(list)
    for r in csv.DictReader(open(scenario / "reports.csv")):
        reports[r["site_code"]].append((r["as_of"], point(r)))
    est = {}
    for r in csv.DictReader(open(estimates)):
        est[(r["site_code"], r["date"][:10])] = (float(r["estimate"]), float(r["low"]), float(r["high"]))
    return truth, reports, est


def score(scenario, estimates):
    truth, reports, est = load(scenario, estimates)
    days_by_site = defaultdict(list)
    for (site, d), p in truth.items():
        days_by_site[site].append(d)
    n = missing = covered = 0
    ape = ape_latest = ape_mean7 = width = 0.0
    for site, days in days_by_site.items():
        reps = sorted(reports.get(site, []))
        if not reps:
            continue
        first = reps[0][0]
        for d in sorted(days):
            p = truth[(site, d)]
            if d < first or p <= 0:
                continue
            n += 1
            upto = [v for (a, v) in reps if a <= d]
            ape_latest += min(abs(upto[-1] - p) / p, 5)
            lo7 = (date.fromisoformat(d) - timedelta(days=6)).isoformat()
            win = [v for (a, v) in reps if lo7 <= a <= d] or [upto[-1]]
            ape_mean7 += min(abs(sum(win) / len(win) - p) / p, 5)
            e = est.get((site, d))
            if e is None:
                missing += 1
                ape += 1.0  # a missing day counts as a 100 % miss
                continue
            ape += min(abs(e[0] - p) / p, 5)
            covered += e[1] <= p <= e[2]
            width += (e[2] - e[1]) / p
    if n == 0:
        return dict(error="no scored site-days")
    return dict(site_days=n, missing=missing, mape=round(ape / n, 4),
                coverage=round(covered / n, 4), rel_width=round(width / max(1, n - missing), 4),
                mape_latest=round(ape_latest / n, 4), mape_mean7=round(ape_mean7 / n, 4),
                ratio_vs_latest=round((ape / n) / (ape_latest / n), 3))


if __name__ == "__main__":
    print(json.dumps(score(sys.argv[1], sys.argv[2])))
