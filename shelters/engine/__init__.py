"""Reconciliation engine: from scattered, graded population reports to one
daily estimate per site with a calibrated 90 % band.  Pure Python + numpy
(the normal CDF is in _special.py); no Django.  See model.py for the method."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .reconcile import reconcile_many, reconcile_site
from .sources import learn_source_profiles, learning_sample
from .types import (
    FLAG_CONFLICT,
    FLAG_OUTLIER,
    FLAG_SINGLE_SOURCE,
    FLAG_STALE,
    FLAGS,
    DailyEstimate,
    NoticeInput,
    ReportAssessment,
    ReportInput,
    SiteInput,
    SiteResult,
    SourceProfile,
)

ENGINE_VERSION = "3.2.1"


def reconcile_all(sites: Iterable[SiteInput], *, until: date) -> tuple[dict[str, SourceProfile], list[SiteResult]]:
    """Learn source profiles from all sites, then reconcile each site with them."""
    site_list = list(sites)
    profiles = learn_source_profiles(site_list, until=until)
    return profiles, reconcile_many(site_list, until=until, profiles=profiles)


__all__ = [
    "ENGINE_VERSION",
    "FLAGS",
    "FLAG_CONFLICT",
    "FLAG_OUTLIER",
    "FLAG_SINGLE_SOURCE",
    "FLAG_STALE",
    "DailyEstimate",
    "NoticeInput",
    "ReportAssessment",
    "ReportInput",
    "SiteInput",
    "SiteResult",
    "SourceProfile",
    "learn_source_profiles",
    "learning_sample",
    "reconcile_all",
    "reconcile_many",
    "reconcile_site",
]
