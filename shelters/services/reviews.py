"""Writes to review items: opened and closed after reconciliation, worked by staff.

``review_items_refresh`` runs at the end of every reconciliation, inside its
transaction, so the queue always matches the flags just stored. Staff close an
item through the report services (verify, reject), which ask for a new
reconciliation; that run then closes whatever is no longer flagged.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from shelters.engine import FLAG_CONFLICT
from shelters.models import (
    COUNTING_STATUSES,
    PopulationReport,
    ReconciliationState,
    ReviewComment,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    User,
)

from .reconciliation import reconciliation_request
from .reports import report_reject, report_verify

# The resolution of an item the engine stopped flagging (resolved_by stays empty).
AUTO_RESOLUTION = "no longer flagged after reconciliation"
OPEN_REASON = "opened after reconciliation"


# --- after reconciliation -------------------------------------------------------


@transaction.atomic
def review_items_refresh(*, site_ids: Iterable[int]) -> tuple[list[ReviewItem], list[ReviewItem]]:
    """Open the items these sites' flags call for, close those whose cause is gone.

    Idempotent: a second call opens and closes nothing. Returns (opened, closed).
    """
    ids = sorted(set(site_ids))
    if not ids:
        return [], []
    wanted_conflicts = _conflicted_sites(ids) - _conflicts_reviewed_since_last_report(ids)
    outliers = dict(
        PopulationReport.objects.filter(
            site_id__in=ids, assessment__outlier=True, status__in=COUNTING_STATUSES
        ).values_list("pk", "site_id")
    )
    # A report staff already decided on stays decided: verifying an outlier
    # does not make the engine like it better, and reopening it would loop.
    reviewed = set(
        ReviewItem.objects.filter(report_id__in=outliers, resolved_by__isnull=False).values_list("report_id", flat=True)
    )
    wanted_outliers = {pk: site_id for pk, site_id in outliers.items() if pk not in reviewed}

    closed: list[ReviewItem] = []
    open_conflicts: set[int] = set()
    open_outliers: set[int] = set()
    # Locked: an item staff close meanwhile must not be closed again as "no longer flagged".
    for item in ReviewItem.objects.select_for_update().filter(site_id__in=ids, status=ReviewStatus.OPEN):
        if item.kind == ReviewKind.CONFLICT and item.site_id in wanted_conflicts:
            open_conflicts.add(item.site_id)
        elif item.kind == ReviewKind.OUTLIER and item.report_id in wanted_outliers:
            open_outliers.add(item.report_id)
        else:
            closed.append(_close(item, status=ReviewStatus.RESOLVED, by=None, resolution=AUTO_RESOLUTION))

    wanted = [(site_id, ReviewKind.CONFLICT, None) for site_id in sorted(wanted_conflicts - open_conflicts)]
    wanted += [
        (wanted_outliers[report_id], ReviewKind.OUTLIER, report_id)
        for report_id in sorted(set(wanted_outliers) - open_outliers)
    ]
    opened = _open_many(wanted)
    return opened, closed


def _conflicted_sites(site_ids: list[int]) -> set[int]:
    # Filtered in Python: SQLite has no JSON "contains"; a site has a few flags.
    return {
        site_id
        for site_id, flags in ReconciliationState.objects.filter(site_id__in=site_ids).values_list(
            "site_id", "latest_flags"
        )
        if FLAG_CONFLICT in (flags or [])
    }


def _conflicts_reviewed_since_last_report(site_ids: list[int]) -> set[int]:
    """Sites whose conflict staff closed after the newest report arrived.

    The flag may outlive their decision (two sources that both stand verified
    still disagree): nothing new to look at until new evidence comes in.
    """
    reviewed = dict(
        ReviewItem.objects.filter(site_id__in=site_ids, kind=ReviewKind.CONFLICT, resolved_by__isnull=False)
        .values("site_id")
        .annotate(last=Max("resolved_at"))
        .values_list("site_id", "last")
    )
    if not reviewed:
        return set()
    newest = dict(
        PopulationReport.objects.filter(site_id__in=reviewed)
        .values("site_id")
        .annotate(newest=Max("created_at"))
        .values_list("site_id", "newest")
    )
    return {site_id for site_id, last in reviewed.items() if newest.get(site_id) is None or newest[site_id] <= last}


def _open_many(wanted: list[tuple[int, str, int | None]]) -> list[ReviewItem]:
    """Create these open items (site, kind, report) with their history rows, in bulk.

    A full run opens thousands at once (one INSERT each with its history row
    was a quarter of its time). Runs hold their sites' locks, so a conflict
    with a concurrent writer is rare; then each item goes alone, and the one
    already open is left as it is.
    """
    if not wanted:
        return []
    items = [ReviewItem(site_id=site_id, kind=kind, report_id=report_id) for site_id, kind, report_id in wanted]
    try:
        with transaction.atomic():
            return bulk_create_with_history(items, ReviewItem, default_change_reason=OPEN_REASON)
    except IntegrityError:
        return [item for row in wanted if (item := _open(*row)) is not None]


def _open(site_id: int, kind: str, report_id: int | None) -> ReviewItem | None:
    """Create the open item, unless a concurrent writer just did (then None).

    get_or_create's pattern: the conditional unique constraints decide, and
    the savepoint keeps the surrounding reconciliation transaction usable.
    """
    item = ReviewItem(site_id=site_id, kind=kind, report_id=report_id)
    item._change_reason = OPEN_REASON
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        lookup = Q(report_id=report_id) if report_id is not None else Q(site_id=site_id, kind=kind, report__isnull=True)
        if ReviewItem.objects.filter(lookup, status=ReviewStatus.OPEN).exists():
            return None
        raise
    return item


def _close(item: ReviewItem, *, status: str, by: User | None, resolution: str) -> ReviewItem:
    item.status = status
    item.resolution = resolution
    item.resolved_at = timezone.now()
    item.resolved_by = by
    item._history_user = by
    item._change_reason = _history_reason(f"{status}: {resolution}")
    item.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    return item


# --- staff ----------------------------------------------------------------------


def _lock_open(item: ReviewItem) -> ReviewItem:
    """The item's row, locked, so two staff cannot both close (or assign) it."""
    locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if not locked.is_open:
        raise ValidationError(
            {"status": _("This review item is already %(status)s.") % {"status": locked.get_status_display().lower()}}
        )
    return locked


