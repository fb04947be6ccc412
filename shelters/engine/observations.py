"""Turn reports into observations in log-population space.

Population errors are multiplicative ("10 % too high"), so everything is
modelled on log(population).  Each report becomes one of three kinds:

* VALUE: a noisy reading ``y`` of log(population) with standard deviation
  ``sigma`` (exact, approx, range).
* LOWER / UPPER: a (soft) bound ``y`` on log(population) with a small
  tolerance ``sigma`` (at_least / at_most), plus a weak "near the bound"
  Gaussian (``near_mu``, ``near_tau``) because people say "more than 8,000"
  about 8,000-ish populations, not about 80,000: without it a lone bound would
  leave the estimate unbounded on one side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .types import AT_LEAST, AT_MOST, EXACT, RANGE, ReportInput, SourceProfile

VALUE, LOWER, UPPER = 0, 1, 2

# Prior log-space noise by method: how far a typical claim of that kind is
# from the true figure on the same day (registration lists are close counts,
# media claims are rough).  Unknown methods are treated as "other".
METHOD_SD: dict[str, float] = {
    "registration": 0.05,
    "headcount": 0.06,
    "estimate": 0.15,
    "key_informant": 0.15,
    "media_claim": 0.25,
    "other": 0.25,
}
# Admiralty source reliability multiplies that noise.  F ("cannot be judged")
# and unknown sit between D and E: no evidence either way, so be cautious.
GRADE_FACTOR: dict[str | None, float] = {
    "A": 1.0,
    "B": 1.25,
    "C": 1.6,
    "D": 2.2,
    "E": 3.0,
    "F": 2.5,
    None: 2.5,
}
# Probability that a bound claim is simply wrong (robust mixture weight):
# a bound far from better evidence is then ignored instead of dragging the
# estimate (the probit tail would otherwise pull with unbounded force).
GRADE_BOUND_EPS: dict[str | None, float] = {
    "A": 0.005,
    "B": 0.01,
    "C": 0.02,
    "D": 0.05,
    "E": 0.1,
    "F": 0.05,
    None: 0.05,
}
# A bound's own tolerance, as a fraction of the method/grade noise: "more
# than 8,000" is a statement about the threshold, so its fuzziness is much
# smaller than the noise of a point estimate from the same source.
BOUND_TOL_FRACTION = 0.08
BOUND_TOL_MIN = 0.01
# Default "near the bound" term: population is typically ~10 % inside the
# bound, give or take a factor ~1.4 (log sd 0.35).  Learned per source.
BOUND_GAP_DEFAULT = 0.10
BOUND_SPREAD_DEFAULT = 0.35
BOUND_GAP_MIN = 0.02  # keeps "at_least X alone => estimate >= X"
# Range claims: read [low, high] as a ~90 % interval (z = 1.645) plus a small
# share of the method noise (ranges are still someone's judgement).
RANGE_Z = 1.645
RANGE_METHOD_SHARE = 0.25
# Rounding grid for approx values: a value divisible by a step is taken as
# rounded to that step (uniform rounding error, sd = step / sqrt(12)).
ROUND_STEPS = (10000.0, 5000.0, 1000.0, 500.0, 100.0, 50.0, 10.0)
MIN_POP = 1.0
DOMINANCE_DAYS = 7


def rounding_sd(value: float) -> float:
    """Log-space sd of rounding error for an approximate figure."""
    v = abs(value)
    for step in ROUND_STEPS:
        # Rounding to a step as large as the value itself ("500") is read as
        # rounding to half of it at most: we never believe "500" means 0-1000.
        if step <= v and v % step == 0:
            step = min(step, v / 2.0)
            return step / math.sqrt(12.0) / v
    return 0.0


def prior_sd(method: str, grade: str | None) -> float:
    g = grade.upper() if isinstance(grade, str) and grade else None
    return METHOD_SD.get(method, METHOD_SD["other"]) * GRADE_FACTOR.get(g, GRADE_FACTOR[None])


def bound_eps(grade: str | None) -> float:
    g = grade.upper() if isinstance(grade, str) and grade else None
    return GRADE_BOUND_EPS.get(g, GRADE_BOUND_EPS[None])


@dataclass(slots=True)
class Observations:
    """Column arrays, one entry per usable report (sorted canonically)."""

    keys: list[str]
    sources: list[str]
    pkeys: list[str]  # profile key: the source, or source + REPEAT_SUFFIX for repeats
    day: np.ndarray  # day index from the site's first report (int)
    kind: np.ndarray  # VALUE / LOWER / UPPER
    y: np.ndarray  # log reading (VALUE) or log bound (LOWER/UPPER), bias-corrected
    y_raw: np.ndarray  # log reading before the source bias correction
    sigma: np.ndarray  # VALUE: noise sd; bounds: tolerance sd (profile-scaled)
    sigma0: np.ndarray  # same before the profile's noise scale (for learning)
    eps: np.ndarray  # bounds: prior probability the bound is wrong
    near_mu: np.ndarray  # bounds: centre of the weak "near the bound" term
    near_tau: np.ndarray  # bounds: its precision (0 when not used)

    def __len__(self) -> int:
        return len(self.keys)


_PRIOR_CACHE: dict[tuple[str, str | None], tuple[float, float]] = {}


def _prior(method: str, grade: str | None) -> tuple[float, float]:
    """(noise sd, bound eps) for a method/grade pair, memoised (hot loop)."""
    key = (method, grade)
    v = _PRIOR_CACHE.get(key)
    if v is None:
        v = _PRIOR_CACHE[key] = (prior_sd(method, grade), bound_eps(grade))
    return v


_NEUTRAL = SourceProfile(source="")
_QCODE = {EXACT: 0, "approx": 1, AT_LEAST: 2, AT_MOST: 3, RANGE: 4}


def build_observations(
    reports: Sequence[ReportInput],
    day_index: Sequence[int],
    profiles: Mapping[str, SourceProfile] | None,
    pkeys: Sequence[str] | None = None,
) -> Observations:
    """Vectorised over reports: a handful of list comprehensions pull the
    fields out, numpy does the arithmetic (per-report Python work was the
    bottleneck at ~1M reports)."""
    n = len(reports)
    f = np.array
    qc = f([_QCODE.get(r.qualifier, 1) for r in reports], dtype=np.int64)
    base, b_eps = (
        (f(c) for c in zip(*[_prior(r.method, r.grade) for r in reports])) if n else (np.zeros(0), np.zeros(0))
    )
    nan = float("nan")
    val = f([nan if r.value is None else float(r.value) for r in reports])
    lo = f([nan if r.low is None else float(r.low) for r in reports])
    hi = f([nan if r.high is None else float(r.high) for r in reports])
    has_lo, has_hi = ~np.isnan(lo), ~np.isnan(hi)
    is_rng = qc == 4
    full_rng = is_rng & has_lo & has_hi
    # Open ranges are bounds: [low, ] = at least low, [, high] = at most high.
    lower = (qc == 2) | (is_rng & has_lo & ~has_hi)
    upper = (qc == 3) | (is_rng & has_hi & ~has_lo)
    kind = np.where(lower, LOWER, np.where(upper, UPPER, VALUE)).astype(np.int64)
    with np.errstate(invalid="ignore"):
        l_lo = np.log(np.maximum(np.fmin(lo, hi), MIN_POP))
        l_hi = np.log(np.maximum(np.fmax(lo, hi), MIN_POP))
        v = np.maximum(val, MIN_POP)
    bound_v = np.where(is_rng, np.where(has_lo, l_lo, l_hi), np.log(v))
    y_raw = np.where(full_rng, 0.5 * (l_lo + l_hi), bound_v)
    half = (l_hi - l_lo) / (2.0 * RANGE_Z)
    rs = np.zeros(n)
    approx_like = (kind == VALUE) & ~is_rng & (qc != 0)
    if approx_like.any():
        rs[approx_like] = [rounding_sd(x) for x in v[approx_like].tolist()]
    s_val = np.where(full_rng, np.sqrt(half * half + (RANGE_METHOD_SHARE * base) ** 2), np.sqrt(base * base + rs * rs))
    tol = np.maximum(BOUND_TOL_MIN, BOUND_TOL_FRACTION * base)
    is_val = kind == VALUE
    sigma0 = np.where(is_val, s_val, tol)
    sources = [r.source for r in reports]
    pk = list(pkeys) if pkeys is not None else sources
    profs = [(profiles.get(src) or _NEUTRAL) for src in pk] if profiles else [_NEUTRAL] * n
    bias = f([p.log_bias if p.n > 0 else 0.0 for p in profs])
    scale = f([p.noise_scale if p.n > 0 else 1.0 for p in profs])
    gap = f([p.bound_gap if (p.n_bounds > 0 and p.bound_gap is not None) else BOUND_GAP_DEFAULT for p in profs])
    spread = f(
        [p.bound_spread if (p.n_bounds > 0 and p.bound_spread is not None) else BOUND_SPREAD_DEFAULT for p in profs]
    )
    p_eps = f([p.bound_eps if (p.n_bounds > 0 and p.bound_eps is not None) else nan for p in profs])
    eps = np.where(is_val, 0.0, np.where(np.isnan(p_eps), b_eps, p_eps))
    gap = np.maximum(gap, BOUND_GAP_MIN)
    y = np.where(is_val, y_raw - bias, y_raw)
    sigma = np.where(is_val, sigma0 * scale, sigma0)
    near_mu = np.where(kind == LOWER, y_raw + gap, np.where(kind == UPPER, y_raw - gap, 0.0))
    near_tau = np.where(is_val, 0.0, 1.0 / (spread * spread))
    obs = Observations(
        keys=[r.key for r in reports],
        sources=sources,
        pkeys=pk,
        day=np.asarray(day_index, dtype=np.int64),
        kind=kind,
        y=y,
        y_raw=y_raw,
        sigma=sigma,
        sigma0=sigma0,
        eps=eps,
        near_mu=near_mu,
        near_tau=near_tau,
    )
    if (~is_val).sum() > 1:
        _keep_dominant_bound_terms(obs)
    return obs


def _keep_dominant_bound_terms(obs: Observations) -> None:
    """A bound keeps its "near the bound" term only if no tighter bound in the
    same direction lies within DOMINANCE_DAYS.

    "More than 1,000" and "more than 8,000" a day apart are not in conflict:
    the second implies the first (up to a few days' drift).  If both kept a
    near term, the weaker bound would wrongly pull the estimate below 8,000.
    """
    # With no value claims at all, bounds are the only evidence: then any
    # tighter bound, however far, dominates, which guarantees "at least X"
    # alone never yields an estimate below X (near terms would otherwise
    # average a weak bound with a strong one through the random walk).
    window = DOMINANCE_DAYS if (obs.kind == VALUE).any() else 10**9
    for k, sign in ((LOWER, 1.0), (UPPER, -1.0)):
        idx = np.flatnonzero(obs.kind == k)
        if len(idx) < 2:
            continue
        d = obs.day[idx]
        v = sign * obs.y_raw[idx]
        close = np.abs(d[:, None] - d[None, :]) <= window
        # j dominates i if tighter, or equally tight and earlier in canonical order.
        order = np.arange(len(idx))
        tighter = (v[None, :] > v[:, None]) | ((v[None, :] == v[:, None]) & (order[None, :] < order[:, None]))
        dominated = (close & tighter).any(axis=1)
        obs.near_tau[idx[dominated]] = 0.0
