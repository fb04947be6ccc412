"""Celery tasks. Thin: they take ids or plain values and call services.

Every task is safe to run twice (acks are late, so a worker lost mid-task
means a redelivery) and retries with backoff on any error, a bounded number of
times (the database briefly unreachable is the usual case). A task still
failing after that is set aside as a FailedTask, visible in the admin, so a
message that always crashes (a "poison" task) stops there and blocks nothing.
"""

from datetime import date

from celery import shared_task
from django.conf import settings

from shelters.services import count_reports, reconciliation
from shelters.services.heartbeats import heartbeat_record

RETRY = {
    # Any error: a transient one is the common case, and a bug gets a few tries
    # before it is set aside. Waits of about 2, 4, 8, ... seconds (jittered).
    "autoretry_for": (Exception,),
    "retry_backoff": settings.SHELTERS_TASK_RETRY_BACKOFF,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": settings.SHELTERS_TASK_MAX_RETRIES,
}


@shared_task(name="shelters.tasks.record_heartbeat", bind=True)
def record_heartbeat(self, token: str = "") -> None:
    """Scheduled by beat; proves the worker runs and reaches the database."""
    heartbeat_record(worker=self.request.hostname or "unknown", token=token)


@shared_task(name="shelters.tasks.reconcile_site", **RETRY)
def reconcile_site_task(site_id: int) -> None:
    reconciliation.reconcile_site(site_id=site_id)


@shared_task(name="shelters.tasks.reconcile_sites", **RETRY)
def reconcile_sites_task(site_ids: list[int], until: str | None = None) -> None:
    reconciliation.reconcile_sites(site_ids=site_ids, until=date.fromisoformat(until) if until else None)


@shared_task(name="shelters.tasks.reconcile_all", **RETRY)
def reconcile_all_task() -> int:
    """Nightly: learn source profiles from every site, then fan the sites out in
    chunks so that all workers share the run. Also repairs whatever a lost
    message left stale."""
    until = reconciliation.today()
    reconciliation.learn_source_profiles(until=until)
    chunks = reconciliation.site_chunks()
    for chunk in chunks:
        reconcile_sites_task.delay(chunk, until.isoformat())
    return len(chunks)


@shared_task(name="shelters.tasks.requeue_stale_reconciliations", **RETRY)
def requeue_stale_reconciliations_task() -> int:
    return len(reconciliation.requeue_stale_requests())


@shared_task(name="shelters.tasks.run_count_report_schedule", **RETRY)
def run_count_report_schedule(schedule_id: int) -> int:
    """Fired by beat for a CountReportSchedule: one report per period, however often it fires."""
    report, _ = count_reports.count_report_for_schedule(schedule_id=schedule_id)
    return report.pk


@shared_task(name="shelters.tasks.generate_count_report", bind=True, **RETRY)
def generate_count_report_task(self, report_id: int) -> None:
    try:
        count_reports.count_report_generate(report_id=report_id)
    except Exception as error:
        if self.request.retries >= self.max_retries:
            # The last attempt: say so on the report too (visible in the admin and the API).
            count_reports.count_report_failed(report_id=report_id, error=f"{type(error).__name__}: {error}")
        raise  # retried with backoff, then set aside as a FailedTask
