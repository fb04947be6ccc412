"""REST for partners: manage their webhook subscriptions and read the delivery log.

The other engineer registers these in api/urls.py::

    router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
    router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import StrictBooleanFilter
from api.permissions import CanSubmit
from shelters.services.organizations import organization_for
from webhooks.events import EVENTS
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.selectors import deliveries_for, subscriptions_for
from webhooks.services import subscription_create


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS), allow_empty=False)

    class Meta:
        model = WebhookSubscription
        # Never the secret: it is in the create response only (below).
        fields = ("id", "url", "events", "active", "organization", "created_at", "created_by")
        read_only_fields = ("id", "organization", "created_at", "created_by")

    def validate_events(self, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))  # a repeated event would be sent once anyway


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret. Shown in this response only: store it now."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = (*WebhookSubscriptionSerializer.Meta.fields, "secret")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    # Plain text here: the event enum is documented once, on subscriptions (a second
    # choice field on the same set makes drf-spectacular name the enum twice).
    event = serializers.CharField(read_only=True, help_text="One of the events listed for subscriptions.")

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "subscription",
            "event",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "attempt_log",
            "created_at",
            "delivered_at",
            "next_attempt_at",
            "payload",
        )
        read_only_fields = fields


class SubscriptionFilter(django_filters.FilterSet):
    active = StrictBooleanFilter()

    class Meta:
        model = WebhookSubscription
        fields = ("active",)


class WebhookSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your organisation's webhook subscriptions. PATCH changes url, events or
    active; the signing secret is returned once, by the POST that creates it."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = (IsAuthenticated, CanSubmit)
    # No PUT: a subscription is changed field by field.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_class = SubscriptionFilter
    ordering_fields = ("id", "created_at")
    ordering = ("id",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookSubscription.objects.none()
        return subscriptions_for(self.request.user).select_related("organization", "created_by")

    @extend_schema(responses={201: WebhookSubscriptionCreatedSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            subscription, _secret = subscription_create(
                organization=organization_for(request.user),
                created_by=request.user,
                url=serializer.validated_data["url"],
                events=serializer.validated_data["events"],
                active=serializer.validated_data.get("active", True),
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        # The instance still carries the secret it was created with; this is the only response that shows it.
        output = WebhookSubscriptionCreatedSerializer(subscription, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)


class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log of your organisation's subscriptions, newest first."""

    serializer_class = WebhookDeliverySerializer
    permission_classes = (IsAuthenticated, CanSubmit)
    filterset_fields = ("status", "event", "subscription")
    ordering_fields = ("id", "created_at")
    ordering = ("-created_at", "-id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookDelivery.objects.none()
        return deliveries_for(self.request.user)
