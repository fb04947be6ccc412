"""ETag / If-Match for updates: no blind overwrites of a record someone else changed."""

import hashlib

from rest_framework.exceptions import APIException


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "Send If-Match with the ETag you last read; updates without it are refused."
    default_code = "precondition_required"


class PreconditionFailed(APIException):
    status_code = 412
    default_detail = "The record changed since you read it: read it again and reapply your change."
    default_code = "precondition_failed"


def etag_for(instance) -> str:
    stamp = f"{type(instance).__name__}:{instance.pk}:{instance.updated_at.isoformat()}"
    return '"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


def check_if_match(request, instance) -> None:
    sent = request.headers.get("If-Match")
    if not sent:
        raise PreconditionRequired()
    candidates = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    if "*" not in candidates and etag_for(instance) not in candidates:
        raise PreconditionFailed()
