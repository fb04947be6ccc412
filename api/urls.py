from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api.views.count_reports import CountReportViewSet
from api.views.evidence import DistributionViewSet, NoticeViewSet, ReportViewSet
from api.views.reference import (
    EstimateExportViewSet,
    LatestEstimateViewSet,
    OrganizationViewSet,
    SiteViewSet,
    SourceViewSet,
)
from api.views.whoami import whoami
from webhooks.api import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("sites", SiteViewSet, basename="site")
router.register("estimates/latest", LatestEstimateViewSet, basename="latest-estimate")
router.register("estimates/export", EstimateExportViewSet, basename="estimate-export")
router.register("population-reports", ReportViewSet, basename="report")
router.register("departure-notices", NoticeViewSet, basename="notice")
router.register("aid-distributions", DistributionViewSet, basename="distribution")
router.register("sources", SourceViewSet, basename="source")
router.register("count-reports", CountReportViewSet, basename="count-report")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Both pages run under the site's Content-Security-Policy: Swagger UI's
    # start-up script is served as a file of its own (the "split" view), not
    # inline; ReDoc searches in a web worker it creates from a blob: URL.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path(
        "redoc/",
        csp_update({"worker-src": ["'self'", "blob:"]})(SpectacularRedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
    path("v1/whoami/", whoami, name="whoami"),
    path("v1/", include(router.urls)),
]