@transaction.atomic
def review_item_assign(*, item: ReviewItem, user: User | None, by: User | None) -> ReviewItem:
    """Give the item to ``user`` (``None``: nobody); a no-op when it already is theirs."""
    if user is not None and not (user.is_active and user.is_staff):
        raise ValidationError({"assigned_to": _("Review items can only be assigned to active staff.")})
    locked = _lock_open(item)
    if locked.assigned_to_id == (user.pk if user else None):
        return locked
    locked.assigned_to = user
    locked._history_user = by
    locked._change_reason = _history_reason(f"assigned to {user}" if user else "unassigned")
    locked.save(update_fields=["assigned_to"])
    return locked


def review_item_comment(*, item: ReviewItem, author: User | None, text: str) -> ReviewComment:
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("A comment cannot be empty.")})
    return ReviewComment.objects.create(item=item, author=author, text=text)


@transaction.atomic
def review_item_resolve(
    *,
    item: ReviewItem,
    by: User | None,
    verify_ids: Iterable[int] = (),
    reject_ids: Iterable[int] = (),
    reason: str,
) -> ReviewItem:
    """Verify and reject reports of the item's site, then close the item as resolved.

    All or nothing: a report that cannot move (a retracted one) refuses the
    whole resolution. The report services ask for the site's reconciliation,
    which then closes any other item the decision settled.
    """
    reason = reason.strip()
    verify, reject = {int(pk) for pk in verify_ids}, {int(pk) for pk in reject_ids}
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Give a reason: it is kept with the item and on the rejected reports.")
    if not verify and not reject:
        errors["verify_ids"] = _("Choose reports to verify or reject, or dismiss the item instead.")
    if both := verify & reject:
        errors["reject_ids"] = _("A report cannot be both verified and rejected: %(ids)s.") % {"ids": _ids(both)}
    reports = PopulationReport.objects.in_bulk(verify | reject)
    for field, chosen in (("verify_ids", verify), ("reject_ids", reject)):
        foreign = {pk for pk in chosen if pk not in reports or reports[pk].site_id != item.site_id}
        if foreign and field not in errors:
            errors[field] = _("Not reports of this item's site: %(ids)s.") % {"ids": _ids(foreign)}
    if errors:
        raise ValidationError(errors)
    # The site's reconciliation claim first, then the item: the order a
    # reconciliation run takes them in (it refreshes items under its lock).
    reconciliation_request(site_ids=[item.site_id])
    locked = _lock_open(item)
    for pk in sorted(verify):
        _apply("verify_ids", pk, lambda report: report_verify(report=report, by=by), reports)
    for pk in sorted(reject):
        _apply("reject_ids", pk, lambda report: report_reject(report=report, by=by, reason=reason), reports)
    return _close(locked, status=ReviewStatus.RESOLVED, by=by, resolution=reason)


@transaction.atomic
def review_item_dismiss(*, item: ReviewItem, by: User | None, reason: str) -> ReviewItem:
    """Close the item without touching any report (the flag needs no action)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason for dismissing the item.")})
    return _close(_lock_open(item), status=ReviewStatus.DISMISSED, by=by, resolution=reason)


def _apply(field: str, pk: int, change, reports: dict[int, PopulationReport]) -> None:
    # The report service names its own "status" field; staff chose the report
    # in the verify or reject list, so the message goes there.
    try:
        change(reports[pk])
    except ValidationError as error:
        raise ValidationError({field: f"#{pk}: {' '.join(error.messages)}"}) from error


def _history_reason(text: str) -> str:
    # simple-history's change reason column holds 100 characters; the full text is on the item.
    return text if len(text) <= 100 else f"{text[:99]}…"


def _ids(pks: Iterable[int]) -> str:
    return ", ".join(f"#{pk}" for pk in sorted(pks))
