from django.db import transaction

from shelters.models import Site, User

from .reconciliation import reconciliation_request


@transaction.atomic
def site_save(*, site: Site, by: User | None) -> Site:
    """Validate and save a site; its dates bound the estimate series, so re-reconcile it."""
    is_new = site.pk is None
    site.full_clean()
    site._history_user = by
    site.save()
    if not is_new:
        reconciliation_request(site_ids=[site.pk])
    return site
