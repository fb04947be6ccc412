"""Running the reconciliation engine against the database and storing what it says.

The engine (``shelters.engine``) is pure Python; this module is its adapter:
it reads counting reports, runs the engine, and writes each site's estimate
series in the same transaction that holds the site's reconciliation lock, so
a run killed half-way leaves the old series and two runs never interleave.
"""

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce

from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from shelters import engine
from shelters.models import (
    PopulationEstimate,
    ReconciliationState,
    ReportAssessment,
    Site,
    Source,
    SourceReliability,
)
from shelters.selectors.reconciliation import (
    EMPTY_INPUT_DIGEST,
    SiteEvidence,
    site_evidence,
    site_inputs,
    site_sources,
    source_profiles,
)

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

STATE_RUN_COLUMNS = {
    "finished_at": "timestamptz",
    "engine_version": "text",
    "reports_used": "integer",
    "input_fingerprint": "text",
}
LATEST_COLUMNS = {
    "latest_date": "date",
    "latest_estimate": "integer",
    "latest_low": "integer",
    "latest_high": "integer",
    "latest_flags": "jsonb",
}

ESTIMATE_FIELDS = ("estimate", "low", "high", "flags", "contributions", "engine_version")


@dataclass
class RunStats:
    sites: int = 0
    sites_computed: int = 0  # the others' input had not changed since their series was stored
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
    # Lock the state rows first (in site order, as runs do). A run in progress
    # holds its sites' rows until it commits, so this waits for it and then
    # sees its pending=False: the site gets a new task, which will read the
    # reports this transaction adds. A conditional UPDATE alone would skip a row
    # still showing the older pending=True while the run, having read the
    # reports before this transaction committed, clears it: those reports
    # would wait for the nightly run. Only sites not already pending get a
    # task, so a burst (or a bulk of a thousand reports) still coalesces.
    table = ReconciliationState._meta.db_table
    enqueued: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):  # within every database's parameter limit
            chunk = ids[start : start + 5000]
            placeholders = ", ".join(["%s"] * len(chunk))
            lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
            cursor.execute(
                f"SELECT site_id, pending FROM {table} WHERE site_id IN ({placeholders}) ORDER BY site_id{lock}", chunk
            )
            enqueued += [site_id for site_id, pending in cursor.fetchall() if not pending]
            # requested_at marks when the site became pending (the sweeper's clock), not the latest request.
            cursor.execute(
                f"UPDATE {table} SET requested_at = CASE WHEN pending THEN requested_at ELSE %s END, pending = %s "
                f"WHERE site_id IN ({placeholders})",
                [timezone.now(), True, *chunk],
            )
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
    force: bool = False,
) -> RunStats:
    """Reconcile these sites with the stored source profiles, in one locked transaction.

    Safe to run twice and concurrently with other runs: the state rows are
    locked in site order (no deadlocks), the reports are read under the lock,
    and only changed estimates are written. A site whose input fingerprint
    matches the one stored with its series is not recomputed (``force``
    recomputes every site).
    """
    until = until or today()
    ids = sorted(set(site_ids))
    if profiles is None:
        profiles = source_profiles()
    stats = RunStats()
    _ensure_states(ids)
    with transaction.atomic():
        stored = dict(
            ReconciliationState.objects.select_for_update()
            .filter(site_id__in=ids)
            .order_by("site_id")
            .values_list("site_id", "input_fingerprint")
        )
        started = timezone.now()
        # Requests made before this point are answered by this run.
        ReconciliationState.objects.filter(site_id__in=ids).update(pending=False, started_at=started)
        evidence: dict[int, SiteEvidence] = {}
        fingerprints = dict.fromkeys(ids, _fingerprint(EMPTY_INPUT_DIGEST, (), {}, until))
        for site in site_evidence(ids):
            evidence[site.site_id] = site
            fingerprints[site.site_id] = _fingerprint(site.digest, site.sources, profiles, until)
        todo = [site_id for site_id in ids if force or fingerprints[site_id] != stored.get(site_id)]
        computed = [evidence[site_id].engine_input() for site_id in todo if site_id in evidence]
        results = engine.reconcile_many(computed, until=until, profiles=profiles)
        by_site = {int(result.site): result for result in results}
        stats.sites = len(stored)
        stats.sites_computed = len(todo)
        stats.reports = sum(len(site.reports) for site in evidence.values())
        changed_sites = _store_estimates(todo, by_site, started, stats)
        _store_assessments(todo, by_site, stats)
        finished = timezone.now()
        _update_rows(
            ReconciliationState._meta.db_table,
            "site_id",
            STATE_RUN_COLUMNS,
            [
                (
                    site_id,
                    finished,
                    engine.ENGINE_VERSION,
                    len(evidence[site_id].reports) if site_id in evidence else 0,
                    fingerprints[site_id],
                )
                for site_id in ids
            ],
        )
        _store_latest(todo, by_site)
        from .reviews import review_items_refresh  # reviews use the report services, which import this module

        # Review items follow the flags and outliers, which move only with a recomputed series.
        review_items_refresh(site_ids=todo)
        notifications.estimates_changed(changed_sites, started)
    return stats


