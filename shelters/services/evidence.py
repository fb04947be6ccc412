"""Writes to departure notices and aid distributions."""

from django.db import transaction

from shelters.models import AidDistribution, DepartureNotice, User

from .organizations import organization_for


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
