"""Departure notices and aid distributions: submitted records with history."""

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from shelters.models import AidDistribution, DepartureNotice
from shelters.services.evidence import record_save

SERVER_FIELDS = ("organization", "created_by", "created_at", "updated_at")


class SubmittedRecordAdmin(SimpleHistoryAdmin):
    readonly_fields = SERVER_FIELDS
    autocomplete_fields = ("site", "source")
    list_select_related = ("site", "organization")

    def save_model(self, request: HttpRequest, obj, form: forms.ModelForm, change: bool) -> None:
        record_save(record=obj, by=request.user)


@admin.register(DepartureNotice)
class DepartureNoticeAdmin(SubmittedRecordAdmin):
    list_display = ("site", "issued_on", "issuer", "channel", "compulsion", "deadline", "verification", "organization")
    list_filter = ("compulsion", "channel", "verification", "organization")
    search_fields = ("site__code", "site__name", "site__name_ar", "issuer", "summary", "stated_reason", "external_id")
    date_hierarchy = "issued_on"


@admin.register(AidDistribution)
class AidDistributionAdmin(SubmittedRecordAdmin):
    list_display = (
        "site",
        "distributed_on",
        "provider",
        "item",
        "quantity",
        "unit",
        "households",
        "individuals",
        "purpose",
        "organization",
    )
    list_filter = ("item", "purpose", "organization")
    search_fields = ("site__code", "site__name", "site__name_ar", "provider", "external_id")
    date_hierarchy = "distributed_on"
    raw_id_fields = ("notice",)