def _fingerprint(digest: str, sources: Iterable[str], profiles: dict[str, engine.SourceProfile], until: date) -> str:
    """Everything a site's series depends on: its evidence (digested), its sources' profiles, the engine, the day."""
    learned = [repr(profiles[source]) for source in sorted(sources) if source in profiles]
    content = "|".join([engine.ENGINE_VERSION, until.isoformat(), digest, *learned])
    return hashlib.blake2b(content.encode(), digest_size=16).hexdigest()


def _store_latest(site_ids: list[int], results: dict[int, engine.SiteResult]) -> None:
    """Each series' newest day onto the site's state: what ``refresh_latest_estimates`` would read back."""
    rows = []
    for site_id in site_ids:
        result = results.get(site_id)
        if result is None or not result.estimates:
            rows.append((site_id, None, None, None, None, "[]"))
            continue
        newest = result.estimates[-1]
        rows.append((site_id, newest.day, newest.estimate, newest.low, newest.high, json.dumps(sorted(newest.flags))))
    _update_rows(ReconciliationState._meta.db_table, "site_id", LATEST_COLUMNS, rows)
    sites_changed()


def refresh_latest_estimates(*, site_ids: list[int]) -> None:
    """Copy each site's most recent stored estimate onto its reconciliation state (the sites list's read model).

    Runs write the read model from their results (``_store_latest``); this
    rebuilds it from the stored rows, for estimates written by other means."""
    _ensure_states(site_ids)
    # Each site's newest day from the (site, date) index in one grouped query;
    # a correlated subquery per estimate row cost more than the run's writes.
    newest = (
        PopulationEstimate.objects.filter(site_id__in=site_ids)
        .values("site_id")
        .annotate(newest=Max("date"))
        .values_list("site_id", "newest")
    )
    latest: dict[int, tuple] = {}
    for chunk in _chunks(list(newest), 2000):
        latest.update(
            (site_id, (day, estimate, low, high, json.dumps(flags)))
            for site_id, day, estimate, low, high, flags in PopulationEstimate.objects.filter(
                reduce(operator.or_, (Q(site_id=site_id, date=day) for site_id, day in chunk))
            ).values_list("site_id", "date", "estimate", "low", "high", "flags")
        )
    _update_rows(
        ReconciliationState._meta.db_table,
        "site_id",
        LATEST_COLUMNS,
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
    # Only the sites the engine learns from are read (a sample, past a few thousand sites).
    sample = [int(key) for key in engine.learning_sample(site_sources(site_ids))]
    profiles = engine.learn_source_profiles(site_inputs(sample), until=until, sampled=True)
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
    force: bool = False,
) -> RunStats:
    """Learn source profiles, then reconcile every site (or these) chunk by chunk, in-process."""
    until = until or today()
    profiles = learn_source_profiles(until=until, site_ids=site_ids)
    stats = RunStats()
    for chunk in site_chunks(chunk_size, site_ids=site_ids):
        stats.add(reconcile_sites(site_ids=chunk, until=until, profiles=profiles, force=force))
        if on_chunk:
            on_chunk(len(chunk))
    return stats


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def site_chunks(chunk_size: int = CHUNK_SIZE, site_ids: list[int] | None = None) -> list[list[int]]:
    sites = Site.objects.order_by("pk")
    if site_ids is not None:
        sites = sites.filter(pk__in=site_ids)
    return _chunks(list(sites.values_list("pk", flat=True)), chunk_size)


