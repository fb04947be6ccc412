from django.db import models
from django.utils.translation import gettext_lazy as _


class Grade(models.TextChoices):
    """Source reliability on the Admiralty (NATO) scale used in humanitarian analysis."""

    A = "A", _("A: completely reliable")
    B = "B", _("B: usually reliable")
    C = "C", _("C: fairly reliable")
    D = "D", _("D: not usually reliable")
    E = "E", _("E: unreliable")
    F = "F", _("F: reliability cannot be judged")


class Source(models.Model):
    """Who a figure comes from: an authority, a registration desk, a news outlet, a partner."""

    class Kind(models.TextChoices):
        AUTHORITY = "authority", _("Authority")
        REGISTRATION = "registration", _("Registration desk")
        SITE_MANAGEMENT = "site_management", _("Site management")
        NGO = "ngo", _("NGO or partner")
        UN_AGENCY = "un_agency", _("UN agency")
        MEDIA = "media", _("Media")
        SOCIAL_MEDIA = "social_media", _("Social media")
        COMMUNITY = "community", _("Community or key informant")
        OTHER = "other", _("Other")

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.OTHER)
    # Blank means not yet graded, which the engine treats like F.
    grade = models.CharField(_("reliability grade"), max_length=1, choices=Grade.choices, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return f"{self.name} ({self.grade or '?'})"
