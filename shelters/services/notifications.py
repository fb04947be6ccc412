"""Telling partners what changed, through their webhook subscriptions.

Events go out after the transaction commits (webhooks.emit enqueues on commit)
and carry stable ids, so a retried task or a repeated call sends nothing twice.
Each helper first asks, in one query, who listens at all: a bulk of a thousand
reports or a nightly run over ten thousand sites costs nothing when nobody does.
"""

from collections.abc import Iterable
from datetime import datetime

from shelters.models import PopulationEstimate, PopulationReport, Site
from webhooks import events
from webhooks.models import WebhookSubscription
from webhooks.services import emit, stable_event_id


def _listening_organizations(event: str) -> set[int]:
    return {
        organization_id
        for organization_id, subscribed in WebhookSubscription.objects.filter(active=True).values_list(
            "organization_id", "events"
        )
        if event in subscribed
    }


def report_payload(report: PopulationReport) -> dict:
    return {
        "id": report.pk,
        "external_id": report.external_id,
        "site_code": report.site.code,
        "as_of": report.as_of.isoformat(),
        "qualifier": report.qualifier,
        "value": report.value,
        "low": report.low,
        "high": report.high,
        "status": report.status,
        "status_reason": report.status_reason,
    }


def reports_changed(event: str, reports: Iterable[PopulationReport]) -> None:
    """report.created / report.updated / report.retracted, to the submitting organisation only."""
    listening = _listening_organizations(event)
    if not listening:
        return
    for report in reports:
        if report.organization_id in listening:
            emit(
                event,
                payload=report_payload(report),
                organization_ids=[report.organization_id],
                # Stable for a retried task, new for every change (a report can
                # come back to a status it had before).
                event_id=stable_event_id(
                    event, report.pk, report.status, report.status_changed_at or report.created_at
                ),
            )


def estimates_changed(site_ids: Iterable[int], computed_at: datetime) -> None:
    """estimate.changed: shared data, so every listening organisation hears of it."""
    if not _listening_organizations(events.ESTIMATE_CHANGED):
        return
    for site in Site.objects.filter(pk__in=list(site_ids)):
        latest = PopulationEstimate.objects.filter(site=site).order_by("-date").first()
        emit(
            events.ESTIMATE_CHANGED,
            payload={
                "site_code": site.code,
                "computed_at": computed_at.isoformat(),
                "latest": None
                if latest is None
                else {
                    "date": latest.date.isoformat(),
                    "estimate": latest.estimate,
                    "low": latest.low,
                    "high": latest.high,
                    "flags": latest.flags,
                },
            },
            event_id=stable_event_id(events.ESTIMATE_CHANGED, site.pk, computed_at.isoformat()),
        )


def count_report_ready(report) -> None:
    """count_report.ready: shared figures, so every listening organisation hears of it."""
    if not _listening_organizations(events.COUNT_REPORT_READY):
        return
    totals = report.summary.get("totals", {})
    emit(
        events.COUNT_REPORT_READY,
        payload={
            "id": report.pk,
            "scope": report.summary.get("scope"),
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(),
            "estimate": totals.get("estimate"),
            "low": totals.get("low"),
            "high": totals.get("high"),
            "url": f"/api/v1/count-reports/{report.pk}/",
        },
        event_id=stable_event_id(events.COUNT_REPORT_READY, report.pk),
    )
