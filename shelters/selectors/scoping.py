"""What each user may see. Every API queryset starts here.

Staff (coordinators) see everything. A partner sees the shared reference data
(sites, sources, estimates) and, of what organisations submit (reports,
notices, distributions), only its own organisation's records: another
organisation's record is simply not there (a 404, never a 403).
"""

from django.db.models import QuerySet

from shelters.models import AidDistribution, DepartureNotice, Organization, PopulationReport, User


def sees_everything(user: User) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def _own(queryset: QuerySet, user: User) -> QuerySet:
    if sees_everything(user):
        return queryset
    if not user.is_authenticated or user.organization_id is None:
        return queryset.none()
    return queryset.filter(organization_id=user.organization_id)


def reports_for(user: User) -> QuerySet[PopulationReport]:
    return _own(PopulationReport.objects.all(), user)


def notices_for(user: User) -> QuerySet[DepartureNotice]:
    return _own(DepartureNotice.objects.all(), user)


def distributions_for(user: User) -> QuerySet[AidDistribution]:
    return _own(AidDistribution.objects.all(), user)


def organizations_for(user: User) -> QuerySet[Organization]:
    if sees_everything(user):
        return Organization.objects.all()
    return Organization.objects.filter(pk=user.organization_id)
