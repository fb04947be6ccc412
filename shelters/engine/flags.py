"""Daily flags.  Rules (all windows are in calendar days):

* ``stale``: the nearest report is more than STALE_DAYS away (the band then
  rests on the random walk, not on evidence).
* ``single_source``: among the reports with at least SINGLE_MIN_WEIGHT of the
  day's estimate, all come from one source (nothing to cross-check).
* ``conflict``: within +/- NEAR_DAYS there are reports from at least two
  sources and at least one of them disagrees with the rest beyond its noise
  (leave-one-out |z| > 2, or a bound violated by > 2 sd).
* ``outlier``: a report within +/- NEAR_DAYS was flagged outlier
  (leave-one-out |z| > 3) and down-weighted.
"""

from __future__ import annotations

import numpy as np

from .model import Fit
from .observations import Observations
from .types import FLAG_CONFLICT, FLAG_OUTLIER, FLAG_SINGLE_SOURCE, FLAG_STALE

STALE_DAYS = 7
NEAR_DAYS = 3
SINGLE_MIN_WEIGHT = 0.05


def _near_count(n_days: int, days: np.ndarray) -> np.ndarray:
    """For each day, how many of ``days`` fall within +/- NEAR_DAYS."""
    hits = np.bincount(days, minlength=n_days)[:n_days]
    c = np.concatenate(([0], np.cumsum(hits)))
    t = np.arange(n_days)
    hi = np.minimum(t + NEAR_DAYS + 1, n_days)
    lo = np.maximum(t - NEAR_DAYS, 0)
    return c[hi] - c[lo]


def daily_flags(n_days: int, obs: Observations, f: Fit, wn: np.ndarray) -> list[tuple[str, ...]]:
    """``wn``: days x reports normalised contribution weights."""
    t = np.arange(n_days)
    u = f.udays
    a = np.searchsorted(u, t, side="right") - 1
    nxt = np.minimum(a + 1, len(u) - 1)
    dist = np.minimum(t - u[a], np.where(u[nxt] >= t, u[nxt] - t, n_days))
    stale = dist > STALE_DAYS
    day = obs.day
    src_names = sorted(set(obs.sources))
    src_id = {s: i for i, s in enumerate(src_names)}
    onehot = np.zeros((len(obs.sources), len(src_names)))
    onehot[np.arange(len(obs.sources)), [src_id[s] for s in obs.sources]] = 1.0
    # Distinct sources with a report within the window (for "conflict") ...
    n_src = ((_near_matrix(n_days, day) @ onehot) > 0).sum(axis=1)
    # ... and among the reports that actually carry the estimate (single_source).
    n_contrib_src = (((wn >= SINGLE_MIN_WEIGHT).astype(float) @ onehot) > 0).sum(axis=1)
    conflict = (_near_count(n_days, day[f.discord]) > 0) & (n_src >= 2)
    outl = _near_count(n_days, day[f.outlier]) > 0
    codes = conflict.astype(np.int64) * 1 + outl * 2 + (n_contrib_src <= 1) * 4 + stale * 8
    table = _FLAG_TABLE
    return [table[c] for c in codes.tolist()]


def _near_matrix(n_days: int, days: np.ndarray) -> np.ndarray:
    t = np.arange(n_days)
    return (np.abs(t[:, None] - days[None, :]) <= NEAR_DAYS).astype(float)


# All 16 flag combinations, precomputed (fixed order: conflict, outlier,
# single_source, stale) so building per-day tuples costs a lookup.
_FLAG_TABLE = [
    tuple(
        fl for bit, fl in ((1, FLAG_CONFLICT), (2, FLAG_OUTLIER), (4, FLAG_SINGLE_SOURCE), (8, FLAG_STALE)) if c & bit
    )
    for c in range(16)
]


def flag_table() -> list[tuple[str, ...]]:
    """Flag tuple for each code conflict*1 + outlier*2 + single_source*4 + stale*8."""
    return _FLAG_TABLE
