from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .submitted import SubmittedRecord


class Qualifier(models.TextChoices):
    EXACT = "exact", _("Exact")
    APPROX = "approx", _("Approximately")
    AT_LEAST = "at_least", _("At least")
    AT_MOST = "at_most", _("At most")
    RANGE = "range", _("Range")


# Qualifiers that carry one figure in ``value``; a range carries ``low``/``high``.
SINGLE_VALUE_QUALIFIERS = (Qualifier.EXACT, Qualifier.APPROX, Qualifier.AT_LEAST, Qualifier.AT_MOST)


class Method(models.TextChoices):
    REGISTRATION = "registration", _("Registration")
    HEADCOUNT = "headcount", _("Headcount")
    ESTIMATE = "estimate", _("Estimate")
    KEY_INFORMANT = "key_informant", _("Key informant")
    MEDIA_CLAIM = "media_claim", _("Media claim")
    OTHER = "other", _("Other")


class ReportStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")
    RETRACTED = "retracted", _("Retracted")


# Rejected and retracted reports are kept but have no influence on estimates.
COUNTING_STATUSES = (ReportStatus.RECEIVED, ReportStatus.VERIFIED)

# The people a breakdown can count: the figure itself, or the upper end of a range.
_TOTAL = Coalesce(F("value"), F("high"))


COUNT_FIELDS = ("value", "low", "high", "households", "female", "male", "children", "adults", "elderly")


def _all_not_negative(fields: tuple[str, ...]) -> Q:
    condition = Q()
    for field in fields:
        condition &= Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0})
    return condition


def _none_given(*fields: str) -> Q:
    return Q(**{f"{field}__isnull": True for field in fields})


def _sum(*fields: str):
    expression = Coalesce(F(fields[0]), 0)
    for field in fields[1:]:
        expression = expression + Coalesce(F(field), 0)
    return expression


