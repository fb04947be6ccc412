from datetime import date

from django.db.models import F, QuerySet

from shelters.models import PopulationEstimate, Site


def with_latest_estimate(sites: QuerySet[Site]) -> QuerySet[Site]:
    """Annotate each site with its most recent estimate (``latest_*``), in the same query.

    Read from the copy each reconciliation keeps on the site's state row: one
    join, where a subquery per column and site made the sites list slow.
    """
    return sites.annotate(
        latest_date=F("reconciliation__latest_date"),
        latest_estimate=F("reconciliation__latest_estimate"),
        latest_low=F("reconciliation__latest_low"),
        latest_high=F("reconciliation__latest_high"),
        latest_flags=F("reconciliation__latest_flags"),
    )


def current_estimate(*, site: Site, on: date | None = None) -> PopulationEstimate | None:
    """The site's estimate for ``on`` (default: the latest day it has, normally today)."""
    estimates = PopulationEstimate.objects.filter(site=site)
    if on is not None:
        estimates = estimates.filter(date__lte=on)
    return estimates.order_by("-date").first()


def estimates_between(
    *, site: Site | None = None, start: date | None = None, end: date | None = None
) -> QuerySet[PopulationEstimate]:
    """Estimates ordered by site and date, optionally for one site and a date range (inclusive)."""
    estimates = PopulationEstimate.objects.all()
    if site is not None:
        estimates = estimates.filter(site=site)
    if start is not None:
        estimates = estimates.filter(date__gte=start)
    if end is not None:
        estimates = estimates.filter(date__lte=end)
    return estimates.order_by("site_id", "date")
