from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    """A partner, authority or agency. Users, API tokens and submitted records belong to one."""

    class Kind(models.TextChoices):
        NGO = "ngo", _("NGO")
        UN_AGENCY = "un_agency", _("UN agency")
        AUTHORITY = "authority", _("Authority")
        CLUSTER = "cluster", _("Cluster or coordination body")
        OTHER = "other", _("Other")

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OTHER)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person or an integration account, member of at most one organisation."""

    class Role(models.TextChoices):
        # Reads everything its organisation may see.
        VIEWER = "viewer", _("Viewer")
        # Also submits reports, notices and distributions.
        EDITOR = "editor", _("Editor")
        # Also verifies, rejects and retracts reports.
        MANAGER = "manager", _("Manager")

    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    # The language the admin speaks to this person; empty: the browser's (or the default).
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, help_text=_("Language of the admin pages.")
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
