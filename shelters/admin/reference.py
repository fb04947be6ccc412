"""Organisations, users, sources, estimates and worker heartbeats."""

import math

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from shelters.models import (
    Organization,
    PopulationEstimate,
    ReconciliationState,
    Source,
    SourceReliability,
    User,
    WorkerHeartbeat,
)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "organization", "role", "is_staff", "is_active")
    list_filter = ("organization", "role", "is_staff", "is_superuser", "is_active")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Organisation"), {"fields": ("organization", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Organisation"), {"fields": ("organization", "role")}),
    )


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "kind", "grade", "created_at")
    list_filter = ("grade", "kind")
    search_fields = ("slug", "name")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by background jobs; staff look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PopulationEstimate)
class PopulationEstimateAdmin(ReadOnlyAdmin):
    list_display = ("site", "date", "estimate", "low", "high", "flag_list", "engine_version", "computed_at")
    list_filter = ("engine_version",)
    search_fields = ("site__code", "site__name", "site__name_ar")
    date_hierarchy = "date"
    list_select_related = ("site",)

    @admin.display(description=_("flags"))
    def flag_list(self, estimate: PopulationEstimate) -> str:
        return ", ".join(estimate.flags)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("worker", "last_seen", "beats")


@admin.register(ReconciliationState)
class ReconciliationStateAdmin(ReadOnlyAdmin):
    list_display = ("site", "pending", "requested_at", "started_at", "finished_at", "reports_used", "engine_version")
    list_filter = ("pending", "engine_version")
    search_fields = ("site__code", "site__name")
    list_select_related = ("site",)


@admin.register(SourceReliability)
class SourceReliabilityAdmin(ReadOnlyAdmin):
    list_display = ("source", "bias", "noise", "site_error", "lag", "based_on", "engine_version", "learned_at")
    list_select_related = ("source",)

    @admin.display(description=_("bias (× the consensus)"))
    def bias(self, reliability: SourceReliability) -> str:
        return f"{math.exp(reliability.profile.get('log_bias', 0.0)):.2f}"

    @admin.display(description=_("noise (× its grade's prior)"))
    def noise(self, reliability: SourceReliability) -> str:
        return f"{reliability.profile.get('noise_scale', 1.0):.2f}"

    @admin.display(description=_("error that stays with a site (±)"))
    def site_error(self, reliability: SourceReliability) -> str:
        # The part of the source's error its claims about one site share (log sd, shown as a
        # factor): the band does not shrink it away however often the source reports.
        sd = max(reliability.profile.get("site_sd", 0.0), reliability.profile.get("bound_site_sd", 0.0))
        return f"{math.expm1(sd):.0%}"

    @admin.display(description=_("lag (days)"))
    def lag(self, reliability: SourceReliability) -> int:
        # A registration list describing the camp of two days ago: its claims are read on
        # the day they describe. Relative: only differences between sources show in the data.
        return reliability.profile.get("lag", 0)

    @admin.display(description=_("reports learned from"))
    def based_on(self, reliability: SourceReliability) -> int:
        return reliability.profile.get("n", 0) + reliability.profile.get("n_bounds", 0)
