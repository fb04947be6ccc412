"""The app's settings, read at call time (so ``override_settings`` and the
``settings`` fixture work) with defaults, so nothing must be added to the
project's settings files."""

from django.conf import settings


def allow_loopback() -> bool:
    """Loopback URLs reach the server itself: only for development and tests."""
    return bool(settings.DEBUG or getattr(settings, "WEBHOOKS_ALLOW_LOOPBACK", False))


def timeout_seconds() -> float:
    # Short: a slow partner must not hold a worker; it gets retried instead.
    return float(getattr(settings, "WEBHOOKS_TIMEOUT_SECONDS", 5))


def max_attempts() -> int:
    return int(getattr(settings, "WEBHOOKS_MAX_ATTEMPTS", 8))


def retry_base_seconds() -> float:
    """Delay after the first failed attempt; doubles after each (0 in tests)."""
    return float(getattr(settings, "WEBHOOKS_RETRY_BASE_SECONDS", 30))


def retry_max_seconds() -> float:
    return float(getattr(settings, "WEBHOOKS_RETRY_MAX_SECONDS", 3600))
