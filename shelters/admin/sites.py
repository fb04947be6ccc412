from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from shelters.models import AidDistribution, DepartureNotice, PopulationReport, Site
from shelters.selectors.estimates import with_latest_estimate
from shelters.selectors.overview import site_chart_data, site_map_features
from shelters.services.sites import site_save, sites_delete

# A site's page lists its latest evidence only: a site with hundreds of reports
# would otherwise render hundreds of rows (a third of a second) on every visit.
INLINE_ROWS = 20


class ReadOnlyInline(admin.TabularInline):
    """A site's evidence, shown on its page; added and changed on its own page,
    where the services and their rules apply."""

    extra = 0
    can_delete = False
    show_change_link = True

    def latest_only(self, queryset, site: Site):
        """The latest INLINE_ROWS of the site's rows; if there are more, the heading says so and links to all."""
        rows = queryset.filter(site=site)
        total = rows.count()
        if total <= INLINE_ROWS:
            return queryset
        opts = self.model._meta
        self.verbose_name_plural = format_html(
            '{} · {} · <a href="{}?site__id__exact={}">{}</a>',
            opts.verbose_name_plural,
            _("the latest %(shown)d of %(total)d") % {"shown": INLINE_ROWS, "total": total},
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            site.pk,
            _("see all"),
        )
        return queryset.filter(pk__in=list(rows.values_list("pk", flat=True)[:INLINE_ROWS]))

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReportInline(ReadOnlyInline):
    model = PopulationReport
    fields = ("as_of", "source", "qualifier", "figure", "method", "status", "is_outlier", "quote")
    readonly_fields = fields
    ordering = ("-as_of", "-id")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("source", "assessment")

    @admin.display(description=_("figure"))
    def figure(self, report: PopulationReport) -> str:
        return report.figure_text

    @admin.display(description=_("outlier"), boolean=True)
    def is_outlier(self, report: PopulationReport) -> bool:
        return report.is_outlier


class NoticeInline(ReadOnlyInline):
    model = DepartureNotice
    fields = ("issued_on", "issuer", "channel", "compulsion", "deadline", "verification", "summary")
    readonly_fields = fields
    ordering = ("-issued_on", "-id")


class DistributionInline(ReadOnlyInline):
    model = AidDistribution
    fields = ("distributed_on", "provider", "item", "quantity", "unit", "households", "individuals", "purpose")
    readonly_fields = fields
    ordering = ("-distributed_on", "-id")


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    # Few columns, so the list fits beside the navigation and the filters.
    list_display = ("code", "name", "arabic_name", "status", "governorate", "latest")
    list_filter = ("status", "site_type", "governorate")
    search_fields = ("code", "name", "name_ar", "governorate", "district", "operator")
    date_hierarchy = "opened_on"
    readonly_fields = ("latest", "add_links", "created_at", "updated_at")
    inlines = (ReportInline, NoticeInline, DistributionInline)
    fieldsets = (
        (None, {"fields": ("code", "name", "name_ar", "site_type", "status", "operator", "capacity", "latest")}),
        (
            _("Location"),
            {"fields": ("governorate", "governorate_pcode", "district", "district_pcode", "latitude", "longitude")},
        ),
        (_("Dates"), {"fields": ("opened_on", "closed_on")}),
        (_("More"), {"fields": ("notes", "add_links", "created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest):
        return with_latest_estimate(super().get_queryset(request))

    def get_formset_kwargs(self, request: HttpRequest, obj: Site | None, inline, prefix: str) -> dict:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if obj is not None and obj.pk and isinstance(inline, ReadOnlyInline):
            kwargs["queryset"] = inline.latest_only(kwargs["queryset"], obj)
        return kwargs

    def save_model(self, request: HttpRequest, obj: Site, form, change: bool) -> None:
        site_save(site=obj, by=request.user)

    def get_urls(self):
        return [
            path("map/", self.admin_site.admin_view(self.map_view), name="shelters_site_map"),
            path(
                "<path:object_id>/chart-data/",
                self.admin_site.admin_view(self.chart_data_view),
                name="shelters_site_chart_data",
            ),
            *super().get_urls(),
        ]

    def chart_data_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """The site's estimate, band, reports, notices and distributions, for the chart on its page."""
        site = self.get_object(request, object_id)
        if site is None or not self.has_view_permission(request, site):
            raise Http404
        return JsonResponse(site_chart_data(site))

    def map_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": _("Map of sites"),
            "opts": self.model._meta,
            "features": site_map_features(),
            "tile_url": settings.SHELTERS_MAP_TILE_URL,
            "tile_attribution": settings.SHELTERS_MAP_TILE_ATTRIBUTION,
        }
        return TemplateResponse(request, "admin/shelters/site/map.html", context)

    def delete_model(self, request: HttpRequest, obj: Site) -> None:
        sites_delete(sites=[obj], by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        sites_delete(sites=list(queryset), by=request.user)

    @admin.display(description=_("Arabic name"), ordering="name_ar")
    def arabic_name(self, site: Site) -> str:
        return format_html('<span dir="rtl" lang="ar">{}</span>', site.name_ar) if site.name_ar else ""

    @admin.display(description=_("latest estimate"), ordering="latest_estimate")
    def latest(self, site: Site) -> str:
        if site.latest_estimate is None:
            return "—"
        flags = ", ".join(site.latest_flags or [])
        # The figure first, the band and its day in small print: the list stays readable.
        return format_html(
            '<span style="white-space:nowrap"><strong>{}</strong> <small>({}–{}, 90 %)</small></span>'
            "<br><small>{}{}</small>",
            f"{site.latest_estimate:,}",
            f"{site.latest_low:,}",
            f"{site.latest_high:,}",
            site.latest_date.isoformat(),
            f" · {flags}" if flags else "",
        )

    @admin.display(description=_("add evidence"))
    def add_links(self, site: Site) -> str:
        if not site.pk:
            return "—"
        links = [
            (reverse("admin:shelters_populationreport_add"), _("Add a population report")),
            (reverse("admin:shelters_departurenotice_add"), _("Add a departure notice")),
            (reverse("admin:shelters_aiddistribution_add"), _("Add an aid distribution")),
        ]
        return format_html(
            " · ".join(['<a href="{}?site={}">{}</a>'] * len(links)),
            *[part for url, label in links for part in (url, site.pk, label)],
        )
