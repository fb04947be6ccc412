from datetime import datetime

from django.db import transaction

from shelters.models import Site, User

from .errors import StaleRecord
from .reconciliation import reconciliation_request
from .versions import sites_changed


@transaction.atomic
def site_save(*, site: Site, by: User | None, expected_updated_at: datetime | None = None) -> Site:
    """Validate and save a site; its dates bound the estimate series, so re-reconcile it.

    With ``expected_updated_at`` the stored row is locked and compared first
    (the API's If-Match), so two concurrent updates from one read cannot both win.
    """
    is_new = site.pk is None
    if expected_updated_at is not None and not is_new:
        current = Site.objects.select_for_update().values_list("updated_at", flat=True).get(pk=site.pk)
        if current != expected_updated_at:
            raise StaleRecord
    site.full_clean()
    site._history_user = by
    site.save()
    sites_changed()
    if not is_new:
        reconciliation_request(site_ids=[site.pk])
    return site


@transaction.atomic
def sites_delete(*, sites, by: User | None) -> int:
    """Delete sites (only those no evidence or count report refers to: the rest are protected)."""
    count = 0
    for site in sites:
        site._history_user = by
        site.delete()
        count += 1
    sites_changed()
    return count
