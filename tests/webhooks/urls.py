"""The routes the project registers in api/urls.py, for tests that must not
depend on that file: the same prefixes, basenames and "api" namespace."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from webhooks.api import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

router = DefaultRouter(trailing_slash=True)
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [path("api/v1/", include((router.urls, "api")))]
