from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from webhooks.events import EVENT_CHOICES, EVENTS
from webhooks.validators import validate_events, validate_webhook_url

# A secret shorter than this was not made by the server (secrets.token_urlsafe(32) gives 43).
SECRET_MIN_LENGTH = 32


class WebhookSubscription(models.Model):
    """A partner's URL that receives the events it chose, signed with its own secret."""

    # Subscriptions are an organisation's configuration, not evidence: they go with it.
    organization = models.ForeignKey(
        "shelters.Organization",
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    url = models.URLField(_("URL"), max_length=500, validators=[validate_webhook_url])
    events = models.JSONField(_("events"), default=list, validators=[validate_events])
    # Kept in clear because signing needs it; shown once, when created, never again.
    secret = models.CharField(_("signing secret"), max_length=128, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        constraints = [
            models.CheckConstraint(
                name="webhook_subscription_url_http",
                condition=Q(url__istartswith="https://") | Q(url__istartswith="http://"),
                violation_error_message=_("A webhook URL must start with http:// or https://."),
            ),
            models.CheckConstraint(
                name="webhook_subscription_secret_set",
                condition=GreaterThanOrEqual(Length("secret"), SECRET_MIN_LENGTH),
                violation_error_message=_("A subscription needs a server-generated signing secret."),
            ),
        ]
        indexes = [
            # emit(): the active subscriptions of the given organisations; the API's list per organisation.
            models.Index(fields=["organization", "active"], name="webhook_sub_org_active_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One event for one subscription, and the record of every attempt to send it."""

    subscription = models.ForeignKey(
        WebhookSubscription, verbose_name=_("subscription"), on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=64, choices=EVENT_CHOICES)
    payload = models.JSONField(_("payload"), encoder=DjangoJSONEncoder)
    # The same for every subscription that gets the event: partners de-duplicate on it.
    event_id = models.UUIDField(_("event id"))
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # One entry per attempt: {"at", "status_code", "error", "duration_ms"}.
    attempt_log = models.JSONField(_("attempt log"), default=list, blank=True, editable=False)
    # When the event happened (the body's created_at): the same for every subscription.
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # Pending: when the next attempt is due (or, during an attempt, when its claim lapses).
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"],
                name="webhook_delivery_once_per_subscription",
                violation_error_message=_("This event was already delivered to this subscription."),
            ),
            models.CheckConstraint(
                name="webhook_delivery_known_event",
                condition=Q(event__in=EVENTS),
                violation_error_message=_("Unknown webhook event."),
            ),
            models.CheckConstraint(
                name="webhook_delivery_known_status",
                condition=Q(status__in=DeliveryStatus.values),
                violation_error_message=_("Unknown delivery status."),
            ),
            models.CheckConstraint(
                name="webhook_delivery_delivered_iff_succeeded",
                condition=Q(status=DeliveryStatus.SUCCEEDED, delivered_at__isnull=False)
                | (~Q(status=DeliveryStatus.SUCCEEDED) & Q(delivered_at__isnull=True)),
                violation_error_message=_("A delivery has a delivery time exactly when it succeeded."),
            ),
            models.CheckConstraint(
                name="webhook_delivery_pending_is_scheduled",
                condition=Q(status=DeliveryStatus.PENDING, next_attempt_at__isnull=False)
                | (~Q(status=DeliveryStatus.PENDING) & Q(next_attempt_at__isnull=True)),
                violation_error_message=_("A pending delivery needs a next attempt time, and only a pending one."),
            ),
        ]
        indexes = [
            # The sweeper: pending deliveries whose next attempt is long overdue (a lost message).
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
            # The API and admin: a subscription's deliveries, newest first.
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_sub_new_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event} → {self.subscription_id} ({self.status})"
