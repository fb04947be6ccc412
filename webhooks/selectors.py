"""What each user may see, as in shelters.selectors.scoping: staff everything,
a partner its own organisation's subscriptions and deliveries (another
organisation's are simply not there: a 404, never a 403)."""

from django.db.models import QuerySet

from shelters.models import User
from shelters.selectors.scoping import sees_everything
from webhooks.models import WebhookDelivery, WebhookSubscription


def subscriptions_for(user: User) -> QuerySet[WebhookSubscription]:
    queryset = WebhookSubscription.objects.all()
    if sees_everything(user):
        return queryset
    if not user.is_authenticated or user.organization_id is None:
        return queryset.none()
    return queryset.filter(organization_id=user.organization_id)


def deliveries_for(user: User) -> QuerySet[WebhookDelivery]:
    queryset = WebhookDelivery.objects.all()
    if sees_everything(user):
        return queryset
    if not user.is_authenticated or user.organization_id is None:
        return queryset.none()
    return queryset.filter(subscription__organization_id=user.organization_id)
