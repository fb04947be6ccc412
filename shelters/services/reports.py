"""Writes to population reports: creation, corrections and status changes.

Reports are never overwritten. A correction is a new report pointing at the
one it corrects (which is retracted); verifying, rejecting and retracting only
move the status, with who, when and why kept in the history.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shelters.models import Organization, PopulationReport, ReportStatus, User
from shelters.services.history import history_reason
from webhooks import events

from . import notifications
from .reconciliation import reconciliation_request

# Which status each action may start from. Retracted is final: the submitter
# withdrew the claim; a new report is the way back.
_ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    ReportStatus.VERIFIED: (ReportStatus.RECEIVED, ReportStatus.REJECTED),
    ReportStatus.REJECTED: (ReportStatus.RECEIVED, ReportStatus.VERIFIED),
    ReportStatus.RETRACTED: (ReportStatus.RECEIVED, ReportStatus.VERIFIED, ReportStatus.REJECTED),
}


@transaction.atomic
def report_create(
    *,
    organization: Organization,
    created_by: User | None = None,
    change_reason: str = "",
    **fields: Any,
) -> PopulationReport:
    report = PopulationReport(organization=organization, created_by=created_by, **fields)
    report.full_clean()
    report._history_user = created_by
    report._change_reason = change_reason or "created"
    report.save()
    reconciliation_request(site_ids=[report.site_id])
    notifications.reports_changed(events.REPORT_CREATED, [report])
    return report


@transaction.atomic
def report_correct(
    *, report: PopulationReport, by: User | None, organization: Organization, reason: str, **fields: Any
) -> PopulationReport:
    """Record a corrected figure as a new report and retract the one it replaces."""
    correction = report_create(
        organization=organization,
        created_by=by,
        corrects=report,
        change_reason=f"correction of report {report.pk}",
        **{"site": report.site, "source": report.source, **fields},
    )
    report_set_status(
        report=report,
        status=ReportStatus.RETRACTED,
        by=by,
        reason=reason or _("Corrected by report %s") % correction.pk,
    )
    return correction


@transaction.atomic
def report_set_status(*, report: PopulationReport, status: str, by: User | None, reason: str = "") -> PopulationReport:
    """Move a report to ``status``; a no-op when it is already there (safe to repeat)."""
    # Claim the site's reconciliation first, then lock the report: the same
    # order a reconciliation run takes its locks in, so the two never deadlock.
    reconciliation_request(site_ids=[report.site_id])
    # Lock the row: two staff acting on one report must not both pass the check.
    locked = PopulationReport.objects.select_for_update().get(pk=report.pk)
    if locked.status == status:
        return locked
    if locked.status not in _ALLOWED_FROM[status]:
        raise ValidationError(
            {
                "status": _("A %(current)s report cannot be %(new)s.")
                % {"current": locked.get_status_display().lower(), "new": ReportStatus(status).label.lower()}
            }
        )
    locked.status = status
    locked.status_reason = reason.strip()
    locked.status_changed_at = timezone.now()
    locked.status_changed_by = by
    locked.full_clean(exclude=["site", "source", "organization", "created_by", "corrects", "status_changed_by"])
    locked._history_user = by
    locked._change_reason = history_reason(f"{status}: {reason}".strip(": "))
    locked.save(update_fields=["status", "status_reason", "status_changed_at", "status_changed_by", "updated_at"])
    event = events.REPORT_RETRACTED if status == ReportStatus.RETRACTED else events.REPORT_UPDATED
    notifications.reports_changed(event, [locked])
    return locked


def report_verify(*, report: PopulationReport, by: User | None) -> PopulationReport:
    return report_set_status(report=report, status=ReportStatus.VERIFIED, by=by)


def report_reject(*, report: PopulationReport, by: User | None, reason: str) -> PopulationReport:
    return report_set_status(report=report, status=ReportStatus.REJECTED, by=by, reason=reason)


def report_retract(*, report: PopulationReport, by: User | None, reason: str) -> PopulationReport:
    return report_set_status(report=report, status=ReportStatus.RETRACTED, by=by, reason=reason)
