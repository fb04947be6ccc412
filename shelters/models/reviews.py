"""The conflict workflow: what the engine flags, staff review.

A review item is opened (by ``shelters.services.reviews``, after each
reconciliation) for a site whose latest estimate is flagged ``conflict``, or
for a counting report the engine treats as an outlier. Staff assign it,
discuss it in append-only comments, and close it by verifying or rejecting the
reports concerned, or by dismissing it; either way with a written reason.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class ReviewKind(models.TextChoices):
    # About the site's figures as a whole: sources that disagree.
    CONFLICT = "conflict", _("Conflict")
    # About one report the engine down-weighted.
    OUTLIER = "outlier", _("Outlier")


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    DISMISSED = "dismissed", _("Dismissed")


class ReviewItem(models.Model):
    """Something the engine flagged that a person should look at."""

    site = models.ForeignKey(
        "shelters.Site", verbose_name=_("site"), on_delete=models.PROTECT, related_name="review_items"
    )
    # The outlier report; empty for a conflict, which is about the site.
    report = models.ForeignKey(
        "shelters.PopulationReport",
        verbose_name=_("report"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="review_items",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ReviewKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_items",
    )
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Empty when the item closed itself (the engine no longer flags it).
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution = models.TextField(_("resolution"), blank=True)

    history = HistoricalRecords()

    class Meta:
        # A work queue: oldest first.
        ordering = ["opened_at", "id"]
        verbose_name = _("review item")
        verbose_name_plural = _("review items")
        constraints = [
            # What makes opening idempotent and safe when two runs race: the
            # loser's insert fails and it takes the winner's item.
            models.UniqueConstraint(
                fields=["site", "kind"],
                condition=Q(status=ReviewStatus.OPEN, report__isnull=True),
                name="review_one_open_conflict_per_site",
                violation_error_message=_("This site already has an open review item of this kind."),
            ),
            models.UniqueConstraint(
                fields=["report"],
                condition=Q(status=ReviewStatus.OPEN, report__isnull=False),
                name="review_one_open_item_per_report",
                violation_error_message=_("This report already has an open review item."),
            ),
            models.CheckConstraint(
                name="review_kind_decides_report",
                condition=Q(kind=ReviewKind.CONFLICT, report__isnull=True)
                | Q(kind=ReviewKind.OUTLIER, report__isnull=False),
                violation_error_message=_("An outlier review is about one report; a conflict review about none."),
            ),
            models.CheckConstraint(
                name="review_closed_has_resolution",
                condition=Q(status=ReviewStatus.OPEN) | ~Q(resolution=""),
                violation_error_message=_("A resolved or dismissed review item needs a resolution."),
            ),
            models.CheckConstraint(
                name="review_closed_has_date",
                condition=Q(status=ReviewStatus.OPEN, resolved_at__isnull=True)
                | (~Q(status=ReviewStatus.OPEN) & Q(resolved_at__isnull=False)),
                violation_error_message=_("A review item has a closing date exactly when it is closed."),
            ),
        ]
        indexes = [
            # The queue: open items, oldest first.
            models.Index(fields=["status", "opened_at"], name="review_status_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display().lower()} · {self.site.code}"

    @property
    def is_open(self) -> bool:
        return self.status == ReviewStatus.OPEN

    def clean(self) -> None:
        """The check constraints again, each message on the field it concerns."""
        super().clean()
        errors: dict[str, str] = {}
        if self.kind == ReviewKind.OUTLIER and self.report_id is None:
            errors["report"] = _("An outlier review is about one report.")
        elif self.kind == ReviewKind.CONFLICT and self.report_id is not None:
            errors["report"] = _("A conflict review is about the site, not one report.")
        if self.report_id is not None and self.site_id is not None and self.report.site_id != self.site_id:
            errors["report"] = _("The report must be about the item's site.")
        if self.status != ReviewStatus.OPEN and not self.resolution.strip():
            errors["resolution"] = _("A resolved or dismissed review item needs a resolution.")
        if errors:
            raise ValidationError(errors)


class ReviewComment(models.Model):
    """A note on a review item. Append-only: never edited, never deleted."""

    item = models.ForeignKey(
        ReviewItem, verbose_name=_("review item"), on_delete=models.PROTECT, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("review comment")
        verbose_name_plural = _("review comments")
        constraints = [
            models.CheckConstraint(
                name="review_comment_not_empty",
                condition=~Q(text=""),
                violation_error_message=_("A comment cannot be empty."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.text[:60]}"
