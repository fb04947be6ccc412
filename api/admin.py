"""Partner API tokens in the admin, labelled in the staff's language.

Knox registers its own admin for AuthToken with English labels it never marks
for translation. The same rows are shown here through the ``APIToken`` proxy,
and knox's registration is removed so the admin lists them once.

Two rules knox's admin does not have:

* a token is issued only to a partner account (an active user of an
  organisation, neither staff nor superuser): the plaintext is shown to whoever
  issues it, so a token for a colleague or an administrator would let staff act
  as them through the API;
* a token cannot be edited, only revoked (deleted) and issued again: moving it
  to another user or extending it would change who the API believes is calling.
"""

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from knox.admin import AuthTokenAdmin, AuthTokenCreateForm
from knox.models import AuthToken
from knox.settings import knox_settings

from shelters.models import User

from .models import APIToken

admin.site.unregister(AuthToken)


def _when(moment: datetime) -> str:
    # A read-only view prints what a display method returns as is: localise it here.
    return formats.localize(timezone.localtime(moment))


def partner_accounts():
    return User.objects.filter(is_active=True, is_staff=False, is_superuser=False, organization__isnull=False)


class APITokenCreateForm(AuthTokenCreateForm):
    class Meta(AuthTokenCreateForm.Meta):
        model = APIToken
        labels = {"user": _("user"), "expiry": _("expires")}
        help_texts = {
            "user": _("A partner account: an active user of an organisation, not staff."),
            "expiry": _("Leave empty for the standard lifetime of API tokens (API_TOKEN_DAYS)."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = partner_accounts()

    def clean_expiry(self) -> datetime | None:
        # Knox's form would save an empty expiry as "never"; a token made with
        # create_partner gets the configured lifetime, and so does this one.
        expiry = self.cleaned_data["expiry"]
        if expiry is None:
            return None if knox_settings.TOKEN_TTL is None else timezone.now() + knox_settings.TOKEN_TTL
        if expiry <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."), code="expiry_past")
        return expiry


@admin.register(APIToken)
class APITokenAdmin(AuthTokenAdmin):
    add_form = APITokenCreateForm
    list_display = ("key_prefix", "token_user", "created_on", "expires_on")  # also the (read-only) token page
    ordering = ("-created",)
    raw_id_fields = ()  # a choice among partner accounts, not any user id

    @admin.display(description=_("token prefix"), ordering="token_key")
    def key_prefix(self, token: AuthToken) -> str:
        return token.token_key

    @admin.display(description=_("user"), ordering="user__username")
    def token_user(self, token: AuthToken) -> str:
        return str(token.user)

    @admin.display(description=_("created at"), ordering="created")
    def created_on(self, token: AuthToken) -> str:
        return _when(token.created)

    @admin.display(description=_("expires"), ordering="expiry")
    def expires_on(self, token: AuthToken) -> str | None:
        return None if token.expiry is None else _when(token.expiry)

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "user":
            # No "add / change user" shortcuts beside the choice: accounts are made elsewhere.
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
        return formfield

    def get_fields(self, request: HttpRequest, obj: AuthToken | None = None):
        # Without the change permission Django shows an existing token's fields read-only.
        return ["user", "expiry"] if obj is None else list(self.list_display)

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False  # revoke and issue again instead (see the module docstring)

    def save_model(self, request: HttpRequest, obj: AuthToken, form: forms.ModelForm, change: bool) -> None:
        # Knox's own message is the bare word "TOKEN"; the token is shown this once only.
        admin.ModelAdmin.save_model(self, request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("Copy the new token now, it is not shown again: %(token)s") % {"token": form.token},
                messages.INFO,
            )
