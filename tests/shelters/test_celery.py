"""Celery round trips through real worker and beat processes, on the broker
the environment configures: the filesystem transport in the embedded mode,
Redis on CI (``SHELTERS_EXPECT_BROKER=redis`` makes that an assertion)."""

import os
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from config import celery_app
from shelters.models import WorkerHeartbeat
from shelters.tasks import record_heartbeat
from tests.support.processes import child_env, running, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def test_the_configured_broker_is_the_expected_one():
    expected = os.environ.get("SHELTERS_EXPECT_BROKER")
    if not expected:
        pytest.skip("SHELTERS_EXPECT_BROKER not set")
    assert settings.CELERY_BROKER_URL.startswith(f"{expected}://")


def test_a_task_enqueued_on_commit_runs_in_a_real_worker(tmp_path):
    assert not celery_app.conf.task_always_eager, "an earlier test left Celery eager"
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    rolled_back, committed = uuid.uuid4().hex, uuid.uuid4().hex
    log = tmp_path / "worker.log"
    args = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1", "--hostname", hostname]
    with running(args, log, child_env()):
        # A task enqueued in a transaction that rolls back is never sent.
        with pytest.raises(RuntimeError), transaction.atomic():
            record_heartbeat.delay_on_commit(rolled_back)
            raise RuntimeError("roll back")
        with transaction.atomic():
            record_heartbeat.delay_on_commit(committed)
        beat = wait_for(
            lambda: WorkerHeartbeat.objects.filter(last_token=committed).first(),
            timeout=90,
            what="the worker to run the task",
            log=log,
        )
        # The task's row is committed a moment before the worker logs the
        # outcome and acknowledges the message: wait for that before stopping it.
        wait_for(lambda: "succeeded" in log.read_text(), timeout=30, what="the success logged", log=log)
    assert beat.worker == hostname
    assert beat.beats == 1  # only the committed task ran


def test_beat_schedules_the_heartbeat_and_a_worker_runs_it(tmp_path):
    env = child_env(SHELTERS_HEARTBEAT_SECONDS="1")
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    worker += ["--hostname", f"beat-test-{uuid.uuid4().hex[:8]}@localhost"]
    with (
        running(worker, worker_log, env),
        running(["celery", "--app", "config", "beat", "--loglevel", "INFO"], beat_log, env),
    ):
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(beats__gte=2).exists(),
            timeout=90,
            what="two scheduled heartbeats",
            log=beat_log,
        )
    assert "beat: Starting..." in beat_log.read_text()
    assert "Sending due task worker-heartbeat" in beat_log.read_text()
