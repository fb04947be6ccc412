from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .submitted import SubmittedRecord


class AidDistribution(SubmittedRecord):
    """What was given at a site on a day. Unknown quantities stay empty, never 0."""

    class Item(models.TextChoices):
        FOOD_PACKAGE = "food_package", _("Food package")
        READY_MEAL = "ready_meal", _("Ready-to-eat meal")
        WATER = "water", _("Water")
        HYGIENE_KIT = "hygiene_kit", _("Hygiene kit")
        NFI_KIT = "nfi_kit", _("Non-food items")
        BLANKET = "blanket", _("Blanket")
        SHELTER_KIT = "shelter_kit", _("Shelter kit")
        CASH = "cash", _("Cash")
        MEDICAL = "medical", _("Medical supplies")
        TRANSPORT = "transport", _("Transport")
        OTHER = "other", _("Other")

    class Purpose(models.TextChoices):
        GENERAL = "general", _("General assistance")
        ARRIVAL_SUPPORT = "arrival_support", _("Support to arriving families")
        DEPARTURE_SUPPORT = "departure_support", _("Support to departing families")
        WINTERISATION = "winterisation", _("Winterisation")
        OTHER = "other", _("Other")

    site = models.ForeignKey(
        "shelters.Site", verbose_name=_("site"), on_delete=models.PROTECT, related_name="aid_distributions"
    )
    distributed_on = models.DateField(_("distributed on"))
    provider = models.CharField(_("provider"), max_length=200)
    item = models.CharField(_("item"), max_length=16, choices=Item.choices)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=2, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    households = models.PositiveIntegerField(_("households reached"), null=True, blank=True)
    individuals = models.PositiveIntegerField(_("individuals reached"), null=True, blank=True)
    purpose = models.CharField(_("purpose"), max_length=24, choices=Purpose.choices, default=Purpose.GENERAL)
    notice = models.ForeignKey(
        "shelters.DepartureNotice",
        verbose_name=_("departure notice"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="aid_distributions",
    )
    source = models.ForeignKey(
        "shelters.Source",
        verbose_name=_("source"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="aid_distributions",
    )
    notes = models.TextField(_("notes"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "distributed_on", "id"]
        verbose_name = _("aid distribution")
        verbose_name_plural = _("aid distributions")
        constraints = [
            *SubmittedRecord.Meta.constraints,
            models.CheckConstraint(
                name="distribution_counts_not_negative",
                condition=(Q(quantity__isnull=True) | Q(quantity__gte=0))
                & (Q(households__isnull=True) | Q(households__gte=0))
                & (Q(individuals__isnull=True) | Q(individuals__gte=0)),
                violation_error_message=_("Quantities and counts cannot be negative."),
            ),
            models.CheckConstraint(
                name="distribution_households_within_individuals",
                condition=Q(households__isnull=True)
                | Q(individuals__isnull=True)
                | Q(households__lte=F("individuals")),
                violation_error_message=_("More households than individuals reached is impossible."),
            ),
        ]
        indexes = [
            # The site page and count reports read a site's distributions by date.
            models.Index(fields=["site", "distributed_on"], name="distribution_site_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.distributed_on} {self.get_item_display()} by {self.provider}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.quantity is not None and self.quantity < 0:
            errors["quantity"] = _("Quantities and counts cannot be negative.")
        if self.households is not None and self.individuals is not None and self.households > self.individuals:
            errors["households"] = _("More households than individuals reached is impossible.")
        # A cross-row rule a check constraint cannot express.
        if self.notice_id and self.site_id and self.notice.site_id != self.site_id:
            errors["notice"] = _("The departure notice belongs to another site.")
        if errors:
            raise ValidationError(errors)
