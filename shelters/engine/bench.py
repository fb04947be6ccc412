"""Throughput benchmark: ``python -m shelters.engine.bench --sites 2000``.

Synthetic sites with ~100 reports over ~100 days each (the production
shape), mixed qualifiers and sources; prints sites/s for reconcile_site with
given profiles (the per-site incremental path) and for learn_source_profiles.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import date, timedelta

from . import learn_source_profiles, reconcile_many, reconcile_site
from .types import ReportInput, SiteInput

_SOURCES = (
    ("registry", "A", "registration", "exact"),
    ("ngo", "B", "key_informant", "range"),
    ("wire", "C", "media_claim", "approx"),
    ("ministry", "B", "estimate", "at_least"),
    ("social", None, "media_claim", "approx"),
    ("office", "C", "estimate", "at_most"),
)


def make_sites(n_sites: int, n_reports: int = 100, n_days: int = 100, seed: int = 1) -> list[SiteInput]:
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    sites = []
    k = 0
    for s in range(n_sites):
        level = math.exp(rng.uniform(5.5, 9.0))
        path = []
        for _ in range(n_days):
            level *= math.exp(rng.gauss(0, 0.02) + (rng.random() < 0.02) * rng.gauss(0, 0.3))
            path.append(level)
        reps = []
        for _ in range(n_reports):
            d = rng.randrange(n_days)
            slug, grade, method, q = rng.choice(_SOURCES)
            v = path[d] * math.exp(rng.gauss(0, 0.1))
            k += 1
            lo = hi = None
            val: float | None = float(round(v))
            if q == "range":
                lo, hi, val = float(round(v * 0.85)), float(round(v * 1.15)), None
            reps.append(
                ReportInput(
                    key=f"b{k}",
                    source=slug,
                    grade=grade,
                    method=method,
                    qualifier=q,
                    value=val,
                    low=lo,
                    high=hi,
                    as_of=start + timedelta(days=d),
                )
            )
        sites.append(SiteInput(key=f"S{s:05d}", reports=tuple(reps)))
    return sites


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument(
        "--profile",
        default=None,
        help="use simulation.simulate_sites with this profile (e.g. public) instead of the uniform synthetic sites",
    )
    a = ap.parse_args(argv)
    if a.profile:
        from .simulation import simulate_sites, to_site_inputs

        start = date(2025, 3, 1)
        density = a.reports / a.days / 0.75 if a.profile == "public" else 1.0
        sites = to_site_inputs(
            simulate_sites(a.sites, days=a.days, seed=1, profile=a.profile, start=start, density=density)
        )
        until = start + timedelta(days=a.days - 1)
    else:
        sites = make_sites(a.sites, a.reports, a.days)
        until = date(2025, 1, 1) + timedelta(days=a.days - 1)
    c0 = time.process_time()
    t0 = time.perf_counter()
    profiles = learn_source_profiles(sites, until=until)
    t1 = time.perf_counter()
    c1 = time.process_time()
    n_est = sum(len(r.estimates) for r in reconcile_many(sites, until=until, profiles=profiles))
    t2 = time.perf_counter()
    c2 = time.process_time()
    n_one = min(200, a.sites)
    for s in sites[:n_one]:
        reconcile_site(s, until=until, profiles=profiles)
    t3 = time.perf_counter()
    print(f"learn_source_profiles: {a.sites / (t1 - t0):.0f} sites/s ({t1 - t0:.2f} s, {len(profiles)} sources)")
    print(f"reconcile_site (one at a time): {n_one / (t3 - t2):.0f} sites/s")
    print(
        f"reconcile_many: {a.sites / (t2 - t1):.0f} sites/s ({t2 - t1:.2f} s, "
        f"{n_est / a.sites:.0f} days/site, {a.reports} reports/site)"
    )
    print(
        f"reconcile_all equivalent: {a.sites / (t2 - t0):.0f} sites/s; "
        f"10,000 sites ~ {10000 * (t2 - t0) / a.sites:.1f} s"
    )
    print(
        f"CPU time (robust to a busy machine): learn {c1 - c0:.2f} s, "
        f"reconcile_many {c2 - c1:.2f} s, total {c2 - c0:.2f} s"
    )


if __name__ == "__main__":
    main()
