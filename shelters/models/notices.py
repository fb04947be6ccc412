from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .submitted import SubmittedRecord


class DepartureNotice(SubmittedRecord):
    """A call for people to leave a site, voluntary or not."""

    class Channel(models.TextChoices):
        LEAFLET = "leaflet", _("Leaflet or written statement")
        VERBAL = "verbal", _("Verbal")
        SOCIAL_MEDIA = "social_media", _("Social media")
        BROADCAST = "broadcast", _("Radio or television")
        SMS = "sms", _("Text message")
        OFFICIAL_ORDER = "official_order", _("Official order")
        OTHER = "other", _("Other")

    class Compulsion(models.TextChoices):
        VOLUNTARY = "voluntary", _("Voluntary")
        MANDATORY = "mandatory", _("Mandatory")
        UNCLEAR = "unclear", _("Unclear")

    class Verification(models.TextChoices):
        UNVERIFIED = "unverified", _("Unverified")
        VERIFIED = "verified", _("Verified")
        DISPUTED = "disputed", _("Disputed")

    site = models.ForeignKey(
        "shelters.Site", verbose_name=_("site"), on_delete=models.PROTECT, related_name="departure_notices"
    )
    issued_on = models.DateField(_("issued on"))
    issuer = models.CharField(_("issuer"), max_length=200)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.OTHER)
    compulsion = models.CharField(
        _("compulsion"), max_length=16, choices=Compulsion.choices, default=Compulsion.UNCLEAR
    )
    stated_reason = models.TextField(_("stated reason"), blank=True)
    support_offered = models.TextField(_("support offered"), blank=True)
    deadline = models.DateField(_("deadline to leave"), null=True, blank=True)
    source = models.ForeignKey(
        "shelters.Source",
        verbose_name=_("source"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="departure_notices",
    )
    summary = models.TextField(_("summary"), blank=True)
    verification = models.CharField(
        _("verification"), max_length=16, choices=Verification.choices, default=Verification.UNVERIFIED
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "issued_on", "id"]
        verbose_name = _("departure notice")
        verbose_name_plural = _("departure notices")
        constraints = [
            *SubmittedRecord.Meta.constraints,
            models.CheckConstraint(
                name="notice_deadline_not_before_issue",
                condition=Q(deadline__isnull=True) | Q(deadline__gte=F("issued_on")),
                violation_error_message=_("The deadline cannot be before the notice was issued."),
            ),
        ]
        indexes = [
            # The site page and the engine read a site's notices in date order.
            models.Index(fields=["site", "issued_on"], name="notice_site_issued_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.issued_on} {self.issuer} ({self.get_compulsion_display()})"

    def clean(self) -> None:
        super().clean()
        if self.deadline and self.issued_on and self.deadline < self.issued_on:
            raise ValidationError({"deadline": _("The deadline cannot be before the notice was issued.")})
