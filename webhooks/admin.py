from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from webhooks.events import EVENT_CHOICES
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from webhooks.services import deliveries_retry, generate_secret


class WebhookSubscriptionForm(forms.ModelForm):
    # Checkboxes rather than raw JSON; the model validator still checks the list.
    events = forms.MultipleChoiceField(label=_("events"), choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ("organization", "url", "events", "active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """The secret is not a field here at all: generated on creation, shown once
    in the confirmation message, never displayed again."""

    form = WebhookSubscriptionForm
    list_display = ("id", "organization", "url", "events", "active", "created_at")
    list_filter = ("active", "organization")
    search_fields = ("url", "organization__name", "organization__slug")
    readonly_fields = ("created_by", "created_at")
    list_select_related = ("organization",)

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.secret = generate_secret()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("Signing secret for %(url)s (copy it now, it will not be shown again): %(secret)s")
                % {"url": obj.url, "secret": obj.secret},
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Read-only: deliveries are written by emit() and the delivery task."""

    list_display = (
        "id",
        "event",
        "subscription",
        "organization",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    )
    list_filter = ("status", "event", ("subscription__organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=event_id", "subscription__url")
    list_select_related = ("subscription__organization",)
    date_hierarchy = "created_at"
    fields = (
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
    readonly_fields = fields
    actions = ("retry_failed",)

    @admin.display(description=_("organisation"), ordering="subscription__organization__name")
    def organization(self, delivery: WebhookDelivery) -> str:
        return str(delivery.subscription.organization)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # The action changes rows, so it needs the change permission the form itself does not give.
        return request.user.has_perm("webhooks.change_webhookdelivery")

    @admin.action(description=_("Retry the selected failed deliveries"), permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        requeued = deliveries_retry(queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", len(requeued))
            % {"count": len(requeued)},
            messages.SUCCESS if requeued else messages.WARNING,
        )
