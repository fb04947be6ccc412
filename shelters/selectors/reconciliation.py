"""Reads that feed the reconciliation engine: reports and notices as engine inputs."""

from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter

from shelters import engine
from shelters.models import COUNTING_STATUSES, DepartureNotice, PopulationReport, Site, SourceReliability

# Columns read per report, in this order; the one query the full run depends on.
REPORT_COLUMNS = (
    "site_id",
    "id",
    "source__slug",
    "source__grade",
    "method",
    "qualifier",
    "value",
    "low",
    "high",
    "as_of",
)


def counting_report_rows(site_ids: Iterable[int] | None = None) -> Iterator[tuple]:
    """Every report that may influence an estimate, ordered by site; rejected and retracted ones are left out."""
    reports = PopulationReport.objects.filter(status__in=COUNTING_STATUSES)
    if site_ids is not None:
        reports = reports.filter(site_id__in=list(site_ids))
    # Streamed: the full run must not hold a million model instances.
    return reports.order_by("site_id", "as_of", "id").values_list(*REPORT_COLUMNS).iterator(chunk_size=20_000)


def _report_input(row: tuple) -> engine.ReportInput:
    _, pk, source, grade, method, qualifier, value, low, high, as_of = row
    return engine.ReportInput(
        key=str(pk),
        source=source,
        grade=grade or None,
        method=method,
        qualifier=qualifier,
        value=value,
        low=low,
        high=high,
        as_of=as_of,
    )


def site_inputs(site_ids: Iterable[int] | None = None) -> Iterator[engine.SiteInput]:
    """Engine inputs for the given sites (all sites when None) that have counting reports."""
    ids = None if site_ids is None else list(site_ids)
    site_filter = {} if ids is None else {"site_id__in": ids}
    notices: dict[int, list[engine.NoticeInput]] = {}
    for site_id, pk, issued_on, compulsion in (
        DepartureNotice.objects.filter(**site_filter)
        .order_by("site_id", "issued_on", "id")
        .values_list("site_id", "id", "issued_on", "compulsion")
    ):
        notices.setdefault(site_id, []).append(
            engine.NoticeInput(key=str(pk), issued_on=issued_on, compulsion=compulsion)
        )
    closed_on = dict(
        Site.objects.filter(closed_on__isnull=False, **({} if ids is None else {"pk__in": ids})).values_list(
            "pk", "closed_on"
        )
    )
    for site_id, rows in groupby(counting_report_rows(ids), key=itemgetter(0)):
        yield engine.SiteInput(
            key=str(site_id),
            reports=tuple(map(_report_input, rows)),
            notices=tuple(notices.get(site_id, ())),
            closed_on=closed_on.get(site_id),
        )


def source_profiles() -> dict[str, engine.SourceProfile]:
    """The learned source profiles, keyed by source slug, as the engine takes them."""
    known = set(engine.SourceProfile.__dataclass_fields__)
    profiles = {}
    for slug, profile in SourceReliability.objects.values_list("source__slug", "profile"):
        # Fields a newer engine dropped are ignored; ones it added take their defaults.
        profiles[slug] = engine.SourceProfile(**{k: v for k, v in profile.items() if k in known})
    return profiles
