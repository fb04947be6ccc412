"""``Idempotency-Key`` for POST: a replay returns the stored response, the same
key with another body is 422, and a duplicate still in flight is 409."""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from shelters.services.organizations import organization_for

from .errors import PROBLEM_CONTENT_TYPE, problem
from .models import IdempotencyKey

HEADER = "Idempotency-Key"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str).encode()
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


def _problem(status_code: int, detail: str) -> Response:
    response = Response(problem(status_code, detail), status=status_code)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def idempotent(handler: Callable[[Request], Response], request: Request) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return handler(request)
    if len(key) > 200:
        return _problem(400, f"{HEADER} is longer than 200 characters.")
    # The organisation the records will be saved under (staff without one use the default).
    organization_id = organization_for(request.user).pk
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(organization_id=organization_id, key=key, fingerprint=fingerprint)
    except IntegrityError:
        existing = IdempotencyKey.objects.filter(organization_id=organization_id, key=key).first()
        if existing is None:  # removed meanwhile (its request failed): the client may retry
            return _problem(409, "A request with this idempotency key has just failed; retry it.")
        if existing.fingerprint != fingerprint:
            return _problem(422, f"This {HEADER} was used for a different request.")
        if existing.state == IdempotencyKey.State.IN_PROGRESS:
            return _problem(409, f"A request with this {HEADER} is still being processed.")
        replay = Response(existing.response_body, status=existing.response_status)
        replay["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = handler(request)
    except BaseException:
        record.delete()  # nothing was saved: let the client retry with the same key
        raise
    if response.status_code >= 500:
        record.delete()
    else:
        # Final answers (success and client errors) are what a replay gets.
        IdempotencyKey.objects.filter(pk=record.pk).update(
            state=IdempotencyKey.State.DONE,
            response_status=response.status_code,
            response_body=json.loads(json.dumps(response.data, default=str)),
        )
    return response


__all__ = ["HEADER", "idempotent", "status"]
