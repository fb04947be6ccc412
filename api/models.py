from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken


class IdempotencyKey(models.Model):
    """A POST made with an ``Idempotency-Key`` header, and the response it got.

    Scoped to the organisation: the same key from two partners is two keys.
    The row is claimed (inserted) before the request runs, so a concurrent
    duplicate finds it in progress and is told 409 rather than running twice.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    organization = models.ForeignKey(
        "shelters.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organisation")
    )
    key = models.CharField(_("idempotency key"), max_length=200)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key"],
                name="idempotency_key_unique_per_org",
                violation_error_message=_("This idempotency key was already used by this organisation."),
            )
        ]
        indexes = [
            # Expiry sweeps delete old keys by age.
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.key}"


class APIToken(AuthToken):
    """Knox's token table under a name in our catalogue (see api/admin.py).

    Knox marks none of its labels for translation; staff revoking a partner's
    token work in Arabic too. A proxy: same table, no schema of its own."""

    class Meta:
        proxy = True
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        # Knox's names the token by its digest, which then shows in every admin message.
        return f"{self.token_key}… ({self.user})"
