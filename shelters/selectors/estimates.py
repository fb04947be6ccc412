from datetime import date

from django.db.models import OuterRef, QuerySet, Subquery

from shelters.models import PopulationEstimate, Site


def with_latest_estimate(sites: QuerySet[Site]) -> QuerySet[Site]:
    """Annotate each site with its most recent estimate (``latest_*``), in the same query."""
    latest = PopulationEstimate.objects.filter(site=OuterRef("pk")).order_by("-date")
    return sites.annotate(
        latest_date=Subquery(latest.values("date")[:1]),
        latest_estimate=Subquery(latest.values("estimate")[:1]),
        latest_low=Subquery(latest.values("low")[:1]),
        latest_high=Subquery(latest.values("high")[:1]),
        latest_flags=Subquery(latest.values("flags")[:1]),
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