# --- storage ------------------------------------------------------------------


CONTRIBUTION_JSON = f"[%s, %.{WEIGHT_DECIMALS}f]"
_flags_json: dict[tuple[str, ...], str] = {}


def _estimate_row(daily: engine.DailyEstimate) -> tuple:
    """The stored form of one day, JSON as text: compared with what is stored, then written.

    Formatted by hand, as json.dumps would (flags are plain names, keys
    integers, weights floats with WEIGHT_DECIMALS), because a full run
    formats a million of them; the few combinations of flags are formatted once.
    """
    flags = _flags_json.get(daily.flags)
    if flags is None:
        flags = _flags_json[daily.flags] = json.dumps(sorted(daily.flags))
    contributions = ", ".join([CONTRIBUTION_JSON % pair for pair in daily.contributions])
    return (daily.estimate, daily.low, daily.high, flags, f"[{contributions}]", engine.ENGINE_VERSION)


def _store_estimates(
    site_ids: list[int], results: dict[int, engine.SiteResult], computed_at, stats: RunStats
) -> set[int]:
    """Write what changed and remove days no longer estimated; returns the sites whose series changed."""
    rows = [
        (site_id, daily.day, *_estimate_row(daily), computed_at)
        for site_id in site_ids
        if (result := results.get(site_id))
        for daily in result.estimates
    ]
    if connection.vendor == "postgresql":
        return _store_estimates_postgresql(site_ids, rows, stats)
    return _store_estimates_compared(site_ids, rows, stats)


_UPSERT_COLUMNS = ("site_id", "date", *ESTIMATE_FIELDS, "computed_at")


def _store_estimates_postgresql(site_ids: list[int], rows: list[tuple], stats: RunStats) -> set[int]:
    """COPY the new series in; for sites with a stored series, compare in the database and write what differs.

    A full run writes a row per site-day (a million for 10,000 sites): COPY is
    the fastest way in. A site with nothing stored yet (a new deployment, a new
    engine version's first night after ``--force``, a new site) has nothing to
    compare with, so its rows go straight into the table; the others go through
    a scratch table, and comparing in SQL spares reading the old series back.
    """
    if not site_ids:
        return set()
    table = PopulationEstimate._meta.db_table
    columns = ", ".join(_UPSERT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s FROM unnest(%s::bigint[]) AS s WHERE EXISTS (SELECT 1 FROM {table} WHERE site_id = s)",
            [site_ids],
        )
        stored = {site_id for (site_id,) in cursor.fetchall()}
        fresh = [row for row in rows if row[0] not in stored]
        if fresh:
            # The sites are locked by this run: nobody else writes their estimates meanwhile.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in fresh:
                    copy.write_row(row)
        written = {row[0] for row in fresh}
        if stored:
            written |= _upsert_estimates_postgresql(
                cursor, sorted(stored), [row for row in rows if row[0] in stored], stats
            )
    stats.estimates_written += len(fresh)
    return written


def _upsert_estimates_postgresql(cursor, site_ids: list[int], rows: list[tuple], stats: RunStats) -> set[int]:
    table = PopulationEstimate._meta.db_table
    columns = ", ".join(_UPSERT_COLUMNS)
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS estimate_upsert (site_id bigint, date date, estimate integer, "
        "low integer, high integer, flags jsonb, contributions jsonb, engine_version varchar(32), "
        "computed_at timestamptz, PRIMARY KEY (site_id, date)) ON COMMIT DELETE ROWS"
    )
    cursor.execute("TRUNCATE estimate_upsert")
    with cursor.cursor.copy(f"COPY estimate_upsert ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute("ANALYZE estimate_upsert")
    # Unchanged rows are left alone (their computed_at too): a rerun writes nothing.
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM estimate_upsert "
        f"ON CONFLICT (site_id, date) DO UPDATE SET "
        + ", ".join(f"{column} = excluded.{column}" for column in (*ESTIMATE_FIELDS, "computed_at"))
        + f" WHERE ({', '.join(f'{table}.{c}' for c in ESTIMATE_FIELDS)}) "
        f"IS DISTINCT FROM ({', '.join(f'excluded.{c}' for c in ESTIMATE_FIELDS)}) RETURNING site_id"
    )
    written = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        f"DELETE FROM {table} AS e WHERE e.site_id = ANY(%s) AND NOT EXISTS "
        f"(SELECT 1 FROM estimate_upsert AS u WHERE u.site_id = e.site_id AND u.date = e.date) RETURNING site_id",
        [site_ids],
    )
    deleted = [row[0] for row in cursor.fetchall()]
    cursor.execute("TRUNCATE estimate_upsert")
    stats.estimates_written += len(written)
    stats.estimates_deleted += len(deleted)
    return set(written) | set(deleted)


