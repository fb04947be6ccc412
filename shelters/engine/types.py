"""Plain data carried in and out of the reconciliation engine.

Everything here is immutable and Django-free so the adapter can build inputs
from querysets and store outputs without the engine knowing about models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Qualifiers (what kind of statement a report makes about the population).
EXACT = "exact"
APPROX = "approx"
AT_LEAST = "at_least"
AT_MOST = "at_most"
RANGE = "range"
QUALIFIERS = (EXACT, APPROX, AT_LEAST, AT_MOST, RANGE)

METHODS = ("registration", "headcount", "estimate", "key_informant", "media_claim", "other")
GRADES = ("A", "B", "C", "D", "E", "F")
COMPULSIONS = ("voluntary", "mandatory", "unclear")

# Daily flags (fixed vocabulary; the adapter may store them as-is).
FLAG_CONFLICT = "conflict"
FLAG_STALE = "stale"
FLAG_SINGLE_SOURCE = "single_source"
FLAG_OUTLIER = "outlier"
FLAGS = (FLAG_CONFLICT, FLAG_OUTLIER, FLAG_SINGLE_SOURCE, FLAG_STALE)


@dataclass(frozen=True, slots=True)
class ReportInput:
    key: str  # the report's id as text (also the deterministic tie-break)
    source: str  # source slug; per-source profiles are keyed by it
    grade: str | None  # Admiralty reliability A..F, None = unknown
    method: str  # registration|headcount|estimate|key_informant|media_claim|other
    qualifier: str  # exact|approx|at_least|at_most|range
    value: float | None
    low: float | None
    high: float | None
    as_of: date


@dataclass(frozen=True, slots=True)
class NoticeInput:
    key: str
    issued_on: date
    compulsion: str  # voluntary|mandatory|unclear


@dataclass(frozen=True, slots=True)
class SiteInput:
    key: str
    reports: tuple[ReportInput, ...]
    notices: tuple[NoticeInput, ...] = ()
    closed_on: date | None = None


@dataclass(frozen=True, slots=True)
class SourceProfile:
    """What the engine has learned about one source across many sites.

    ``log_bias``/``noise_scale`` apply to value claims (exact, approx, range):
    the claim is read as ``log(value) - log_bias`` with its prior noise
    multiplied by ``noise_scale``.  ``bound_gap``/``bound_spread`` describe
    bound claims (at_least/at_most): how far inside the bound (log units) the
    consensus typically lies and how variable that distance is.  Neutral
    values mean "nothing learned" and reproduce the prior.
    """

    source: str
    log_bias: float = 0.0
    noise_scale: float = 1.0
    n: int = 0  # value claims the estimate rests on
    bound_gap: float | None = None  # None = use the prior default
    bound_spread: float | None = None
    n_bounds: int = 0  # bound claims the bound_* figures rest on
    bound_eps: float | None = None  # learned share of this source's bounds that are wrong
    # Reporting lag in days: the source's figures describe the population
    # ``lag`` days before their as_of date (registration lists lag, news
    # agencies repeat old figures).  Learned against the other sources.
    lag: int = 0
    # Sd (log) of the part of the source's error that stays with a site from one
    # report to the next, for its value claims and for its bounds' distance:
    # claims sharing it do not average it away, so the band carries it.
    site_sd: float = 0.0
    bound_site_sd: float = 0.0


@dataclass(frozen=True, slots=True)
class DailyEstimate:
    day: date
    estimate: int
    low: int  # 90 % band
    high: int
    flags: tuple[str, ...]
    # (report key, normalised weight), by decreasing weight then key; sums to 1
    contributions: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ReportAssessment:
    key: str
    weight: float  # robust weight in [0, 1]: 1 = fully trusted, ~0 = ignored
    outlier: bool


@dataclass(frozen=True, slots=True)
class SiteResult:
    site: str
    estimates: tuple[DailyEstimate, ...]
    assessments: tuple[ReportAssessment, ...]
