from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class PopulationEstimate(models.Model):
    """The reconciled figure for one site and day, written only by the engine.

    Not history-tracked: it is derived data, rebuilt from the reports (which are).
    """

    site = models.ForeignKey(
        "shelters.Site", verbose_name=_("site"), on_delete=models.CASCADE, related_name="estimates"
    )
    date = models.DateField(_("date"))
    estimate = models.PositiveIntegerField(_("estimate"))
    low = models.PositiveIntegerField(_("low (90 % band)"))
    high = models.PositiveIntegerField(_("high (90 % band)"))
    # A list of flag names, e.g. ["conflict", "stale"].
    flags = models.JSONField(_("flags"), default=list, blank=True)
    # [[report id, weight], ...]: which reports counted for this day and how much.
    contributions = models.JSONField(_("contributions"), default=list, blank=True)
    engine_version = models.CharField(_("engine version"), max_length=32)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ["site", "date"]
        verbose_name = _("population estimate")
        verbose_name_plural = _("population estimates")
        constraints = [
            # Also the index for a site's estimates over a date range.
            models.UniqueConstraint(
                fields=["site", "date"],
                name="estimate_one_per_site_and_day",
                violation_error_message=_("There is already an estimate for this site and day."),
            ),
            models.CheckConstraint(
                name="estimate_inside_band",
                condition=Q(low__lte=F("estimate"), estimate__lte=F("high")),
                violation_error_message=_("The estimate must lie inside its band (low <= estimate <= high)."),
            ),
        ]
        indexes = [
            # "Latest estimate of every site" and totals for one day.
            models.Index(fields=["date"], name="estimate_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.date}: {self.estimate:,} ({self.low:,}–{self.high:,})"
