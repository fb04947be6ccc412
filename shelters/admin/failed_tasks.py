"""Background tasks that failed for good: staff see why, then send them again or dismiss them."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shelters.models import FailedTask
from shelters.services.failed_tasks import failed_tasks_dismiss, failed_tasks_send_again


@admin.register(FailedTask)
class FailedTaskAdmin(admin.ModelAdmin):
    list_display = ("task_name", "exception_line", "retries", "failed_at", "status", "worker")
    list_filter = ("status", "task_name")
    search_fields = ("task_id", "task_name", "exception")
    date_hierarchy = "failed_at"
    actions = ("send_again", "dismiss")
    readonly_fields = [field.name for field in FailedTask._meta.fields]

    @admin.display(description=_("exception"))
    def exception_line(self, failed: FailedTask) -> str:
        return failed.exception.splitlines()[0][:140] if failed.exception else ""

    @admin.action(description=_("Send the selected tasks again"))
    def send_again(self, request: HttpRequest, queryset) -> None:
        sent = failed_tasks_send_again(ids=queryset.values_list("pk", flat=True), by=request.user)
        messages.info(
            request,
            ngettext("%(count)d task sent again.", "%(count)d tasks sent again.", len(sent)) % {"count": len(sent)},
        )

    @admin.action(description=_("Dismiss the selected tasks"))
    def dismiss(self, request: HttpRequest, queryset) -> None:
        count = failed_tasks_dismiss(ids=queryset.values_list("pk", flat=True), by=request.user)
        messages.info(
            request, ngettext("%(count)d task dismissed.", "%(count)d tasks dismissed.", count) % {"count": count}
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the actions change them, through the service

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
