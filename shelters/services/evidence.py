"""Writes to departure notices and aid distributions."""

from datetime import datetime

from django.db import transaction

from shelters.models import AidDistribution, DepartureNotice, User

from .errors import StaleRecord
from .organizations import organization_for
from .reconciliation import reconciliation_request


@transaction.atomic
def record_save(*, record: DepartureNotice | AidDistribution, by: User | None) -> DepartureNotice | AidDistribution:
    """Validate and save a notice or distribution; a new one is owned by ``by``'s organisation."""
    if record.pk is None:
        record.organization = organization_for(by)
        record.created_by = by
    record.full_clean()
    record._history_user = by
    record.save()
    return record


@transaction.atomic
def record_update(
    *,
    record: DepartureNotice | AidDistribution,
    by: User | None,
    fields: dict,
    expected_updated_at: datetime | None = None,
) -> DepartureNotice | AidDistribution:
    """Change some fields of a notice or distribution, validated, with history.

    With ``expected_updated_at`` the check is made under the row lock, so of
    two concurrent conditional updates made from the same read, one fails.
    """
    locked = type(record).objects.select_for_update().get(pk=record.pk)
    if expected_updated_at is not None and locked.updated_at != expected_updated_at:
        raise StaleRecord
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked._history_user = by
    locked._change_reason = "updated through the API"
    locked.save()
    if isinstance(locked, DepartureNotice):
        reconciliation_request(site_ids=[locked.site_id])
    return locked
