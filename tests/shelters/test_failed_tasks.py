"""A task that always crashes is retried a bounded number of times, then set aside for staff."""

import uuid

import pytest

from shelters.models import FailedTask, WorkerHeartbeat
from shelters.services.failed_tasks import failed_tasks_dismiss, failed_tasks_send_again, on_task_failure
from shelters.tasks import generate_count_report_task, record_heartbeat


def _fail(task_id: str = "t-1") -> FailedTask:
    try:
        raise LookupError("CountReport matching query does not exist.")
    except LookupError as error:
        on_task_failure(
            sender=generate_count_report_task, task_id=task_id, exception=error, args=[42], kwargs={}, einfo="Traceback"
        )
    return FailedTask.objects.get(task_id=task_id)


def test_a_failure_is_recorded_once_per_task(db):
    failed = _fail()
    _fail()  # the same task id again (a duplicate signal): still one row
    assert FailedTask.objects.count() == 1
    assert failed.task_name == "shelters.tasks.generate_count_report" and failed.args == [42]
    assert failed.exception.startswith("LookupError: CountReport")


def test_staff_send_it_again_or_dismiss_it(db, charlie, django_capture_on_commit_callbacks):
    first, second = _fail("t-1"), _fail("t-2")
    with django_capture_on_commit_callbacks() as sent:
        assert failed_tasks_send_again(ids=[first.pk], by=charlie) == ["t-1"]
    assert len(sent) == 1
    assert failed_tasks_dismiss(ids=[first.pk, second.pk], by=charlie) == 1  # the first is no longer open
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("sent_again", "dismissed")
    assert second.handled_by == charlie and second.handled_at is not None


def test_the_failed_tasks_page_renders(client, charlie):
    _fail()
    client.force_login(charlie)
    page = client.get("/admin/shelters/failedtask/")
    assert page.status_code == 200 and "generate_count_report" in page.content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_poison_task_is_set_aside_without_blocking_others(tmp_path):
    """Through a real worker: a message naming a report that does not exist fails every time."""
    from config import celery_app
    from tests.support.processes import child_env, running, wait_for

    log = tmp_path / "worker.log"
    args = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    args += ["--hostname", f"poison-{uuid.uuid4().hex[:8]}@localhost"]
    celery_app.control.purge()
    env = child_env(SHELTERS_TASK_MAX_RETRIES="2", SHELTERS_TASK_RETRY_BACKOFF="1")
    with running(args, log, env):
        poison = generate_count_report_task.delay(987654)
        token = uuid.uuid4().hex
        record_heartbeat.delay(token)
        # The other task runs while the poison one waits for its retries.
        wait_for(lambda: WorkerHeartbeat.objects.filter(last_token=token).exists(), timeout=60, what="the heartbeat")
        failed = wait_for(
            lambda: FailedTask.objects.filter(task_id=poison.id).first(),
            timeout=90,
            what="the poison task set aside",
            log=log,
        )
    assert failed.retries == 2  # then no more attempts
    assert "DoesNotExist" in failed.exception
    assert FailedTask.objects.count() == 1
    assert log.read_text().count(f"[{poison.id}] retry") == 2
