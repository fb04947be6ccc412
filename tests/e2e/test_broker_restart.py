"""Redis restarted while reconciliation tasks wait in its queue.

The test runs a Redis of its own on loopback (never the shared one) and crashes
it (SIGKILL) with tasks queued, twice:

- with the append-only file, as docs/deployment.md asks for production: the
  queued messages come back with Redis, and a worker started afterwards turns
  every one of them into the estimates the engine computes in-process;
- without persistence (Redis's default here and in CI): the messages are gone,
  the sites stay ``pending`` with estimates that miss the new reports, and the
  nightly full reconciliation, sent as beat sends it, repairs every one.

Reports are imported with the operator's command, in a child process whose
broker is the test's Redis, so every message goes where the workers read.
"""

import csv
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from shutil import which

import pytest
import redis
from django.db import connection

from shelters import engine
from shelters.models import PopulationEstimate, PopulationReport, ReconciliationState, Site
from shelters.selectors.reconciliation import site_inputs, source_profiles
from shelters.services.reconciliation import today
from tests.conftest import SCENARIOS_DIR
from tests.support.processes import PROJECT_DIR, child_env, free_port, running, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not which("redis-server"),
        reason="the production set-up: PostgreSQL, and a redis-server to start and crash",
    ),
]

SCENARIO = SCENARIOS_DIR / "synthetic-1"
QUEUE = "celery"  # Celery's default queue: a Redis list of that name
UNACKED = "unacked"  # kombu's Redis transport: messages delivered, not yet acknowledged


@contextmanager
def redis_server(port: int, folder: Path, *, append_only: bool) -> Iterator[redis.Redis]:
    """A Redis on loopback, in ``folder``; killed (SIGKILL, a crash) when the block ends."""
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)]
    args += ["--save", "", "--logfile", str(folder / "redis.log")]
    # Production's settings (docs/deployment.md), or none at all.
    args += ["--appendonly", "yes", "--appendfsync", "everysec"] if append_only else ["--appendonly", "no"]
    process = subprocess.Popen(args, start_new_session=True)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        wait_for(_answers(client), timeout=20, what=f"redis-server on port {port}", log=folder / "redis.log")
        yield client
    finally:
        process.kill()
        process.wait(timeout=10)
        client.close()


def _answers(client: redis.Redis):
    def ping() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    return ping


def _split_reports(folder: Path) -> tuple[Path, Path, int]:
    """The scenario's reports in two files: the first half of its days, then the rest."""
    with (SCENARIO / "reports.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, sorted(reader, key=lambda row: (row["as_of"], row["external_id"]))
    halves = (rows[: len(rows) // 2], rows[len(rows) // 2 :])
    paths = (folder / "reports-1.csv", folder / "reports-2.csv")
    for path, half in zip(paths, halves, strict=True):
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(half)
    return *paths, len(rows)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, check=True, capture_output=True)


def _queued(client: redis.Redis) -> int:
    return client.llen(QUEUE)


def _drained(client: redis.Redis) -> bool:
    """Nothing waits in the queue and nothing is held unacknowledged.

    Acks are late: a task's rows are committed a moment before the worker
    acknowledges its message, and a worker stopped in between hands the message
    back to the queue. So the test waits for the acknowledgements (kombu keeps
    the unacknowledged messages in the ``unacked`` hash) before stopping it.
    """
    return _queued(client) == 0 and client.hlen(UNACKED) == 0


def _series() -> dict[int, list[tuple]]:
    series: dict[int, list[tuple]] = {}
    for site_id, *row in PopulationEstimate.objects.order_by("site_id", "date").values_list(
        "site_id", "date", "estimate", "low", "high"
    ):
        series.setdefault(site_id, []).append(tuple(row))
    return series


def _reference() -> dict[int, list[tuple]]:
    """The engine, in-process, on every stored report and the stored source profiles."""
    results = engine.reconcile_many(list(site_inputs()), until=today(), profiles=source_profiles())
    return {int(r.site): [(d.day, d.estimate, d.low, d.high) for d in r.estimates] for r in results}


def _settled(sites: int) -> bool:
    return ReconciliationState.objects.filter(pending=False).count() == sites


def _worker(env: dict[str, str], log: Path):
    args = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    return running([*args, "--hostname", f"restart-{uuid.uuid4().hex[:6]}@localhost"], log, env)


def test_queued_tasks_survive_a_redis_crash_with_the_append_only_file(tmp_path: Path):
    port = free_port()
    env = child_env(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")
    first, second, total = _split_reports(tmp_path)
    with redis_server(port, tmp_path, append_only=True) as broker:
        _manage(env, "import_sites", str(SCENARIO / "sites.csv"))
        _manage(env, "import_reports", str(first))
        _manage(env, "import_reports", str(second))
        sites = Site.objects.count()
        queued = _queued(broker)
        # One message per site: the second import found every site already pending.
        assert queued == sites
    # Crashed. The same folder, the same settings: Redis replays its append-only file.
    with redis_server(port, tmp_path, append_only=True) as broker:
        assert _queued(broker) == queued
        log = tmp_path / "worker.log"
        with _worker(env, log):
            wait_for(lambda: _settled(sites), timeout=120, what="every queued request to run", log=log)
            wait_for(lambda: _drained(broker), timeout=60, what="every message to be acknowledged", log=log)
        assert _queued(broker) == 0
    assert PopulationReport.objects.count() == total
    assert _series() == _reference()


def test_the_nightly_run_repairs_what_a_redis_without_persistence_lost(tmp_path: Path):
    port = free_port()
    env = child_env(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")
    first, second, total = _split_reports(tmp_path)
    log = tmp_path / "worker.log"
    with redis_server(port, tmp_path, append_only=False) as broker:
        _manage(env, "import_sites", str(SCENARIO / "sites.csv"))
        _manage(env, "import_reports", str(first))
        sites = Site.objects.count()
        with _worker(env, log):
            wait_for(lambda: _settled(sites), timeout=120, what="the first half to be reconciled", log=log)
        before = _series()
        # The second half arrives while no worker runs: its requests wait in the queue...
        _manage(env, "import_reports", str(second))
        assert _queued(broker) == sites
    # ...and die with Redis.
    with redis_server(port, tmp_path, append_only=False) as broker:
        assert _queued(broker) == 0
        assert ReconciliationState.objects.filter(pending=True).count() == sites
        assert _series() == before  # the estimates miss the second half
        assert before != _reference()
        with _worker(env, log):
            # What beat sends at night (the "nightly-reconciliation" periodic task).
            subprocess.run(
                [sys.executable, "-m", "celery", "--app", "config", "call", "shelters.tasks.reconcile_all"],
                cwd=PROJECT_DIR,
                env=env,
                check=True,
                capture_output=True,
            )
            wait_for(lambda: _settled(sites), timeout=120, what="the nightly run to repair every site", log=log)
            wait_for(lambda: _drained(broker), timeout=60, what="the nightly chunks to be acknowledged", log=log)
    assert PopulationReport.objects.count() == total  # nothing lost, nothing doubled
    assert _series() == _reference()
