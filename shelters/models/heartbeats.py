from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the periodic heartbeat task.

    Proves end to end that beat schedules, the broker delivers and a worker
    executes against the database; health checks read it.
    """

    worker = models.CharField(_("worker"), max_length=200, unique=True)
    last_seen = models.DateTimeField(_("last seen"))
    beats = models.PositiveBigIntegerField(_("heartbeats"), default=0)
    last_token = models.CharField(_("last token"), max_length=64, blank=True)

    class Meta:
        ordering = ["worker"]
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return self.worker
