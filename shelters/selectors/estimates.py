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
    )
