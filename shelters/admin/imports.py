"""Spreadsheet import in the admin: upload, dry-run preview, confirm.

The same service as the import commands does the work (``import_file``), so
the rules and the history are identical; this module only carries the file
from the preview to the confirmation and shows the outcome. The upload is kept
server-side under a random token remembered in the session: the browser only
ever sends the token back, never a path.
"""

from collections.abc import Sequence

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import FileExtensionValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shelters.importing import IMPORTERS, ImportRejected, ImportResult, RowError, TableError
from shelters.importing.table import EXTENSIONS
from shelters.services.imports import STAGED_MAX_AGE, discard_staged, import_file, stage_upload, staged_file
from shelters.services.organizations import organization_for

# token -> {"kind", "name", "at"}: the previews this session may confirm.
SESSION_KEY = "shelters_pending_imports"
TEMPLATES = "admin/shelters/import"


def _model(kind: str):
    return IMPORTERS[kind].model


def _allowed_kinds(request: HttpRequest) -> list[str]:
    """The kinds whose records this user may add (an import adds records of that model)."""
    allowed = []
    for kind in IMPORTERS:
        opts = _model(kind)._meta
        if request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}"):
            allowed.append(kind)
    return allowed


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The file holds"))
    file = forms.FileField(
        label=gettext_lazy("File"),
        validators=[FileExtensionValidator(allowed_extensions=[ext.lstrip(".") for ext in EXTENSIONS])],
        help_text=gettext_lazy(
            "CSV (UTF-8) or XLSX (first sheet) in the interchange format: a header row, "
            "optionally a row of HXL hashtags under it, dates as YYYY-MM-DD."
        ),
    )

    def __init__(self, *args, kinds: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, capfirst(_model(kind)._meta.verbose_name_plural)) for kind in kinds]


def import_view(request: HttpRequest) -> HttpResponse:
    """Served at /admin/import/ behind ``admin.site.admin_view`` (active staff only)."""
    kinds = _allowed_kinds(request)
    if not kinds:
        raise PermissionDenied
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, kinds)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, kinds=kinds)
        if form.is_valid():
            return _preview(request, form)
    else:
        form = ImportForm(kinds=kinds, initial={"kind": request.GET.get("kind")})
    return _render(request, "form.html", _("Import a spreadsheet"), form=form)


def _preview(request: HttpRequest, form: ImportForm) -> HttpResponse:
    kind, upload = form.cleaned_data["kind"], form.cleaned_data["file"]
    token = stage_upload(upload)
    try:
        result = _run(request, kind, token, upload.name, dry_run=True)
    except TableError as error:
        discard_staged(token)
        form.add_error("file", str(error))
        return _render(request, "form.html", _("Import a spreadsheet"), form=form)
    except ImportRejected as rejected:
        discard_staged(token)  # it cannot be confirmed: nothing to keep
        return _render_preview(request, kind, upload.name, errors=rejected.errors)
    # Previews left unconfirmed are forgotten with their files, after a day.
    now = timezone.now().timestamp()
    pending = {
        key: entry
        for key, entry in request.session.get(SESSION_KEY, {}).items()
        if entry.get("at", 0) > now - STAGED_MAX_AGE.total_seconds()
    }
    pending[token] = {"kind": kind, "name": upload.name, "at": now}
    request.session[SESSION_KEY] = pending
    return _render_preview(request, kind, upload.name, result=result, token=token)


def _confirm(request: HttpRequest, kinds: list[str]) -> HttpResponse:
    token = request.POST["token"]
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if entry is None:
        messages.error(request, _("This preview has expired or was already imported: upload the file again."))
        return HttpResponseRedirect(reverse("admin_import"))
    try:
        if entry["kind"] not in kinds:
            raise PermissionDenied
        result = _run(request, entry["kind"], token, entry["name"], dry_run=False)
    except TableError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("admin_import"))
    except ImportRejected as rejected:
        # The database changed since the preview (say, the same ids imported meanwhile).
        messages.error(request, _("The data changed since the preview; nothing was imported."))
        return _render_preview(request, entry["kind"], entry["name"], errors=rejected.errors)
    finally:
        discard_staged(token)
    messages.success(request, _("Imported %(summary)s.") % {"summary": result.summary()})
    opts = _model(entry["kind"])._meta
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))


def _run(request: HttpRequest, kind: str, token: str, name: str, *, dry_run: bool) -> ImportResult:
    handle = staged_file(token)
    if handle is None:
        raise TableError(_("The uploaded file is no longer available: upload it again."))
    with handle:
        return import_file(
            kind=kind,
            file=handle,
            name=name,
            # Like the report form in the admin: the user's organisation, else the default one.
            organization=organization_for(request.user),
            user=request.user,
            progress=False,
            dry_run=dry_run,
        )


def _render_preview(
    request: HttpRequest,
    kind: str,
    name: str,
    *,
    result: ImportResult | None = None,
    errors: Sequence[RowError] = (),
    token: str = "",
) -> HttpResponse:
    # Without a token there is nothing to confirm: the page lists the problems only.
    return _render(
        request,
        "preview.html",
        _("Preview of %(name)s") % {"name": name},
        kind_label=capfirst(_model(kind)._meta.verbose_name_plural),
        organization=organization_for(request.user),
        result=result,
        errors=errors,
        token=token,
    )


def _render(request: HttpRequest, template: str, title: str, **context) -> HttpResponse:
    return TemplateResponse(
        request, f"{TEMPLATES}/{template}", {**admin.site.each_context(request), "title": title, **context}
    )
