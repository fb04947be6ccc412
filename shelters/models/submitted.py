from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SubmittedRecord(models.Model):
    """What every record a partner submits carries: who submitted it, under which id.

    ``external_id`` is the submitter's own identifier; it is what makes imports
    and API pushes idempotent, so it is unique per submitting organisation.
    """

    organization = models.ForeignKey(
        "shelters.Organization",
        verbose_name=_("submitted by organisation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="%(class)s_external_id_unique_per_org",
                violation_error_message=_("This organisation already submitted a record with this external id."),
            ),
        ]
