from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Site(models.Model):
    """A place where displaced people shelter: a school, a camp, an air base."""

    class Type(models.TextChoices):
        COLLECTIVE_CENTRE = "collective_centre", _("Collective centre")
        CAMP = "camp", _("Camp")
        INFORMAL_SETTLEMENT = "informal_settlement", _("Informal settlement")
        MILITARY_INSTALLATION = "military_installation", _("Military installation")
        TRANSIT_CENTRE = "transit_centre", _("Transit centre")
        HOST_COMMUNITY = "host_community", _("Host community")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        OPEN = "open", _("Open")
        CLOSING = "closing", _("Closing")
        CLOSED = "closed", _("Closed")

    # Stable and unique: partners and files refer to sites by code, never by id.
    code = models.CharField(
        _("site code"),
        max_length=64,
        unique=True,
        error_messages={"unique": _("A site with this code already exists.")},
    )
    name = models.CharField(_("name"), max_length=200)
    name_ar = models.CharField(_("Arabic name"), max_length=200, blank=True)
    site_type = models.CharField(_("type"), max_length=24, choices=Type.choices, default=Type.OTHER)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    governorate = models.CharField(_("governorate"), max_length=100, blank=True)
    governorate_pcode = models.CharField(_("governorate P-code"), max_length=32, blank=True)
    district = models.CharField(_("district"), max_length=100, blank=True)
    district_pcode = models.CharField(_("district P-code"), max_length=32, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    # Unknown is allowed and is not zero.
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    operator = models.CharField(_("operator"), max_length=200, blank=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.CheckConstraint(
                name="site_latitude_in_range",
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                violation_error_message=_("Latitude must be between -90 and 90."),
            ),
            models.CheckConstraint(
                name="site_longitude_in_range",
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                violation_error_message=_("Longitude must be between -180 and 180."),
            ),
            models.CheckConstraint(
                name="site_coordinates_both_or_neither",
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                violation_error_message=_("Give both latitude and longitude, or neither."),
            ),
            models.CheckConstraint(
                name="site_capacity_not_negative",
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0),
                violation_error_message=_("Capacity cannot be negative."),
            ),
            models.CheckConstraint(
                name="site_closed_after_opened",
                condition=Q(opened_on__isnull=True)
                | Q(closed_on__isnull=True)
                | Q(closed_on__gte=models.F("opened_on")),
                violation_error_message=_("A site cannot close before it opened."),
            ),
        ]
        indexes = [
            # Admin and API filters by area and status.
            models.Index(fields=["governorate", "status"], name="site_governorate_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if (self.latitude is None) != (self.longitude is None):
            missing = "latitude" if self.latitude is None else "longitude"
            errors[missing] = _("Give both latitude and longitude, or neither.")
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            errors["latitude"] = _("Latitude must be between -90 and 90.")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            errors["longitude"] = _("Longitude must be between -180 and 180.")
        if self.opened_on and self.closed_on and self.closed_on < self.opened_on:
            errors["closed_on"] = _("A site cannot close before it opened.")
        if errors:
            raise ValidationError(errors)

    @property
    def display_name(self) -> str:
        return f"{self.name} / {self.name_ar}" if self.name_ar else self.name
