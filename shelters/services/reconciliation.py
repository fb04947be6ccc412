"""Running the reconciliation engine against the database and storing what it says.

The engine (``shelters.engine``) is pure Python; this module is its adapter:
it reads counting reports, runs the engine, and writes each site's estimate
series in the same transaction that holds the site's reconciliation lock, so
a run killed half-way leaves the old series and two runs never interleave.
"""

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from shelters import engine
from shelters.models import (
    PopulationEstimate,
    PopulationReport,
    ReconciliationState,
    Site,
    Source,
    SourceReliability,
)
from shelters.selectors.reconciliation import site_inputs, source_profiles

from . import notifications
from .versions import sites_changed

# Sites reconciled (and locked) together in one transaction by the full run.
CHUNK_SIZE = 200
# A request still pending after this long probably lost its message (a broker
# restart); the sweeper enqueues it again.
STALE_REQUEST = timedelta(minutes=10)
# Weights are stored rounded: enough to explain an estimate, and stable, so an
# unchanged input compares equal to what is stored and nothing is rewritten.
WEIGHT_DECIMALS = 4

ESTIMATE_FIELDS = ("estimate", "low", "high", "flags", "contributions", "engine_version")


@dataclass
class RunStats:
    sites: int = 0
    reports: int = 0
    estimates_written: int = 0
    estimates_deleted: int = 0
    reports_reassessed: int = 0

    def add(self, other: "RunStats") -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def today() -> date:
    return timezone.now().date()


# --- requests (called by every write that changes a site's evidence) ---------


def _ensure_states(site_ids: Iterable[int]) -> None:
    """Every site gets its state row on first need (the row runs lock and requests claim)."""
    ReconciliationState.objects.bulk_create(
        [ReconciliationState(site_id=site_id) for site_id in site_ids], ignore_conflicts=True
    )


def reconciliation_request(*, site_ids: Iterable[int]) -> list[int]:
    """Ask for the given sites to be reconciled once the current transaction commits.

    Only a site that was not already pending gets a task: bursts coalesce.
    Returns the sites for which a task was enqueued.
    """
    from shelters.tasks import reconcile_site_task  # tasks import services; avoid the cycle

    ids = sorted(set(site_ids))
    if not ids:
        return []
    _ensure_states(ids)
    # One conditional UPDATE is the claim: only the sites it flips from idle to
    # pending get a task, so a burst (or a bulk of a thousand reports) coalesces.
    table = ReconciliationState._meta.db_table
    enqueued: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):  # within every database's parameter limit
            chunk = ids[start : start + 5000]
            cursor.execute(
                f"UPDATE {table} SET pending = %s, requested_at = %s "
                f"WHERE pending = %s AND site_id IN ({', '.join(['%s'] * len(chunk))}) RETURNING site_id",
                [True, timezone.now(), False, *chunk],
            )
            enqueued += sorted(row[0] for row in cursor.fetchall())
    for site_id in enqueued:
        reconcile_site_task.delay_on_commit(site_id)
    return enqueued


def requeue_stale_requests() -> list[int]:
    """Enqueue again the requests whose task seems lost (pending for too long)."""
    from shelters.tasks import reconcile_site_task

    cutoff = timezone.now() - STALE_REQUEST
    stale = list(
        ReconciliationState.objects.filter(pending=True, requested_at__lt=cutoff).values_list("site_id", flat=True)
    )
    for site_id in stale:
        ReconciliationState.objects.filter(site_id=site_id, pending=True).update(requested_at=timezone.now())
        reconcile_site_task.delay_on_commit(site_id)
    return stale


# --- runs ---------------------------------------------------------------------


def reconcile_sites(
    *,
    site_ids: Iterable[int],
    until: date | None = None,
    profiles: dict[str, engine.SourceProfile] | None = None,
) -> RunStats:
    """Reconcile these sites with the stored source profiles, in one locked transaction.

    Safe to run twice and concurrently with other runs: the state rows are
    locked in site order (no deadlocks), the reports are read under the lock,
    and only changed estimates are written.
    """
    until = until or today()
    ids = sorted(set(site_ids))
    if profiles is None:
        profiles = source_profiles()
    stats = RunStats()
    _ensure_states(ids)
    with transaction.atomic():
        locked = list(
            ReconciliationState.objects.select_for_update().filter(site_id__in=ids).order_by("site_id").values("pk")
        )
        started = timezone.now()
        # Requests made before this point are answered by this run.
        ReconciliationState.objects.filter(site_id__in=ids).update(pending=False, started_at=started)
        inputs = {int(site.key): site for site in site_inputs(ids)}
        results = engine.reconcile_many(list(inputs.values()), until=until, profiles=profiles)
        by_site = {int(result.site): result for result in results}
        stats.sites = len(locked)
        stats.reports = sum(len(site.reports) for site in inputs.values())
        changed_sites = _store_estimates(ids, by_site, started, stats)
        _store_assessments(ids, by_site, stats)
        finished = timezone.now()
        _update_rows(
            ReconciliationState._meta.db_table,
            "site_id",
            {"finished_at": "timestamptz", "engine_version": "text", "reports_used": "integer"},
            [
                (site_id, finished, engine.ENGINE_VERSION, len(inputs[site_id].reports) if site_id in inputs else 0)
                for site_id in ids
            ],
        )
        refresh_latest_estimates(site_ids=ids)
        notifications.estimates_changed(changed_sites, started)
    return stats


