"""Count reports and their schedules: staff ask for reports, download them, and set when they run."""

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from shelters.models import CountReport, CountReportSchedule, Scope
from shelters.services.count_reports import (
    count_report_request,
    count_report_retry,
    count_report_schedule_save,
    period_containing,
)

from .periodic_tasks import describe_crontab


@admin.register(CountReportSchedule)
class CountReportScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "governorate", "period_kind", "timing", "enabled")
    list_filter = ("scope", "period_kind")
    fields = ("name", "scope", "governorate", "sites", "period_kind", "recipients", "timing")
    readonly_fields = ("timing",)
    autocomplete_fields = ("sites",)
    filter_horizontal = ("recipients",)

    @admin.display(description=_("timing"))
    def timing(self, schedule: CountReportSchedule) -> str:
        if not schedule.periodic_task_id:
            return _("06:00 UTC every day (Mondays for a weekly report); editable once saved")
        task = schedule.periodic_task
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html('<a href="{}">{}</a>', url, describe_crontab(task.crontab) if task.crontab else task.name)

    @admin.display(description=_("enabled"), boolean=True)
    def enabled(self, schedule: CountReportSchedule) -> bool:
        return schedule.periodic_task.enabled

    def save_model(self, request, obj, form, change) -> None:
        count_report_schedule_save(schedule=obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # disable it (its timing) instead: its reports keep pointing at it


class CountReportRequestForm(forms.ModelForm):
    day = forms.DateField(
        # In context: django-celery-beat's "Day" (an interval's unit) reads differently in Arabic.
        label=pgettext_lazy("the day a count report is about", "Day"),
        initial=date.today,
        help_text=_("The day reported on; for a week, any day of that week (Monday to Sunday)."),
    )

    class Meta:
        model = CountReport
        fields = ("scope", "governorate", "sites", "period_kind")

    def clean(self):
        data = super().clean()
        if data.get("scope") == Scope.GOVERNORATE and not data.get("governorate"):
            self.add_error("governorate", _("A governorate scope needs the governorate's name."))
        if data.get("scope") == Scope.SITES and not data.get("sites"):
            self.add_error("sites", _("Choose at least one site."))
        if data.get("day") and data.get("period_kind"):
            try:
                period_containing(data["period_kind"], data["day"])
            except ValueError as error:
                self.add_error("day", str(error))
        return data


@admin.register(CountReport)
class CountReportAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "total", "flagged", "downloads")
    list_filter = ("status", "period_kind", "scope", "schedule")
    date_hierarchy = "period_end"
    search_fields = ("governorate",)
    autocomplete_fields = ("sites",)
    actions = ("generate_again",)
    readonly_fields = (
        "scope",
        "governorate",
        "period_kind",
        "period_start",
        "period_end",
        "schedule",
        "status",
        "error",
        "requested_by",
        "created_at",
        "generated_at",
        "previous",
        "total",
        "flagged",
        "downloads",
    )
    fields = readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CountReportRequestForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("scope", "governorate", "sites", "period_kind", "day")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        data = form.cleaned_data
        report, _created = count_report_request(
            period=period_containing(data["period_kind"], data["day"]),
            scope=data["scope"],
            governorate=data.get("governorate", ""),
            site_ids=[site.pk for site in data.get("sites") or []],
            by=request.user,
        )
        obj.pk = report.pk  # what the admin's redirect and log name
        messages.info(request, _("The report is being generated; its files appear here when it is ready."))

    def save_related(self, request, form, formsets, change) -> None:
        pass  # the service set the sites

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("Generate the selected reports again (those not ready)"))
    def generate_again(self, request: HttpRequest, queryset) -> None:
        retried = count_report_retry(report_ids=queryset.values_list("pk", flat=True))
        messages.info(request, _("%(count)d report(s) will be generated again.") % {"count": len(retried)})

    @admin.display(description=_("people"))
    def total(self, report: CountReport) -> str:
        totals = report.summary.get("totals")
        if not totals:
            return "–"
        return f"{totals['estimate']:,} ({totals['low']:,}–{totals['high']:,})"

    @admin.display(description=_("flagged sites"))
    def flagged(self, report: CountReport) -> str:
        return f"{report.summary['flagged']['count']:,}" if report.summary.get("flagged") else "–"

    @admin.display(description=_("files"))
    def downloads(self, report: CountReport) -> str:
        links = [
            (reverse("admin:shelters_countreport_download", args=[report.pk, name]), name.upper())
            for name, field in CountReport.FILE_FIELDS.items()
            if getattr(report, field)
        ]
        files = format_html_join(" · ", '<a href="{}">{}</a>', links)
        return format_html('<span style="white-space: nowrap">{}</span>', files) if links else "–"

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:report_id>/download/<str:fmt>/", download, name="shelters_countreport_download"),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, report_id: int, fmt: str):
        if not self.has_view_permission(request):
            raise Http404
        report = CountReport.objects.filter(pk=report_id).first()
        field = CountReport.FILE_FIELDS.get(fmt)
        if report is None or field is None or not getattr(report, field):
            raise Http404
        file = getattr(report, field)
        return FileResponse(file.open("rb"), as_attachment=fmt != "html", filename=file.name.rsplit("/", 1)[-1])

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:shelters_countreport_change", args=[obj.pk]))
