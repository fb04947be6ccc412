from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class PopulationEstimate(models.Model):
    """The reconciled figure for one site and day, written only by the engine.

    Not history-tracked: it is derived data, rebuilt from the reports (which are).

    A full run writes a million of these, so the table carries only what its
    readers need: no database foreign key to the site (checking it row by row
    at commit cost almost as much as the insert itself; a site with estimates
    has reports, which protect it from deletion, and Django's cascade removes
    the rows otherwise) and no index of its own on ``site`` (the (site, date)
    unique index serves every query by site).
    """

    site = models.ForeignKey(
        "shelters.Site",
        verbose_name=_("site"),
        on_delete=models.CASCADE,
        related_name="estimates",
        db_constraint=False,
        db_index=False,
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
