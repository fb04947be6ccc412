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
from dataclasses import dataclass

import numpy as np

from .types import AT_LEAST, AT_MOST, EXACT, RANGE, SourceProfile

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
    site_sd: np.ndarray  # the source's learned site-level error sd (SourceProfile.site_sd / bound_site_sd)

    def __len__(self) -> int:
        return len(self.keys)


_PRIOR_CACHE: dict[tuple[str, str | None], tuple[float, float]] = {}


_NEUTRAL = SourceProfile(source="")
_QCODE = {EXACT: 0, "approx": 1, AT_LEAST: 2, AT_MOST: 3, RANGE: 4}
