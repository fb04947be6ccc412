"""Scenario simulator: realistic report streams with a known truth.

Pure Python (no Django, no test-only imports), so both the engine tests and a
Django management command (benchmarks, demo data) can use it.

* ``simulate(profile, seed, n_sites, days)`` -> engine inputs + truth (tests);
* ``simulate_sites(n_sites, days=..., seed=..., profile="public", ...)`` ->
  plain report dicts per site, shaped like the rows of reports.csv (see its
  docstring), for loading into the database;
* ``score(sites, results, truth)``: the same metrics as tests/data/score.py.

Profiles: "public" mimics the shared synthetic scenarios (registration lists
lagging 2 days, an NGO lagging 1 day, a rounding news agency that repeats
itself, an authority quoting "more than" floors); "sparse", "inflating" and
"bounded" are deliberately different mixes (sparser reporting, inflating
sources, mostly-bounded claims) so a model tuned on the shared files is
checked for overfitting.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from .types import ReportInput, SiteInput

START = date(2025, 1, 1)


@dataclass(frozen=True)
class SourceSpec:
    slug: str
    grade: str | None
    method: str
    kind: str  # exact | approx | range | at_least | at_most
    rate: float  # reports per site-day
    factor: float = 1.0  # multiplicative bias
    noise: float = 0.03  # log-normal noise sd
    lag: int = 0  # days behind the truth
    repeat: float = 0.0  # probability of repeating its previous figure


PROFILES: dict[str, tuple[SourceSpec, ...]] = {
    # Like the shared synthetic scenarios (~0.75 reports per site-day).
    "public": (
        SourceSpec("camp-registration", "A", "registration", "exact", 0.23, noise=0.02, lag=2),
        SourceSpec("news-agency", "C", "media_claim", "approx", 0.2, factor=1.05, noise=0.12, repeat=0.3),
        SourceSpec("ngo-partner", "B", "key_informant", "range", 0.18, noise=0.06, lag=1),
        SourceSpec("authority-statement", "B", "estimate", "at_least", 0.14, factor=0.9, noise=0.05),
    ),
    # Few reports: long gaps, stale bands, single-source days.
    "sparse": (
        SourceSpec("registry", "A", "registration", "exact", 0.12, noise=0.02, lag=1),
        SourceSpec("ngo", "B", "key_informant", "range", 0.08, noise=0.06),
        SourceSpec("wire", "C", "media_claim", "approx", 0.08, factor=1.1, noise=0.12, repeat=0.4),
    ),
    # A confident source that inflates by 40 % and social media at ~3x.
    "inflating": (
        SourceSpec("registry", "A", "registration", "exact", 0.2, noise=0.02, lag=2),
        SourceSpec("governor", "B", "estimate", "approx", 0.25, factor=1.4, noise=0.06),
        SourceSpec("social", None, "media_claim", "approx", 0.2, factor=3.0, noise=0.3),
        SourceSpec("ngo", "B", "key_informant", "range", 0.15, noise=0.06),
    ),
    # Mostly bounds: "more than" / "up to" claims with a little range help.
    "bounded": (
        SourceSpec("ministry", "B", "estimate", "at_least", 0.3, factor=0.9, noise=0.05),
        SourceSpec("unhcr-ish", "B", "estimate", "at_most", 0.2, factor=1.15, noise=0.05),
        SourceSpec("ngo", "C", "key_informant", "range", 0.08, noise=0.08),
        SourceSpec("wire", "C", "media_claim", "approx", 0.1, factor=1.05, noise=0.1, repeat=0.3),
    ),
}


def _round_to(v: float, rng: random.Random) -> float:
    step = 1000 if v >= 3000 else 500 if v >= 800 else 100
    return max(step, round(v / step) * step)


def truth_path(rng: random.Random, days: int) -> list[int]:
    """Quiet random walk with occasional arrival/departure waves, a ramp-up
    start and sometimes a closure (population 0 at the end)."""
    level = math.exp(rng.uniform(math.log(300), math.log(8000)))
    ramp = rng.randint(1, 4)
    out: list[int] = []
    wave_left, wave_rate = 0, 0.0
    for d in range(days):
        if wave_left == 0 and rng.random() < 0.03:
            wave_left = rng.randint(3, 9)
            wave_rate = rng.choice((-1, 1)) * rng.uniform(0.05, 0.15)
        if wave_left:
            level *= math.exp(wave_rate)
            wave_left -= 1
        level *= math.exp(rng.gauss(0, 0.008))
        pop = level * min(1.0, (d + 1) / ramp)
        out.append(max(0, round(pop)))
    return out


def _claim(spec: SourceSpec, t: float, rng: random.Random, key: str, day: date, slug: str) -> ReportInput:
    v = t * spec.factor * math.exp(rng.gauss(0, spec.noise))
    kw: dict = {"value": None, "low": None, "high": None}
    if spec.kind == "exact":
        kw["value"] = float(max(1, round(v)))
    elif spec.kind == "approx":
        kw["value"] = float(_round_to(v, rng))
    elif spec.kind == "range":
        w = rng.uniform(0.1, 0.25)
        kw["low"] = float(_round_to(v * (1 - w), rng))
        kw["high"] = float(max(kw["low"] + 100, _round_to(v * (1 + w), rng)))
    elif spec.kind == "at_least":
        kw["value"] = float(max(100, math.floor(v / 500) * 500))
    else:
        kw["value"] = float(math.ceil(v / 500) * 500)
    return ReportInput(key=key, source=slug, grade=spec.grade, method=spec.method, qualifier=spec.kind, as_of=day, **kw)


def simulate(
    profile: str, seed: int, n_sites: int = 25, days: int = 60
) -> tuple[list[SiteInput], dict[tuple[str, date], int], date]:
    rng = random.Random(f"{profile}-{seed}")
    specs = PROFILES[profile]
    sites: list[SiteInput] = []
    truth: dict[tuple[str, date], int] = {}
    n = 0
    for s in range(n_sites):
        code = f"T-{profile}-{seed}-{s:03d}"
        path = truth_path(rng, days)
        for d, p in enumerate(path):
            truth[(code, START + timedelta(days=d))] = p
        reports: list[ReportInput] = []
        for spec in specs:
            last: ReportInput | None = None
            for d in range(days):
                if rng.random() >= spec.rate:
                    continue
                t = path[max(0, d - spec.lag)]
                if t <= 0:
                    continue
                n += 1
                day = START + timedelta(days=d)
                if last is not None and rng.random() < spec.repeat:
                    r = ReportInput(
                        key=f"r{n:06d}",
                        source=spec.slug,
                        grade=spec.grade,
                        method=spec.method,
                        qualifier=last.qualifier,
                        value=last.value,
                        low=last.low,
                        high=last.high,
                        as_of=day,
                    )
                else:
                    r = _claim(spec, t, rng, f"r{n:06d}", day, spec.slug)
                reports.append(r)
                last = r
        rng.shuffle(reports)  # arrival order must not matter
        sites.append(SiteInput(key=code, reports=tuple(reports)))
    return sites, truth, START + timedelta(days=days - 1)


def score(sites: list[SiteInput], results, truth: dict[tuple[str, date], int]) -> dict:
    """Same definitions as tools/score.py (MAPE capped at 5, coverage, width,
    and the carry-the-latest-report baseline)."""
    est = {(r.site, e.day): e for r in results for e in r.estimates}
    n = missing = covered = 0
    ape = ape_latest = width = 0.0
    for site in sites:
        reps = sorted(
            ((r.as_of, (r.low + r.high) / 2 if r.qualifier == "range" else r.value) for r in site.reports),
            key=lambda x: x[0],
        )
        if not reps:
            continue
        first = reps[0][0]
        for (code, d), p in sorted(truth.items()):
            if code != site.key or d < first or p <= 0:
                continue
            n += 1
            upto = [v for a, v in reps if a <= d]
            ape_latest += min(abs(upto[-1] - p) / p, 5)
            e = est.get((code, d))
            if e is None:
                missing += 1
                ape += 1.0
                continue
            ape += min(abs(e.estimate - p) / p, 5)
            covered += e.low <= p <= e.high
            width += (e.high - e.low) / p
    return {
        "site_days": n,
        "missing": missing,
        "mape": round(ape / n, 4),
        "coverage": round(covered / n, 4),
        "rel_width": round(width / max(1, n - missing), 4),
        "mape_latest": round(ape_latest / n, 4),
        "ratio_vs_latest": round(ape / ape_latest, 3),
    }


def simulate_sites(
    n_sites: int,
    *,
    days: int = 100,
    seed: int = 1,
    profile: str = "public",
    start: date = date(2025, 3, 1),
    site_prefix: str = "SIM",
    density: float = 1.0,
) -> list[tuple[str, list[dict], dict[date, int]]]:
    """Simulate ``n_sites`` sites over ``days`` days.

    Returns a list with one ``(site_code, reports, truth)`` per site:

    * ``site_code``: ``f"{site_prefix}-{i:06d}"``;
    * ``reports``: list of dicts with exactly the keys ``external_id`` (str,
      unique across the call: ``f"{site_code}-r{n:05d}"``), ``site_code``,
      ``as_of`` (date), ``reported_on`` (date, = as_of), ``source`` (slug),
      ``source_grade`` ("A".."F" or None), ``method``, ``qualifier``
      (exact|approx|range|at_least|at_most), ``value`` (int or None; None for
      ranges), ``low`` and ``high`` (int or None; set for ranges only), in
      as_of order;
    * ``truth``: ``{date: true population}`` for every simulated day.

    ``density`` multiplies every source's reporting rate: the "public" mix gives
    ~0.75 reports per site-day, so ``density=1.35`` gives ~100 reports over
    100 days.  Deterministic for a given (seed, profile, arguments); ~10,000
    sites x 100 days take a few seconds per million reports.
    """
    rng = random.Random(f"{profile}-{seed}-{site_prefix}")
    specs = PROFILES[profile]
    dates = [start + timedelta(days=d) for d in range(days)]
    out: list[tuple[str, list[dict], dict[date, int]]] = []
    rnd = rng.random
    for s in range(n_sites):
        code = f"{site_prefix}-{s:06d}"
        path = truth_path(rng, days)
        rows: list[tuple[int, int, dict]] = []
        n = 0
        for si, spec in enumerate(specs):
            rate = spec.rate * density
            last: dict | None = None
            for d in range(days):
                if rnd() >= rate:
                    continue
                t = path[max(0, d - spec.lag)]
                if t <= 0:
                    continue
                n += 1
                if last is not None and rnd() < spec.repeat:
                    fig = (last["qualifier"], last["value"], last["low"], last["high"])
                else:
                    r = _claim(spec, t, rng, "", dates[d], spec.slug)
                    fig = (r.qualifier, _int(r.value), _int(r.low), _int(r.high))
                row = {
                    "external_id": "",
                    "site_code": code,
                    "as_of": dates[d],
                    "reported_on": dates[d],
                    "source": spec.slug,
                    "source_grade": spec.grade,
                    "method": spec.method,
                    "qualifier": fig[0],
                    "value": fig[1],
                    "low": fig[2],
                    "high": fig[3],
                }
                rows.append((d, si, row))
                last = row
        rows.sort(key=lambda x: (x[0], x[1]))
        reports = []
        for i, (_, _, row) in enumerate(rows):
            row["external_id"] = f"{code}-r{i:05d}"
            reports.append(row)
        out.append((code, reports, dict(zip(dates, path))))
    return out


def _int(x: float | None) -> int | None:
    return None if x is None else int(x)


def to_site_inputs(sim: list[tuple[str, list[dict], dict[date, int]]]) -> list[SiteInput]:
    """``simulate_sites`` output -> engine inputs (key = external_id)."""
    f = lambda x: None if x is None else float(x)  # noqa: E731
    return [
        SiteInput(
            key=code,
            reports=tuple(
                ReportInput(
                    key=r["external_id"],
                    source=r["source"],
                    grade=r["source_grade"],
                    method=r["method"],
                    qualifier=r["qualifier"],
                    value=f(r["value"]),
                    low=f(r["low"]),
                    high=f(r["high"]),
                    as_of=r["as_of"],
                )
                for r in reports
            ),
        )
        for code, reports, _ in sim
    ]
