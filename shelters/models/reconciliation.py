from django.db import models
from django.utils.translation import gettext_lazy as _


class ReconciliationState(models.Model):
    """Bookkeeping of a site's background reconciliation.

    ``pending`` coalesces bursts: only the request that flips it from false to
    true enqueues a task, and the task clears it before reading the reports, so
    many reports arriving together cause one run (plus at most one more for
    those that arrived during it). The row is also what runs lock, so two runs
    for one site never overlap.
    """

    site = models.OneToOneField(
        "shelters.Site",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="reconciliation",
        verbose_name=_("site"),
    )
    pending = models.BooleanField(_("run queued"), default=False)
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    started_at = models.DateTimeField(_("last run started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("last run finished at"), null=True, blank=True)
    engine_version = models.CharField(_("engine version"), max_length=32, blank=True)
    reports_used = models.PositiveIntegerField(_("reports used"), default=0)
    # The site's most recent estimate, copied here by each run: the sites list
    # (API and admin) reads it with a join instead of a subquery per column.
    latest_date = models.DateField(_("latest estimate date"), null=True, blank=True)
    latest_estimate = models.PositiveIntegerField(_("latest estimate"), null=True, blank=True)
    latest_low = models.PositiveIntegerField(_("latest low"), null=True, blank=True)
    latest_high = models.PositiveIntegerField(_("latest high"), null=True, blank=True)
    latest_flags = models.JSONField(_("latest flags"), default=list, blank=True)
    # What the stored series was computed from (the site's evidence, the
    # profiles of its sources, the engine version, the last day): a run whose
    # fingerprint matches leaves the site alone. Written with the series, in
    # the same transaction; empty means "compute it".
    input_fingerprint = models.CharField(_("input fingerprint"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("reconciliation state")
        verbose_name_plural = _("reconciliation states")
        indexes = [
            # The sweeper looks for requests whose task may have been lost.
            models.Index(fields=["pending", "requested_at"], name="reconcile_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"site {self.site_id}"


class SourceReliability(models.Model):
    """What the engine learned about a source across all sites (bias, noise, lag).

    Written by the full reconciliation; read by every per-site run, so a source
    that is consistently out of line counts less everywhere.
    """

    source = models.OneToOneField(
        "shelters.Source",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="reliability",
        verbose_name=_("source"),
    )
    # The engine's SourceProfile as a dict: its fields belong to the engine version.
    profile = models.JSONField(_("learned profile"))
    engine_version = models.CharField(_("engine version"), max_length=32)
    learned_at = models.DateTimeField(_("learned at"))

    class Meta:
        verbose_name = _("source reliability")
        verbose_name_plural = _("source reliabilities")

    def __str__(self) -> str:
        return f"{self.source_id}: {self.profile}"
