"""Count reports: the figures coordination meetings run on, for a scope and a period.

A schedule (scope + period kind, run by django-celery-beat) makes one report
per period, guaranteed by a unique constraint; staff can also ask for one.
Each report freezes its per-site figures in CountReportSite rows, so the
next report's "change since the previous one" compares with what was said
then, not with estimates recomputed since.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    ALL = "all", _("All sites")
    GOVERNORATE = "governorate", _("One governorate")
    SITES = "sites", _("A list of sites")


class PeriodKind(models.TextChoices):
    DAY = "day", _("A day")
    WEEK = "week", _("A week (Monday to Sunday)")


class ScopedCountReport(models.Model):
    """What a report covers: all sites, a governorate, or a list of sites."""

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices, default=Scope.ALL)
    governorate = models.CharField(_("governorate"), max_length=100, blank=True)
    sites = models.ManyToManyField("shelters.Site", verbose_name=_("sites"), blank=True, related_name="+")
    period_kind = models.CharField(_("period"), max_length=8, choices=PeriodKind.choices, default=PeriodKind.DAY)

    class Meta:
        abstract = True

    def scope_label(self) -> str:
        if self.scope == Scope.GOVERNORATE:
            return str(_("Governorate: %(name)s") % {"name": self.governorate})
        if self.scope == Scope.SITES:
            return str(_("Selected sites"))
        return str(_("All sites"))


class CountReportSchedule(ScopedCountReport):
    """A count report made on a schedule; its timing is a django-celery-beat periodic task."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        verbose_name=_("timing"),
        on_delete=models.PROTECT,
        related_name="count_report_schedule",
        help_text=_("When it runs (a crontab in UTC). Enable or disable it there."),
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("e-mail to"),
        blank=True,
        related_name="count_report_schedules",
        # The PDF lists every organisation's notices and distributions: staff only.
        limit_choices_to={"is_staff": True},
        help_text=_("Staff who receive each report by e-mail."),
    )

    class Meta:
        verbose_name = _("count report schedule")
        verbose_name_plural = _("count report schedules")
        constraints = [
            models.CheckConstraint(
                name="schedule_governorate_named",
                condition=~Q(scope=Scope.GOVERNORATE) | ~Q(governorate=""),
                violation_error_message=_("A governorate scope needs the governorate's name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CountReport(ScopedCountReport):
    # Format name -> file field; the formats are made in this order.
    FILE_FIELDS = {"csv": "csv_file", "hxl": "hxl_file", "xlsx": "xlsx_file", "html": "html_file", "pdf": "pdf_file"}

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    schedule = models.ForeignKey(
        CountReportSchedule,
        verbose_name=_("schedule"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    previous = models.ForeignKey(
        "self",
        verbose_name=_("previous report"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The report of the same scope the changes are measured from."),
    )
    # Totals, changes, flagged sites, notices and aid: what the documents show (see services.count_reports).
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    csv_file = models.FileField(_("CSV"), upload_to="count-reports/", blank=True)
    hxl_file = models.FileField(_("HXL CSV"), upload_to="count-reports/", blank=True)
    xlsx_file = models.FileField(_("XLSX"), upload_to="count-reports/", blank=True)
    html_file = models.FileField(_("HTML"), upload_to="count-reports/", blank=True)
    pdf_file = models.FileField(_("PDF"), upload_to="count-reports/", blank=True)

    class Meta:
        ordering = ["-period_end", "-id"]
        verbose_name = _("count report")
        verbose_name_plural = _("count reports")
        constraints = [
            # Beat running twice or a retried task finds the report already there.
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=Q(schedule__isnull=False),
                name="count_report_one_per_schedule_and_period",
                violation_error_message=_("This schedule already has a report for this period."),
            ),
            models.CheckConstraint(
                name="count_report_period_in_order",
                condition=Q(period_start__lte=F("period_end")),
                violation_error_message=_("The period cannot end before it starts."),
            ),
            models.CheckConstraint(
                name="count_report_governorate_named",
                condition=~Q(scope=Scope.GOVERNORATE) | ~Q(governorate=""),
                violation_error_message=_("A governorate scope needs the governorate's name."),
            ),
        ]
        indexes = [models.Index(fields=["scope", "governorate", "period_end"], name="count_report_scope_idx")]

    def __str__(self) -> str:
        if self.period_start == self.period_end:
            return f"{self.scope_label()}, {self.period_end}"
        return f"{self.scope_label()}, {self.period_start} – {self.period_end}"


class CountReportSite(models.Model):
    """One site's figures as a count report stated them (on the period's last day)."""

    report = models.ForeignKey(
        CountReport, on_delete=models.CASCADE, related_name="site_rows", verbose_name=_("count report")
    )
    # PROTECT: a site named in a report cannot vanish from it (the figures are frozen).
    site = models.ForeignKey("shelters.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    estimate = models.PositiveIntegerField(_("estimate"), null=True)
    low = models.PositiveIntegerField(_("low"), null=True)
    high = models.PositiveIntegerField(_("high"), null=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    previous_estimate = models.PositiveIntegerField(_("previous estimate"), null=True)

    class Meta:
        verbose_name = _("count report site")
        verbose_name_plural = _("count report sites")
        constraints = [
            models.UniqueConstraint(
                fields=["report", "site"],
                name="count_report_site_once",
                violation_error_message=_("A site appears once in a count report."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.site_id}"
