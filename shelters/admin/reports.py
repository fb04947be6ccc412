from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from shelters.models import PopulationReport, ReportStatus
from shelters.services.organizations import organization_for
from shelters.services.reports import report_correct, report_create, report_set_status

# Fields that are the claim itself: fixed once saved (a correction is a new report).
EVIDENCE_FIELDS = (
    "site",
    "source",
    "as_of",
    "reported_on",
    "method",
    "qualifier",
    "value",
    "low",
    "high",
    "households",
    "female",
    "male",
    "children",
    "adults",
    "elderly",
    "quote",
    "url",
    "external_id",
    "corrects",
)
# Set by the server, never typed by staff.
SERVER_FIELDS = (
    "status",
    "status_reason",
    "status_changed_at",
    "status_changed_by",
    "engine_weight",
    "is_outlier",
    "organization",
    "created_by",
    "created_at",
    "updated_at",
)


class StatusReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept in the report's history and shown to the submitting organisation."),
    )


def _change_status(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, status: str, reason: str = ""
) -> None:
    changed, refused = 0, []
    for report in queryset:
        try:
            report_set_status(report=report, status=status, by=request.user, reason=reason)
            changed += 1
        except ValidationError as error:
            refused.append(f"{report}: {' '.join(error.messages)}")
    if changed:
        modeladmin.message_user(
            request,
            ngettext("%(count)d report marked %(status)s.", "%(count)d reports marked %(status)s.", changed)
            % {"count": changed, "status": ReportStatus(status).label.lower()},
            messages.SUCCESS,
        )
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


def _with_reason(status: str, description: str):
    """An action that first asks for a reason on an intermediate page, then applies it."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            _change_status(modeladmin, request, queryset, status, form.cleaned_data["reason"])
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "form": form,
            "reports": queryset,
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "opts": modeladmin.model._meta,
            "status_label": ReportStatus(status).label,
        }
        return TemplateResponse(request, "admin/shelters/populationreport/status_reason.html", context)

    action.__name__ = f"mark_{status}"
    return admin.action(description=description, permissions=["change"])(action)


@admin.action(description=_("Verify selected reports"), permissions=["change"])
def verify_reports(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    _change_status(modeladmin, request, queryset, ReportStatus.VERIFIED)


reject_reports = _with_reason(ReportStatus.REJECTED, _("Reject selected reports (with a reason)"))
retract_reports = _with_reason(ReportStatus.RETRACTED, _("Retract selected reports (with a reason)"))


@admin.register(PopulationReport)
class PopulationReportAdmin(SimpleHistoryAdmin):
    list_display = (
        "site",
        "as_of",
        "source",
        "qualifier",
        "figure",
        "method",
        "status",
        "engine_weight",
        "is_outlier",
        "organization",
    )
    list_filter = ("status", "qualifier", "method", "source__grade", "assessment__outlier", "source", "organization")
    search_fields = ("site__code", "site__name", "site__name_ar", "external_id", "quote", "source__name")
    date_hierarchy = "as_of"
    list_select_related = ("site", "source", "organization", "assessment")
    autocomplete_fields = ("site", "source")
    raw_id_fields = ("corrects",)
    actions = (verify_reports, reject_reports, retract_reports)
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("site", "source", "as_of", "reported_on", "method")}),
        (_("Figure"), {"fields": ("qualifier", "value", "low", "high")}),
        (
            _("Breakdown"),
            {"fields": ("households", "female", "male", "children", "adults", "elderly"), "classes": ("collapse",)},
        ),
        (_("Provenance"), {"fields": ("quote", "url", "external_id", "corrects", "notes")}),
        (_("Status"), {"fields": SERVER_FIELDS}),
    )

    @admin.display(description=_("figure"))
    def figure(self, report: PopulationReport) -> str:
        return report.figure_text

    @admin.display(description=_("engine weight"), ordering="assessment__weight")
    def engine_weight(self, report: PopulationReport) -> float | None:
        return report.engine_weight

    @admin.display(description=_("outlier"), boolean=True, ordering="assessment__outlier")
    def is_outlier(self, report: PopulationReport) -> bool:
        return report.is_outlier

    def get_readonly_fields(self, request: HttpRequest, obj: PopulationReport | None = None) -> tuple[str, ...]:
        if obj is None:
            return SERVER_FIELDS
        return EVIDENCE_FIELDS + SERVER_FIELDS

    def save_model(self, request: HttpRequest, obj: PopulationReport, form: forms.ModelForm, change: bool) -> None:
        if change:
            # Only the free-text notes are editable after creation.
            obj._history_user = request.user
            obj.save(update_fields=["notes", "updated_at"])
            return
        data = {name: form.cleaned_data[name] for name in form.cleaned_data if name in (*EVIDENCE_FIELDS, "notes")}
        organization = organization_for(request.user)
        if corrected := data.pop("corrects", None):
            # A correction retracts the report it replaces, so the two never both count.
            created = report_correct(report=corrected, by=request.user, organization=organization, reason="", **data)
        else:
            created = report_create(organization=organization, created_by=request.user, **data)
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request: HttpRequest, obj: PopulationReport | None = None) -> bool:
        # Reports are evidence: they are rejected or retracted, never deleted.
        return False
