"""The review queue: conflicts and outliers the engine flagged, worked by staff.

Thin: every change goes through ``shelters.services.reviews`` (and from there
the report services), so the rules and the history are the same everywhere.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from shelters.models import COUNTING_STATUSES, PopulationReport, ReviewComment, ReviewItem, ReviewStatus, User
from shelters.services.reviews import (
    review_item_assign,
    review_item_comment,
    review_item_dismiss,
    review_item_resolve,
)

# Reports listed on the resolve page: the newest, where a conflict lives.
RESOLVE_PAGE_REPORTS = 50
ALL = "all"


class StatusFilter(admin.SimpleListFilter):
    """Open items unless asked otherwise: the changelist is the queue."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*ReviewStatus.choices, (ALL, _("All"))]

    def value(self) -> str:
        return super().value() or ReviewStatus.OPEN

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset if self.value() == ALL else queryset.filter(status=self.value())

    def choices(self, changelist):
        # No built-in "All" (no parameter): here no parameter means open.
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else None
        for index, (lookup, title) in enumerate(self.lookup_choices):
            if counts is not None:
                title = f"{title} ({counts.get(f'{index}__c', '-')})"
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class AssignedFilter(admin.SimpleListFilter):
    title = _("assigned to")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("me", _("Me")), ("nobody", _("Unassigned"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept with the review item and in its history."),
    )


class ResolveForm(ReasonForm):
    """Which of the listed reports to verify and which to reject; the reason goes on both."""

    verify_ids = forms.TypedMultipleChoiceField(label=_("Verify"), coerce=int, required=False)
    reject_ids = forms.TypedMultipleChoiceField(label=_("Reject"), coerce=int, required=False)

    def __init__(self, *args, reports: list[PopulationReport], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(report.pk, str(report)) for report in reports]
        self.fields["verify_ids"].choices = choices
        self.fields["reject_ids"].choices = choices
        self.fields["reason"].help_text = _("Kept with the review item, and on each rejected report.")


class CommentInline(admin.TabularInline):
    """Comments so far: read-only (append-only)."""

    model = ReviewComment
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("comments")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class NewCommentInline(admin.StackedInline):
    """One blank comment to add; saved through the service with the signed-in author."""

    model = ReviewComment
    fields = ("text",)
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = _("new comment")
    verbose_name_plural = _("add a comment")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).none()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.action(description=_("Assign to me"), permissions=["change"])
