"""What staff see at a glance: a site's story as chart data, the dashboard, the map.

Staff read these in the admin, where they see every organisation's records;
nothing here is for partners (the API has its own scoped selectors).
"""

from collections import Counter
from datetime import date

from django.db.models import Sum

from shelters.models import (
    AidDistribution,
    CountReport,
    DepartureNotice,
    PopulationEstimate,
    PopulationReport,
    ReconciliationState,
    ReportStatus,
    ReviewItem,
    ReviewStatus,
    Site,
)

# Flags that ask a person to look (single_source alone is a fact, not a problem).
ATTENTION_FLAGS = ("conflict", "outlier", "stale")
ATTENTION_LIMIT = 50


def site_chart_data(site: Site) -> dict:
    """The estimate with its band, every report, notice and distribution of the site, for its chart."""
    estimates = [
        {"date": day.isoformat(), "estimate": estimate, "low": low, "high": high, "flags": flags}
        for day, estimate, low, high, flags in PopulationEstimate.objects.filter(site=site)
        .order_by("date")
        .values_list("date", "estimate", "low", "high", "flags")
    ]
    reports = [
        {
            "id": report.pk,
            "date": report.as_of.isoformat(),
            "source": report.source.slug,
            "source_name": report.source.name,
            "grade": report.source.grade,
            "qualifier": report.qualifier,
            "qualifier_label": str(report.get_qualifier_display()),
            "value": report.value,
            "low": report.low,
            "high": report.high,
            "figure": report.figure_text,
            "status": report.status,
            "status_label": str(report.get_status_display()),
            "is_outlier": report.is_outlier,
            "weight": report.engine_weight,
            "quote": report.quote,
        }
        for report in PopulationReport.objects.filter(site=site)
        .select_related("source", "assessment")
        .order_by("as_of", "pk")
    ]
    notices = [
        {
            "date": notice.issued_on.isoformat(),
            "issuer": notice.issuer,
            "compulsion": notice.compulsion,
            "compulsion_label": str(notice.get_compulsion_display()),
            "summary": notice.summary,
        }
        for notice in DepartureNotice.objects.filter(site=site).order_by("issued_on", "pk")
    ]
    distributions = [
        {
            "date": item.distributed_on.isoformat(),
            "provider": item.provider,
            "item": str(item.get_item_display()),
            "quantity": None if item.quantity is None else float(item.quantity),
            "unit": item.unit,
            "individuals": item.individuals,
        }
        for item in AidDistribution.objects.filter(site=site).order_by("distributed_on", "pk")
    ]
    return {
        "site": {"code": site.code, "name": site.name, "name_ar": site.name_ar},
        "estimates": estimates,
        "reports": reports,
        "notices": notices,
        "distributions": distributions,
    }


def dashboard_summary() -> dict:
    """Totals, sites by status, the latest count report and the sites that need someone to look."""
    states = ReconciliationState.objects.filter(latest_estimate__isnull=False)
    totals = states.aggregate(estimate=Sum("latest_estimate"), low=Sum("latest_low"), high=Sum("latest_high"))
    attention = []
    flagged = 0
    # Filtered in Python: JSON containment is not portable to SQLite; one row per site.
    for site_id, code, name, estimate, day, flags in (
        states.order_by("-latest_estimate")
        .values_list("site_id", "site__code", "site__name", "latest_estimate", "latest_date", "latest_flags")
        .iterator(chunk_size=2000)
    ):
        wanted = [flag for flag in flags or [] if flag in ATTENTION_FLAGS]
        if not wanted:
            continue
        flagged += 1
        if len(attention) < ATTENTION_LIMIT:
            attention.append(
                {"site_id": site_id, "code": code, "name": name, "estimate": estimate, "date": day, "flags": wanted}
            )
    return {
        "totals": {k: v or 0 for k, v in totals.items()},
        "sites_with_estimate": states.count(),
        # Labels, not codes: the page speaks the reader's language.
        "sites_by_status": {
            str(Site.Status(status).label): count
            for status, count in Counter(Site.objects.values_list("status", flat=True)).most_common()
        },
        "latest_count_report": CountReport.objects.filter(status=CountReport.Status.READY)
        .order_by("-period_end", "-generated_at")
        .first(),
        "attention": attention,
        "attention_count": flagged,
        **_capped_count("reports_to_verify", PopulationReport.objects.filter(status=ReportStatus.RECEIVED)),
        "open_reviews": ReviewItem.objects.filter(status=ReviewStatus.OPEN).count(),
        "as_of": _latest_day(),
    }


# Counting a million unverified reports exactly takes a tenth of a second on every
# dashboard view; past this many, "10,000+" says as much.
COUNT_CAP = 10_000


def _capped_count(name: str, queryset) -> dict:
    """``{name: n, name_more: bool}``: the count up to COUNT_CAP, and whether there are more."""
    count = queryset[: COUNT_CAP + 1].count()
    return {name: min(count, COUNT_CAP), f"{name}_more": count > COUNT_CAP}


def _latest_day() -> date | None:
    return ReconciliationState.objects.order_by("-latest_date").values_list("latest_date", flat=True).first()


def site_map_features() -> dict:
    """Every site with coordinates as GeoJSON, with its latest estimate and attention flags."""
    features = []
    for site_id, code, name, name_ar, status, lat, lon, estimate, low, high, flags in (
        Site.objects.filter(latitude__isnull=False, longitude__isnull=False)
        .order_by("code")
        .values_list(
            "pk",
            "code",
            "name",
            "name_ar",
            "status",
            "latitude",
            "longitude",
            "reconciliation__latest_estimate",
            "reconciliation__latest_low",
            "reconciliation__latest_high",
            "reconciliation__latest_flags",
        )
        .iterator(chunk_size=2000)
    ):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
                "properties": {
                    "id": site_id,
                    "code": code,
                    "name": name,
                    "name_ar": name_ar,
                    "status": status,
                    "estimate": estimate,
                    "low": low,
                    "high": high,
                    "flags": [flag for flag in flags or [] if flag in ATTENTION_FLAGS],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
