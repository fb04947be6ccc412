"""One error shape for the whole API: RFC 9457 problem details, with field paths.

    {"type": "about:blank", "title": "Invalid input", "status": 400,
     "detail": "...", "errors": [{"field": "3.value", "message": "...", "code": "min_value"}]}

Unknown URLs and server errors under /api/ answer in the same shape, never an
HTML page; a database that is briefly unreachable gives 503, not 500.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Invalid input",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is larger than this server accepts; send fewer items per request."
    default_code = "too_large"


def problem(status_code: int, detail: str = "", errors: list[dict] | None = None, **extra) -> dict:
    body = {"type": "about:blank", "title": TITLES.get(status_code, "Error"), "status": status_code}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def flatten_errors(detail, path: str = "") -> list[dict]:
    """DRF's nested error detail as a flat list of {field, message, code}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            items += flatten_errors(value, f"{path}.{name}".strip(".") if name else path)
        return items
    if isinstance(detail, list):
        if all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
            return [{"field": path, "message": str(item), "code": getattr(item, "code", "invalid")} for item in detail]
        items = []
        for index, item in enumerate(detail):
            items += flatten_errors(item, f"{path}.{index}".strip("."))
        return items
    return [{"field": path, "message": str(detail), "code": getattr(detail, "code", "invalid")}]


def problem_exception_handler(exc, context) -> Response:
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is restarting or unreachable: retry later, it is not a bug.
        logger.warning("database unavailable: %s", exc)
        response = Response(problem(503, "The database is unavailable; retry shortly."), status=503)
        response["Retry-After"] = "5"
        response.content_type = PROBLEM_CONTENT_TYPE
        return response
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error")
        else:
            logger.exception("unhandled API error")
        response = Response(problem(500, "The server failed to handle this request."), status=500)
        response.content_type = PROBLEM_CONTENT_TYPE
        return response
    if isinstance(exc, exceptions.ValidationError):
        body = problem(response.status_code, "Some fields are invalid.", flatten_errors(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(detail) if not isinstance(detail, (dict, list)) else "")
        if isinstance(detail, (dict, list)):
            body["errors"] = flatten_errors(detail)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _json_problem(status_code: int, detail: str) -> JsonResponse:
    return JsonResponse(problem(status_code, detail), status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def json_not_found(request: HttpRequest, exception=None) -> JsonResponse:
    return _json_problem(404, "No such resource.")


def json_server_error(request: HttpRequest) -> JsonResponse:
    return _json_problem(500, "The server failed to handle this request.")


def json_bad_request(request: HttpRequest, exception=None) -> JsonResponse:
    return _json_problem(400, "The request could not be understood.")


def json_forbidden(request: HttpRequest, exception=None) -> JsonResponse:
    return _json_problem(403, "Forbidden.")
