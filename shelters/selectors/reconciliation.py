"""Reads that feed the reconciliation engine: reports and notices as engine inputs."""

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from operator import itemgetter

from django.db import connection

from shelters import engine
from shelters.models import COUNTING_STATUSES, DepartureNotice, PopulationReport, Site, Source, SourceReliability


def counting_report_rows(site_ids: Iterable[int] | None = None) -> Iterator[tuple]:
    """Every report that may influence an estimate, ordered by site; rejected and retracted ones are left out.

    Plain SQL on a cursor: the full run reads a million rows, and the ORM's
    per-row work would cost more than the engine itself. Streamed in chunks.
    """
    report, source = PopulationReport._meta.db_table, Source._meta.db_table
    statuses = [str(status) for status in COUNTING_STATUSES]
    where = f"r.status IN ({', '.join(['%s'] * len(statuses))})"
    params: list = list(statuses)
    if site_ids is not None:
        ids = list(site_ids)
        if not ids:
            return
        where += f" AND r.site_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    sql = (
        f"SELECT r.site_id, r.id, s.slug, s.grade, r.method, r.qualifier, r.value, r.low, r.high, r.as_of "
        f"FROM {report} r JOIN {source} s ON s.id = r.source_id WHERE {where} ORDER BY r.site_id, r.as_of, r.id"
    )
    # A server-side cursor on PostgreSQL: a million rows arrive in chunks, not at once.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20_000):
            if rows and isinstance(rows[0][9], str):  # SQLite without declared types: dates as text
                rows = [(*row[:9], date.fromisoformat(row[9])) for row in rows]
            yield from rows


def site_sources(site_ids: Iterable[int] | None = None) -> list[tuple[str, frozenset[str]]]:
    """Each site with counting reports (all, or these), keyed as the engine keys it, with its sources.

    What the engine needs to choose the sites it learns source profiles from,
    without reading every report's figures.
    """
    sites = PopulationReport.objects.filter(status__in=COUNTING_STATUSES)
    if site_ids is not None:
        sites = sites.filter(site_id__in=list(site_ids))
    sources: dict[int, set[str]] = {}
    for site_id, slug in sites.values_list("site_id", "source__slug").distinct().order_by():
        sources.setdefault(site_id, set()).add(slug)
    return [(str(site_id), frozenset(slugs)) for site_id, slugs in sources.items()]


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
    for evidence in site_evidence(site_ids):
        yield evidence.engine_input()


# The digest of a site with no counting report (no input at all).
EMPTY_INPUT_DIGEST = hashlib.blake2b(b"", digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class SiteEvidence:
    """The rows a site's engine input is built from, with their digest.

    Two reads give the same digest exactly when they give the same input, so a
    run can tell a site whose evidence did not move without building its input
    or running the engine. Hashed from the database rows (the repr of plain
    tuples, done in C), not from the engine objects, whose generated reprs
    cost more than the engine.
    """

    site_id: int
    reports: list[tuple]
    notices: list[tuple]
    closed_on: date | None
    digest: str
    sources: frozenset[str]

    def engine_input(self) -> engine.SiteInput:
        return engine.SiteInput(
            key=str(self.site_id),
            reports=tuple(map(_report_input, self.reports)),
            notices=tuple(
                engine.NoticeInput(key=str(pk), issued_on=issued_on, compulsion=compulsion)
                for _, pk, issued_on, compulsion in self.notices
            ),
            closed_on=self.closed_on,
        )


def site_evidence(site_ids: Iterable[int] | None = None) -> Iterator[SiteEvidence]:
    """The evidence of the given sites (all sites when None) that have counting reports, site by site."""
    ids = None if site_ids is None else list(site_ids)
    site_filter = {} if ids is None else {"site_id__in": ids}
    notice_rows: dict[int, list[tuple]] = {}
    for row in (
        DepartureNotice.objects.filter(**site_filter)
        .order_by("site_id", "issued_on", "id")
        .values_list("site_id", "id", "issued_on", "compulsion")
    ):
        notice_rows.setdefault(row[0], []).append(row)
    closed_on = dict(
        Site.objects.filter(closed_on__isnull=False, **({} if ids is None else {"pk__in": ids})).values_list(
            "pk", "closed_on"
        )
    )
    for site_id, group in groupby(counting_report_rows(ids), key=itemgetter(0)):
        rows = list(group)
        notices = notice_rows.get(site_id, [])
        closed = closed_on.get(site_id)
        yield SiteEvidence(
            site_id=site_id,
            reports=rows,
            notices=notices,
            closed_on=closed,
            digest=hashlib.blake2b(repr((rows, notices, closed)).encode(), digest_size=16).hexdigest(),
            sources=frozenset(map(itemgetter(2), rows)),
        )


def source_profiles() -> dict[str, engine.SourceProfile]:
    """The learned source profiles, keyed by source slug, as the engine takes them."""
    known = set(engine.SourceProfile.__dataclass_fields__)
    profiles = {}
    for slug, profile in SourceReliability.objects.values_list("source__slug", "profile"):
        # Fields a newer engine dropped are ignored; ones it added take their defaults.
        profiles[slug] = engine.SourceProfile(**{k: v for k, v in profile.items() if k in known})
    return profiles