def refresh_latest_estimates(*, site_ids: list[int]) -> None:
    """Copy each site's most recent estimate onto its reconciliation state (the read model of the sites list)."""
    _ensure_states(site_ids)
    newest = PopulationEstimate.objects.filter(site_id=OuterRef("site_id")).order_by("-date").values("date")[:1]
    latest = {
        site_id: (day, estimate, low, high, json.dumps(flags))
        for site_id, day, estimate, low, high, flags in PopulationEstimate.objects.filter(
            site_id__in=site_ids, date=Subquery(newest)
        ).values_list("site_id", "date", "estimate", "low", "high", "flags")
    }
    _update_rows(
        ReconciliationState._meta.db_table,
        "site_id",
        {
            "latest_date": "date",
            "latest_estimate": "integer",
            "latest_low": "integer",
            "latest_high": "integer",
            "latest_flags": "jsonb",
        },
        [(site_id, *latest.get(site_id, (None, None, None, None, "[]"))) for site_id in site_ids],
    )
    sites_changed()


def reconcile_site(*, site_id: int, until: date | None = None) -> RunStats:
    return reconcile_sites(site_ids=[site_id], until=until)


def learn_source_profiles(
    *, until: date | None = None, site_ids: list[int] | None = None
) -> dict[str, engine.SourceProfile]:
    """Learn every source's bias, noise and lag from all sites (or these), and store them."""
    until = until or today()
    profiles = engine.learn_source_profiles(site_inputs(site_ids), until=until)
    now = timezone.now()
    sources = dict(Source.objects.filter(slug__in=profiles).values_list("slug", "pk"))
    with transaction.atomic():
        SourceReliability.objects.bulk_create(
            [
                SourceReliability(
                    source_id=sources[slug],
                    profile=dataclasses.asdict(profile),
                    engine_version=engine.ENGINE_VERSION,
                    learned_at=now,
                )
                for slug, profile in profiles.items()
                if slug in sources
            ],
            update_conflicts=True,
            unique_fields=["source"],
            update_fields=["profile", "engine_version", "learned_at"],
        )
    return profiles


def reconcile_everything(
    *,
    until: date | None = None,
    site_ids: list[int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[int], None] | None = None,
) -> RunStats:
    """Learn source profiles, then reconcile every site (or these) chunk by chunk, in-process."""
    until = until or today()
    profiles = learn_source_profiles(until=until, site_ids=site_ids)
    stats = RunStats()
    for chunk in site_chunks(chunk_size, site_ids=site_ids):
        stats.add(reconcile_sites(site_ids=chunk, until=until, profiles=profiles))
        if on_chunk:
            on_chunk(len(chunk))
    return stats


def site_chunks(chunk_size: int = CHUNK_SIZE, site_ids: list[int] | None = None) -> list[list[int]]:
    sites = Site.objects.order_by("pk")
    if site_ids is not None:
        sites = sites.filter(pk__in=site_ids)
    ids = list(sites.values_list("pk", flat=True))
    return [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]


# --- storage ------------------------------------------------------------------


def _estimate_row(daily: engine.DailyEstimate) -> tuple:
    """The stored form of one day, JSON as text: compared with what is stored, then written.

    Formatted by hand, exactly as json.dumps would (flags are plain names, keys
    integers, weights floats), because a full run formats two million of them.
    """
    flags = ", ".join(f'"{flag}"' for flag in sorted(daily.flags))
    contributions = ", ".join(
        f"[{int(key)}, {round(weight, WEIGHT_DECIMALS)!r}]" for key, weight in daily.contributions
    )
    return (daily.estimate, daily.low, daily.high, f"[{flags}]", f"[{contributions}]", engine.ENGINE_VERSION)


def _stored_estimates(site_ids: list[int]) -> dict[int, dict[date, tuple]]:
    # Raw SQL: JSON compared as the database renders it (same separators as
    # json.dumps), without decoding a million values through the ORM.
    json_text = "::text" if connection.vendor == "postgresql" else ""
    stored: dict[int, dict[date, tuple]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(site_ids), 500):
            chunk = site_ids[start : start + 500]
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT site_id, date, estimate, low, high, flags{json_text}, contributions{json_text}, "
                f"engine_version FROM {PopulationEstimate._meta.db_table} WHERE site_id IN ({placeholders})",
                chunk,
            )
            for site_id, day, *values in cursor.fetchall():
                if isinstance(day, str):  # SQLite without declared types: dates as text
                    day = date.fromisoformat(day)
                stored.setdefault(site_id, {})[day] = tuple(values)
    return stored