def assign_to_me(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    assigned = 0
    for item in queryset:
        try:
            review_item_assign(item=item, user=request.user, by=request.user)
            assigned += 1
        except ValidationError as error:
            modeladmin.message_user(request, f"{item}: {' '.join(error.messages)}", messages.ERROR)
    if assigned:
        modeladmin.message_user(
            request,
            ngettext("%(count)d item assigned to you.", "%(count)d items assigned to you.", assigned)
            % {"count": assigned},
            messages.SUCCESS,
        )


@admin.action(description=_("Dismiss selected items (with a reason)"), permissions=["change"])
def dismiss_items(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    # The reports' reject pattern: an intermediate page asks for the reason first.
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        dismissed = 0
        for item in queryset:
            try:
                review_item_dismiss(item=item, by=request.user, reason=form.cleaned_data["reason"])
                dismissed += 1
            except ValidationError as error:
                modeladmin.message_user(request, f"{item}: {' '.join(error.messages)}", messages.ERROR)
        if dismissed:
            modeladmin.message_user(
                request,
                ngettext("%(count)d item dismissed.", "%(count)d items dismissed.", dismissed) % {"count": dismissed},
                messages.SUCCESS,
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Dismiss review items"),
        "form": form,
        "items": queryset.select_related("site", "report"),
        "action": request.POST.get("action"),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/shelters/reviewitem/dismiss_reason.html", context)


@admin.register(ReviewItem)
class ReviewItemAdmin(SimpleHistoryAdmin):
    list_display = ("site", "kind", "report", "status", "assigned_to", "opened_at")
    list_filter = (StatusFilter, "kind", AssignedFilter)
    search_fields = ("site__code", "site__name", "site__name_ar")
    list_select_related = ("site", "report", "assigned_to")
    date_hierarchy = "opened_at"
    actions = (assign_to_me, dismiss_items)
    inlines = (CommentInline, NewCommentInline)
    fields = (
        "site",
        "kind",
        "report",
        "latest_flags",
        "status",
        "assigned_to",
        "opened_at",
        "resolved_at",
        "resolved_by",
        "resolution",
    )
    CLOSED_FIELDS = ("site", "kind", "report", "latest_flags", "status", "opened_at", "resolved_at", "resolved_by")

    def get_readonly_fields(self, request: HttpRequest, obj: ReviewItem | None = None) -> tuple[str, ...]:
        # Only the assignee is edited here, and only while the item is open;
        # closing goes through the resolve page or the dismiss action.
        if obj is not None and obj.is_open:
            return (*self.CLOSED_FIELDS, "resolution")
        return self.fields

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "assigned_to":
            kwargs["queryset"] = User.objects.filter(is_staff=True, is_active=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("site's latest flags"))
    def latest_flags(self, item: ReviewItem) -> str:
        state = getattr(item.site, "reconciliation", None)
        return ", ".join(state.latest_flags) if state and state.latest_flags else "–"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Items are opened by reconciliation, from the engine's flags.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ReviewItem | None = None) -> bool:
        # Kept as the record of what was flagged and decided.
        return False

    def save_model(self, request: HttpRequest, obj: ReviewItem, form: forms.ModelForm, change: bool) -> None:
        if "assigned_to" in form.changed_data:
            try:
                review_item_assign(item=obj, user=form.cleaned_data["assigned_to"], by=request.user)
            except ValidationError as error:  # closed by someone else since the page was opened
                self.message_user(request, " ".join(error.messages), messages.ERROR)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset, change: bool) -> None:
        if formset.model is not ReviewComment:
            return super().save_formset(request, form, formset, change)
        # Append-only, and the author is whoever is signed in: never what a form says.
        formset.new_objects = [
            review_item_comment(item=form.instance, author=request.user, text=comment_form.cleaned_data["text"])
            for comment_form in formset.forms
            if comment_form.has_changed() and comment_form.cleaned_data.get("text")
        ]
        # What the admin's change message reads (formset.save() would have set them).
        formset.changed_objects, formset.deleted_objects = [], []
        return None

    def get_urls(self):
        resolve = self.admin_site.admin_view(self.resolve_view)
        return [path("<int:item_id>/resolve/", resolve, name="shelters_reviewitem_resolve"), *super().get_urls()]

    def resolve_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        item = get_object_or_404(ReviewItem.objects.select_related("site", "report"), pk=item_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        change_url = reverse("admin:shelters_reviewitem_change", args=[item.pk])
        if not item.is_open:
            self.message_user(request, _("This review item is already closed."), messages.WARNING)
            return HttpResponseRedirect(change_url)
        reports = list(
            item.site.reports.filter(status__in=COUNTING_STATUSES)
            .select_related("source", "assessment")
            .order_by("-as_of", "-id")[:RESOLVE_PAGE_REPORTS]
        )
        if item.report and item.report not in reports:
            reports.insert(0, item.report)
        form = ResolveForm(request.POST or None, reports=reports)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if "_dismiss" in request.POST:
                    review_item_dismiss(item=item, by=request.user, reason=data["reason"])
                    done = _("The review item was dismissed.")
                else:
                    review_item_resolve(
                        item=item,
                        by=request.user,
                        verify_ids=data["verify_ids"],
                        reject_ids=data["reject_ids"],
                        reason=data["reason"],
                    )
                    done = _("The review item was resolved; the site will be reconciled again.")
            except ValidationError as error:
                # The service names ResolveForm's fields; anything else is shown above the form.
                for field, field_errors in getattr(error, "message_dict", {None: error.messages}).items():
                    form.add_error(field if field in form.fields else None, field_errors)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:shelters_reviewitem_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resolve: %(item)s") % {"item": item},
            "item": item,
            "reports": reports,
            "form": form,
            "verify_checked": {str(pk) for pk in form["verify_ids"].value() or []},
            "reject_checked": {str(pk) for pk in form["reject_ids"].value() or []},
            "opts": self.model._meta,
            "original": item,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/shelters/reviewitem/resolve.html", context)
