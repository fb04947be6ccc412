"""Partner API tokens in the admin, labelled in the staff's language.

Knox registers its own admin for AuthToken with English labels it never marks
for translation. The same rows are shown here through the ``APIToken`` proxy,
and knox's registration is removed so the admin lists them once.
"""

from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.admin import AuthTokenAdmin, AuthTokenCreateForm
from knox.models import AuthToken
from knox.settings import knox_settings

from .models import APIToken

admin.site.unregister(AuthToken)


class APITokenCreateForm(AuthTokenCreateForm):
    class Meta(AuthTokenCreateForm.Meta):
        model = APIToken
        labels = {"user": _("user"), "expiry": _("expires")}
        help_texts = {"expiry": _("Leave empty for the standard lifetime of API tokens (API_TOKEN_DAYS).")}

    def clean_expiry(self) -> datetime | None:
        # Knox's form would save an empty expiry as "never"; a token made with
        # create_partner gets the configured lifetime, and so does this one.
        expiry = self.cleaned_data["expiry"]
        if expiry is None and knox_settings.TOKEN_TTL:
            return timezone.now() + knox_settings.TOKEN_TTL
        return expiry


@admin.register(APIToken)
class APITokenAdmin(AuthTokenAdmin):
    add_form = APITokenCreateForm
    list_display = ("key_prefix", "token_user", "created_on", "expires_on")
    ordering = ("-created",)

    @admin.display(description=_("token prefix"), ordering="token_key")
    def key_prefix(self, token: AuthToken) -> str:
        return token.token_key

    @admin.display(description=_("user"), ordering="user__username")
    def token_user(self, token: AuthToken) -> str:
        return str(token.user)

    @admin.display(description=_("created at"), ordering="created")
    def created_on(self, token: AuthToken):
        return token.created

    @admin.display(description=_("expires"), ordering="expiry")
    def expires_on(self, token: AuthToken):
        return token.expiry

    def save_model(self, request: HttpRequest, obj: AuthToken, form: forms.ModelForm, change: bool) -> None:
        # Knox's own message is the bare word "TOKEN"; the token is shown this once only.
        admin.ModelAdmin.save_model(self, request, obj, form, change)
        if not change:
            self.message_user(
                request,
                _("Copy the new token now, it is not shown again: %(token)s") % {"token": form.token},
                messages.INFO,
            )
