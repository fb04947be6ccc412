"""How webhook requests are signed, and how a partner verifies them.

Every delivery is an HTTP POST with a JSON body and these headers::

    Content-Type: application/json
    Shelters-Event: report.created
    Shelters-Event-Id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427   (the same on every retry: de-duplicate on it)
    Shelters-Delivery: 42                                      (our delivery number, for support requests)
    Shelters-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

The body is compact JSON::

    {"id": "<event id>", "event": "report.created", "created_at": "2025-03-07T10:00:00+00:00", "data": {...}}

``v1`` is the hex HMAC-SHA256, keyed with the subscription's secret, of the
timestamp, a dot and the raw body bytes: ``f"{t}.{body}"``. To verify:

1. take the raw body exactly as received (before any JSON parsing);
2. recompute the HMAC and compare in constant time with each ``v1`` value
   (there may be several while a secret is being rotated);
3. refuse a timestamp more than a few minutes from your clock, so that a
   captured request cannot be replayed later.

:func:`verify` does exactly that and can be copied as is (standard library only)::

    if not verify(SECRET, request.headers["Shelters-Signature"], request.body):
        return 400
"""

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "Shelters-Signature"
EVENT_HEADER = "Shelters-Event"
EVENT_ID_HEADER = "Shelters-Event-Id"
DELIVERY_HEADER = "Shelters-Delivery"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def body_for(*, event_id: str, event: str, created_at: str, data: Mapping[str, Any]) -> bytes:
    """The request body: compact, so that what is signed is exactly what is sent."""
    document = {"id": event_id, "event": event, "created_at": created_at, "data": data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},{SCHEME}={compute(secret, timestamp, body)}"


def headers_for(*, secret: str, body: bytes, event: str, event_id: str, delivery_id: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        EVENT_ID_HEADER: event_id,
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: signature_header(secret, body),
    }


def verify(
    secret: str, header: str, body: bytes | str, tolerance: int = DEFAULT_TOLERANCE, *, now: float | None = None
) -> bool:
    """True if ``header`` (the Shelters-Signature value) signs ``body`` with
    ``secret`` and its timestamp is within ``tolerance`` seconds of ``now``.

    ``body`` must be the raw request body; a str is taken as its UTF-8 encoding.
    Never raises on a malformed header: it is simply not a valid signature.
    """
    if isinstance(body, str):
        body = body.encode()
    timestamp: int | None = None
    candidates: list[str] = []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():  # not "²", which int() refuses
            timestamp = int(value)
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False  # stale (a replay) or from a clock far ahead
    expected = compute(secret, timestamp, body)
    # Constant time, and every candidate checked, so timing reveals nothing.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matches)
