"""Validation shared by the model (admin, full_clean) and the API serializers."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from webhooks import conf
from webhooks.events import EVENTS


def is_loopback_host(host: str) -> bool:
    """True for names and addresses that reach this machine.

    Checks the literal host only (no DNS lookup): it stops the obvious ways of
    pointing a webhook at our own services, including the legacy IPv4 spellings
    (``127.1``, ``2130706433``) that the resolver would still accept.
    """
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # 0.0.0.0 and :: connect to the local host too.
    return address.is_loopback or address.is_unspecified


def validate_webhook_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// URL."), code="invalid_scheme")
    if parts.username or parts.password:
        # They would be shown in the admin and in logs; the signature authenticates us.
        raise ValidationError(_("Do not put credentials in the URL."), code="credentials")
    if not conf.allow_loopback() and is_loopback_host(parts.hostname):
        raise ValidationError(_("Loopback addresses (this server itself) are not allowed."), code="loopback")


def validate_events(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one event."), code="empty")
    unknown = [str(event) for event in value if event not in EVENTS]
    if unknown:
        raise ValidationError(
            _("Unknown events: %(unknown)s. Known events: %(known)s."),
            code="unknown_event",
            params={"unknown": ", ".join(unknown), "known": ", ".join(EVENTS)},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Each event can be listed once."), code="duplicate")
