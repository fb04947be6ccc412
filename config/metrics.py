"""Prometheus metrics: request latency, task runtime, queue depth, reconciliation lag.

Imported by config/celery.py (for the task signals) before Django is set up, so
nothing here touches models or settings at import time.

Multi-process mode: gunicorn runs several web processes and Celery's prefork
pool several children, each with its own counters. With ``PROMETHEUS_MULTIPROC_DIR``
set (to an empty folder, before any process starts, the same one for web and
worker on a host) each process writes its samples there and ``/metrics``
adds them up with prometheus_client's MultiProcessCollector.
"""

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

REQUEST_DURATION = Histogram(
    "shelters_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL pattern and status class.",
    ["method", "route", "status"],
)
# Tasks run from milliseconds (a heartbeat) to the 30-minute time limit (a full reconciliation).
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, float("inf"))
TASK_DURATION = Histogram(
    "shelters_task_duration_seconds",
    "Time a Celery task ran, by task name and final state.",
    ["task", "state"],
    buckets=TASK_BUCKETS,
)

# Any other verb (scanners send odd ones) shares one label, so labels stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


# --- HTTP requests ----------------------------------------------------------


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (``api/v1/sites/<code>/``-like), never the
    raw path: one label per pattern, not per site code or scanner probe."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so the time covers every other middleware too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        status = 500  # if an exception escapes, it becomes a 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            method = request.method if request.method in KNOWN_METHODS else "other"
            REQUEST_DURATION.labels(method, route_of(request), f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


# --- Celery tasks -----------------------------------------------------------

# task id -> start time, per process (a prefork child runs one task at a time).
_task_started: dict[str, float] = {}


def task_prerun(task_id: str | None = None, **kwargs) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def task_postrun(task_id: str | None = None, task=None, state: str | None = None, **kwargs) -> None:
    started = _task_started.pop(task_id, None) if task_id else None
    if started is None:
        return
    name = getattr(task, "name", None) or "unknown"
    TASK_DURATION.labels(name, state or "UNKNOWN").observe(time.perf_counter() - started)


# --- Computed at scrape time ------------------------------------------------


def queue_depth() -> tuple[str, int] | None:
    """Messages waiting in the default queue, for Redis and the filesystem
    transport (their kombu channels count them: LLEN over the priority lists,
    files in the queue folder); None for other brokers or when unreachable."""
    from kombu.exceptions import ChannelError

    from config.celery import app
    from config.health import BROKER_TIMEOUT

    queue = app.conf.task_default_queue
    timeouts = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
    with app.connection_for_read(connect_timeout=BROKER_TIMEOUT, transport_options=timeouts) as conn:
        if conn.transport.driver_type not in ("redis", "filesystem"):
            return None
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
        try:
            return queue, conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:
            return queue, 0  # Redis deletes an emptied list, so "no such queue" means empty


def reconciliation_figures() -> dict:
    """One query over ReconciliationState (the pending index serves it)."""
    from django.db.models import Count, Max, Min, Q

    from shelters.models import ReconciliationState

    pending = Q(pending=True)
    return ReconciliationState.objects.aggregate(
        pending_sites=Count("pk", filter=pending),
        oldest_requested=Min("requested_at", filter=pending),
        last_finished=Max("finished_at"),
    )


class SheltersCollector:
    """Gauges read from the broker and the database when Prometheus scrapes.

    A source that fails is logged and its gauges left out, so the rest of the
    scrape (and the latency histograms) still arrive.
    """

    def collect(self) -> Iterator[Metric]:
        yield from self._queue()
        yield from self._reconciliation()

    def _queue(self) -> Iterator[Metric]:
        try:
            depth = queue_depth()
        except Exception:
            logger.warning("metrics: queue depth unavailable", exc_info=True)
            return
        if depth is not None:
            gauge = GaugeMetricFamily("shelters_queue_depth", "Messages waiting in the Celery queue.", labels=["queue"])
            gauge.add_metric([depth[0]], depth[1])
            yield gauge

    def _reconciliation(self) -> Iterator[Metric]:
        from django.utils import timezone

        try:
            figures = reconciliation_figures()
        except Exception:
            logger.warning("metrics: reconciliation figures unavailable", exc_info=True)
            return
        now = timezone.now()
        yield GaugeMetricFamily(
            "shelters_reconciliation_pending_sites",
            "Sites with a reconciliation requested and not yet started.",
            value=figures["pending_sites"],
        )
        oldest = figures["oldest_requested"]
        yield GaugeMetricFamily(
            "shelters_reconciliation_oldest_pending_seconds",
            "Age of the oldest pending reconciliation request (0 when none is pending).",
            value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
        if figures["last_finished"] is not None:  # left out until a first run finished
            yield GaugeMetricFamily(
                "shelters_reconciliation_last_finished_age_seconds",
                "Time since the most recent reconciliation run finished, over all sites.",
                value=max((now - figures["last_finished"]).total_seconds(), 0.0),
            )


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        # This process's histograms (and the process/platform collectors).
        registry.register(REGISTRY)
    registry.register(SheltersCollector())
    return registry


# --- The /metrics view ------------------------------------------------------


def _is_loopback(request: HttpRequest) -> bool:
    # A reverse proxy on the same host makes every visitor look local; such
    # requests carry a forwarding header, and are refused without the token.
    if any(name in request.META for name in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _is_loopback(request):
        return None
    return HttpResponse(
        "Metrics are served to loopback only; set METRICS_TOKEN.\n", status=403, content_type="text/plain"
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