def _store_estimates(
    site_ids: list[int], results: dict[int, engine.SiteResult], computed_at, stats: RunStats
) -> set[int]:
    """Write what changed; returns the sites whose series changed."""
    stored = _stored_estimates(site_ids)
    changed_sites: set[int] = set()
    changed: list[tuple] = []
    obsolete = Q()
    for site_id in site_ids:
        previous = stored.get(site_id, {})
        result = results.get(site_id)
        days = set()
        for daily in result.estimates if result else ():
            days.add(daily.day)
            row = _estimate_row(daily)
            if previous.get(daily.day) != row:
                changed.append((site_id, daily.day, *row, computed_at))
                changed_sites.add(site_id)
        gone = [day for day in previous if day not in days]
        if gone:
            obsolete |= Q(site_id=site_id, date__in=gone)
            changed_sites.add(site_id)
    if obsolete:
        stats.estimates_deleted += PopulationEstimate.objects.filter(obsolete).delete()[0]
    _upsert_estimates(changed)
    stats.estimates_written += len(changed)
    return changed_sites


_UPSERT_COLUMNS = ("site_id", "date", *ESTIMATE_FIELDS, "computed_at")


def _upsert_estimates(rows: list[tuple]) -> None:
    """Insert or update estimate rows in bulk, bypassing the ORM's per-object cost.

    A full run writes a row per site-day (a million for 10,000 sites): at that
    size ``bulk_create`` spends most of its time building objects and SQL.
    """
    if not rows:
        return
    table = PopulationEstimate._meta.db_table
    columns = ", ".join(_UPSERT_COLUMNS)
    updates = ", ".join(f"{column} = excluded.{column}" for column in (*ESTIMATE_FIELDS, "computed_at"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY into a scratch table, then one INSERT ... ON CONFLICT: the fastest path in.
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS estimate_upsert (site_id bigint, date date, estimate integer, "
                "low integer, high integer, flags jsonb, contributions jsonb, engine_version varchar(32), "
                "computed_at timestamptz) ON COMMIT DELETE ROWS"
            )
            with cursor.cursor.copy(f"COPY estimate_upsert ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM estimate_upsert "
                f"ON CONFLICT (site_id, date) DO UPDATE SET {updates}"
            )
            cursor.execute("TRUNCATE estimate_upsert")
        else:
            placeholders = ", ".join(["%s"] * len(_UPSERT_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
                f"ON CONFLICT (site_id, date) DO UPDATE SET {updates}",
                rows,
            )


def _store_assessments(site_ids: list[int], results: dict[int, engine.SiteResult], stats: RunStats) -> None:
    """Each report's engine weight and outlier flag; reports that no longer count get neither."""
    assessed = {
        int(a.key): (round(a.weight, WEIGHT_DECIMALS), a.outlier)
        for result in results.values()
        for a in result.assessments
    }
    changed = []
    for pk, weight, outlier in PopulationReport.objects.filter(site_id__in=site_ids).values_list(
        "pk", "engine_weight", "is_outlier"
    ):
        new = assessed.get(pk, (None, False))
        if (weight, outlier) != new:
            changed.append((pk, *new))
    _update_report_assessments(changed)
    stats.reports_reassessed += len(changed)


def _update_report_assessments(rows: list[tuple[int, float | None, bool]]) -> None:
    # Engine-owned fields, written without history rows: they change on every
    # reconciliation and are derived from the (history-tracked) reports.
    _update_rows(
        PopulationReport._meta.db_table,
        "id",
        {"engine_weight": "double precision", "is_outlier": "boolean"},
        rows,
    )


def _update_rows(table: str, key: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """Set ``columns`` (name: PostgreSQL type) of many rows, each ``(key, *values)``.

    One UPDATE ... FROM (VALUES ...) per batch on PostgreSQL, executemany on
    SQLite: the ORM's bulk_update builds a CASE per field that grows with the batch.
    """
    if not rows:
        return
    names = list(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            row_sql = "(" + ", ".join(["%s::bigint", *(f"%s::{kind}" for kind in columns.values())]) + ")"
            assignments = ", ".join(f"{name} = v.{name}" for name in names)
            for start in range(0, len(rows), 5000):
                batch = rows[start : start + 5000]
                cursor.execute(
                    f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([row_sql] * len(batch))}) "
                    f"AS v(key, {', '.join(names)}) WHERE t.{key} = v.key",
                    [value for row in batch for value in row],
                )
        else:
            assignments = ", ".join(f"{name} = %s" for name in names)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {key} = %s", [(*row[1:], row[0]) for row in rows]
            )
