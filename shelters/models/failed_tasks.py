from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FailedTask(models.Model):
    """A background task that failed after its retries: set aside for a person to look at.

    Recorded by the Celery ``task_failure`` signal, so a task that always
    crashes (a "poison" message) stops being retried and shows up here
    instead of disappearing into a worker log. Staff send it again or dismiss it.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SENT_AGAIN = "sent_again", _("Sent again")
        DISMISSED = "dismissed", _("Dismissed")

    task_id = models.CharField(_("task id"), max_length=64, unique=True)
    task_name = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    exception = models.TextField(_("exception"))
    traceback = models.TextField(_("traceback"), blank=True)
    retries = models.PositiveIntegerField(_("retries made"), default=0)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    failed_at = models.DateTimeField(_("failed at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        ordering = ["-failed_at"]
        verbose_name = _("failed task")
        verbose_name_plural = _("failed tasks")
        constraints = [
            models.CheckConstraint(
                name="failed_task_handled_has_who_and_when",
                condition=Q(status="open") | Q(handled_at__isnull=False),
                violation_error_message=_("A handled failed task records when it was handled."),
            )
        ]
        indexes = [models.Index(fields=["status", "failed_at"], name="failed_task_status_idx")]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.task_id[:8]}]"