def _store_estimates_compared(site_ids: list[int], rows: list[tuple], stats: RunStats) -> set[int]:
    """The portable path (SQLite): read the stored series, compare in Python, write the difference."""
    stored: dict[tuple[int, date], tuple] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(site_ids), 500):
            chunk = site_ids[start : start + 500]
            cursor.execute(
                f"SELECT site_id, date, {', '.join(ESTIMATE_FIELDS)} FROM {PopulationEstimate._meta.db_table} "
                f"WHERE site_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for site_id, day, *values in cursor.fetchall():
                if isinstance(day, str):  # SQLite without declared types: dates as text
                    day = date.fromisoformat(day)
                stored[(site_id, day)] = tuple(values)
    changed = [row for row in rows if stored.pop((row[0], row[1]), None) != row[2:-1]]
    obsolete = Q()
    for site_id, day in stored:  # what is left was not estimated this time
        obsolete |= Q(site_id=site_id, date=day)
    if obsolete:
        stats.estimates_deleted += PopulationEstimate.objects.filter(obsolete).delete()[0]
    if changed:
        columns = ", ".join(_UPSERT_COLUMNS)
        updates = ", ".join(f"{column} = excluded.{column}" for column in (*ESTIMATE_FIELDS, "computed_at"))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {PopulationEstimate._meta.db_table} ({columns}) "
                f"VALUES ({', '.join(['%s'] * len(_UPSERT_COLUMNS))}) "
                f"ON CONFLICT (site_id, date) DO UPDATE SET {updates}",
                changed,
            )
    stats.estimates_written += len(changed)
    return {row[0] for row in changed} | {site_id for site_id, _ in stored}


def _store_assessments(site_ids: list[int], results: dict[int, engine.SiteResult], stats: RunStats) -> None:
    """Each report's engine weight and outlier flag; reports that no longer count lose theirs.

    Compared with what is stored, so only the assessments that moved are
    written (a rerun writes none): those are deleted and inserted again, which
    for this narrow table is cheaper than an update and is one path for new and
    changed rows alike.
    """
    new = {
        int(a.key): (round(a.weight, WEIGHT_DECIMALS), a.outlier)
        for result in results.values()
        for a in result.assessments
    }
    stored = {
        report_id: (weight, outlier)
        for report_id, weight, outlier in ReportAssessment.objects.filter(report__site_id__in=site_ids).values_list(
            "report_id", "weight", "outlier"
        )
    }
    changed = [(pk, *now) for pk, now in new.items() if stored.get(pk) != now]
    obsolete = [pk for pk in stored if pk not in new]
    replaced = [pk for pk, *_ in changed if pk in stored] + obsolete
    for chunk in _chunks(replaced, 5000):
        ReportAssessment.objects.filter(report_id__in=chunk).delete()  # one DELETE: nothing cascades from it
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {ReportAssessment._meta.db_table} (report_id, weight, outlier) FROM STDIN"
            ) as copy,
        ):
            for row in changed:
                copy.write_row(row)
    else:
        ReportAssessment.objects.bulk_create(
            [ReportAssessment(report_id=pk, weight=weight, outlier=outlier) for pk, weight, outlier in changed],
            batch_size=500,
        )
    stats.reports_reassessed += len(changed) + len(obsolete)


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