class PopulationReport(SubmittedRecord):
    """One claim by one source about one site's population on one date.

    Never overwritten: a correction is a new report (``corrects``), a retraction
    or rejection is a status change, and every change is kept in the history.
    """

    site = models.ForeignKey("shelters.Site", verbose_name=_("site"), on_delete=models.PROTECT, related_name="reports")
    source = models.ForeignKey(
        "shelters.Source", verbose_name=_("source"), on_delete=models.PROTECT, related_name="reports"
    )
    as_of = models.DateField(_("as of"), help_text=_("The day the figure describes."))
    reported_on = models.DateField(_("reported on"), null=True, blank=True, help_text=_("The day it was said."))
    method = models.CharField(_("method"), max_length=16, choices=Method.choices, default=Method.ESTIMATE)
    qualifier = models.CharField(_("qualifier"), max_length=8, choices=Qualifier.choices)
    value = models.PositiveIntegerField(_("value"), null=True, blank=True)
    low = models.PositiveIntegerField(_("low"), null=True, blank=True)
    high = models.PositiveIntegerField(_("high"), null=True, blank=True)
    households = models.PositiveIntegerField(_("households"), null=True, blank=True)
    female = models.PositiveIntegerField(_("female"), null=True, blank=True)
    male = models.PositiveIntegerField(_("male"), null=True, blank=True)
    children = models.PositiveIntegerField(_("children (0-17)"), null=True, blank=True)
    adults = models.PositiveIntegerField(_("adults (18-59)"), null=True, blank=True)
    elderly = models.PositiveIntegerField(_("elderly (60+)"), null=True, blank=True)
    quote = models.TextField(_("original wording"), blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )

    status = models.CharField(_("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.RECEIVED)
    status_reason = models.TextField(_("reason for status"), blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("status changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["site", "as_of", "id"]
        verbose_name = _("population report")
        verbose_name_plural = _("population reports")
        constraints = [
            *SubmittedRecord.Meta.constraints,
            models.CheckConstraint(
                name="report_counts_not_negative",
                condition=_all_not_negative(COUNT_FIELDS),
                violation_error_message=_("Counts cannot be negative."),
            ),
            models.CheckConstraint(
                name="report_low_not_above_high",
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=F("high")),
                violation_error_message=_("The low end of a range cannot be above the high end."),
            ),
            models.CheckConstraint(
                name="report_qualifier_decides_figures",
                condition=(
                    Q(qualifier__in=SINGLE_VALUE_QUALIFIERS, value__isnull=False, low__isnull=True, high__isnull=True)
                    | (
                        Q(qualifier=Qualifier.RANGE, low__isnull=False, high__isnull=False)
                        & (Q(value__isnull=True) | Q(value__gte=F("low"), value__lte=F("high")))
                    )
                ),
                violation_error_message=_(
                    "Exact, approximate, at-least and at-most reports need a value and no low/high; "
                    "a range needs low and high (and a value, if any, inside them)."
                ),
            ),
            models.CheckConstraint(
                name="report_sex_breakdown_within_total",
                condition=_none_given("female", "male") | LessThanOrEqual(_sum("female", "male"), _TOTAL),
                violation_error_message=_("Female plus male cannot exceed the reported total."),
            ),
            models.CheckConstraint(
                name="report_age_breakdown_within_total",
                condition=_none_given("children", "adults", "elderly")
                | LessThanOrEqual(_sum("children", "adults", "elderly"), _TOTAL),
                violation_error_message=_("Children, adults and elderly together cannot exceed the reported total."),
            ),
            models.CheckConstraint(
                name="report_households_within_total",
                condition=Q(households__isnull=True) | LessThanOrEqual(F("households"), _TOTAL),
                violation_error_message=_("There cannot be more households than people."),
            ),
            models.CheckConstraint(
                name="report_as_of_not_after_reported_on",
                condition=Q(reported_on__isnull=True) | Q(as_of__lte=F("reported_on")),
                violation_error_message=_("A figure cannot describe a day after the day it was reported."),
            ),
            models.CheckConstraint(
                name="report_status_change_has_reason",
                condition=~Q(status__in=[ReportStatus.REJECTED, ReportStatus.RETRACTED]) | ~Q(status_reason=""),
                violation_error_message=_("Rejecting or retracting a report needs a reason."),
            ),
            models.CheckConstraint(
                name="report_does_not_correct_itself",
                condition=Q(corrects__isnull=True) | ~Q(corrects=F("id")),
                violation_error_message=_("A report cannot correct itself."),
            ),
        ]
        indexes = [
            # Reconciliation reads one site's reports in date order.
            models.Index(fields=["site", "as_of"], name="report_site_as_of_idx"),
            # The verification queue: received reports, oldest first.
            models.Index(fields=["status", "created_at"], name="report_status_created_idx"),
            # Filtering by source over a period (source reliability, admin filters).
            models.Index(fields=["source", "as_of"], name="report_source_as_of_idx"),
        ]

    # The engine's assessment of the report (its ReportAssessment row); use
    # select_related("assessment") when listing reports.
    @property
    def engine_weight(self) -> float | None:
        assessment = getattr(self, "assessment", None)  # the missing related row raises an AttributeError
        return assessment.weight if assessment is not None else None

    @property
    def is_outlier(self) -> bool:
        assessment = getattr(self, "assessment", None)
        return assessment.outlier if assessment is not None else False

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of:%Y-%m-%d} {self.get_qualifier_display().lower()} {self.figure_text}"

    @property
    def figure_text(self) -> str:
        if self.qualifier == Qualifier.RANGE:
            return f"{self.low:,}–{self.high:,}" if self.low is not None and self.high is not None else "?"
        return f"{self.value:,}" if self.value is not None else "?"

    @property
    def total(self) -> int | None:
        """The most people the report can be counting: its value, or the top of its range."""
        return self.value if self.value is not None else self.high

    def clean(self) -> None:
        """The database constraints again, with each message attached to its field.

        Model validation skips a constraint whose fields already failed here, so
        staff and importers see one message per problem, naming the field.
        """
        super().clean()
        errors: dict[str, str] = {}
        if self.qualifier in SINGLE_VALUE_QUALIFIERS:
            if self.value is None:
                errors["value"] = _("A value is required for this qualifier.")
            for field in ("low", "high"):
                if getattr(self, field) is not None:
                    errors[field] = _("Only a range has low and high; use value for this qualifier.")
        elif self.qualifier == Qualifier.RANGE:
            for field in ("low", "high"):
                if getattr(self, field) is None:
                    errors[field] = _("A range needs both low and high.")
            if self.low is not None and self.high is not None:
                if self.low > self.high:
                    errors["low"] = _("The low end of a range cannot be above the high end.")
                elif self.value is not None and not self.low <= self.value <= self.high:
                    errors["value"] = _("The value must lie inside the range.")
        total = self.total
        # A negative or missing total is reported on its own field; do not pile on.
        if total is not None and total >= 0 and "value" not in errors:
            if (self.female or 0) + (self.male or 0) > total:
                errors["female"] = _("Female plus male cannot exceed the reported total.")
            if (self.children or 0) + (self.adults or 0) + (self.elderly or 0) > total:
                errors["children"] = _("Children, adults and elderly together cannot exceed the reported total.")
            if self.households is not None and self.households > total:
                errors["households"] = _("There cannot be more households than people.")
        if self.reported_on and self.as_of and self.as_of > self.reported_on:
            errors["as_of"] = _("A figure cannot describe a day after the day it was reported.")
        if self.status in (ReportStatus.REJECTED, ReportStatus.RETRACTED) and not self.status_reason.strip():
            errors["status_reason"] = _("Rejecting or retracting a report needs a reason.")
        if self.corrects_id and self.site_id and self.corrects.site_id != self.site_id:
            errors["corrects"] = _("A correction must be about the same site as the report it corrects.")
        if errors:
            raise ValidationError(errors)

    @property
    def counts(self) -> bool:
        """Whether the report may influence the estimate."""
        return self.status in COUNTING_STATUSES


class ReportAssessment(models.Model):
    """What the reconciliation engine made of one report: its weight and whether it is an outlier.

    The report's own figures, kept beside it in a narrow table of its own:
    every run rewrites them (a first full run, a million), and in the wide,
    history-tracked reports table with its eleven indexes that update cost
    more than the engine itself. No row: the report does not count (rejected,
    retracted, or not reconciled yet).

    Derived data, written by the engine only and not history-tracked; no
    database foreign key (its check at that volume cost more than the insert),
    Django's cascade removes the row with its report.
    """

    report = models.OneToOneField(
        PopulationReport,
        verbose_name=_("report"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="assessment",
        db_constraint=False,
    )
    weight = models.FloatField(_("engine weight"))
    outlier = models.BooleanField(_("outlier"), default=False)

    class Meta:
        verbose_name = _("report assessment")
        verbose_name_plural = _("report assessments")

    def __str__(self) -> str:
        return f"report {self.report_id}: weight {self.weight}{' (outlier)' if self.outlier else ''}"
