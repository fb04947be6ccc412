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

from .types import FLAG_CONFLICT, FLAG_OUTLIER, FLAG_SINGLE_SOURCE, FLAG_STALE

STALE_DAYS = 7
NEAR_DAYS = 3
SINGLE_MIN_WEIGHT = 0.05


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
