from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.health import healthz, healthz_workers
from config.metrics import metrics_view
from shelters.admin.imports import import_view
from shelters.views import set_my_language

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before the admin's own URLs, whose catch-all would otherwise answer 404.
    path("admin/import/", admin.site.admin_view(import_view), name="admin_import"),
    path("admin/language/", admin.site.admin_view(set_my_language), name="admin_language"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("healthz", healthz, name="healthz"),
    path("healthz/workers", healthz_workers, name="healthz_workers"),
    path("metrics", metrics_view, name="metrics"),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
