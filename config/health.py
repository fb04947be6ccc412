"""Health endpoints for load balancers and uptime checks.

``/healthz`` says whether this web process can serve (database and broker
reachable); ``/healthz/workers`` whether background work runs at all (a worker
ran beat's heartbeat task recently). Both answer JSON, 200 or 503, never 500:
a failing check is a message, and the exception itself goes to the log only,
since its text may hold a host name or a password from a URL.
"""

import logging
import os
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Seconds to wait for the broker: a load balancer's own timeout is often 5 s,
# and a hung check must answer 503 before that, not time out.
BROKER_TIMEOUT = 2.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def broker_connection():
    """A fresh (unpooled) kombu connection to the Celery broker, with short timeouts."""
    from config.celery import app

    return app.connection_for_write(
        connect_timeout=BROKER_TIMEOUT,
        # Redis reads these; other transports ignore them.
        transport_options={"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT},
    )


def check_broker() -> None:
    with broker_connection() as conn:
        # One immediate retry (interval 0): a single dropped packet is not an outage.
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
        if conn.transport.driver_type == "filesystem":
            # "Connecting" to the filesystem transport touches nothing; the
            # queue folder (often a shared volume) is what must be there.
            folder = conn.transport_options.get("data_folder_in", "")
            if not (folder and os.path.isdir(folder) and os.access(folder, os.W_OK)):
                raise OSError("queue folder missing or not writable")


def _run(name: str, check) -> str:
    try:
        check()
    except Exception as error:  # any failure is a 503, never a 500
        logger.warning("health check %s failed", name, exc_info=True)
        return f"error: {type(error).__name__}"
    return "ok"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _run("database", check_database), "broker": _run("broker", check_broker)}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


def _age_seconds(when: datetime, now: datetime) -> float:
    return round(max((now - when).total_seconds(), 0.0), 1)


@never_cache
@require_safe
def healthz_workers(request: HttpRequest) -> JsonResponse:
    from shelters.models import WorkerHeartbeat

    max_silence = settings.SHELTERS_WORKER_MAX_SILENCE_SECONDS
    now = timezone.now()
    try:
        beats = list(WorkerHeartbeat.objects.order_by("worker").values("worker", "last_seen", "beats"))
    except Exception as error:
        logger.warning("worker health check failed", exc_info=True)
        return JsonResponse({"status": "error", "message": f"error: {type(error).__name__}"}, status=503)
    workers = [
        {
            "worker": beat["worker"],
            "last_seen": beat["last_seen"].isoformat(),
            "age_seconds": _age_seconds(beat["last_seen"], now),
            "beats": beat["beats"],
            "alive": _age_seconds(beat["last_seen"], now) <= max_silence,
        }
        for beat in beats
    ]
    # Rows of workers gone for good stay listed (as not alive): they tell what used to run.
    healthy = any(worker["alive"] for worker in workers)
    return JsonResponse(
        {"status": "ok" if healthy else "error", "max_silence_seconds": max_silence, "workers": workers},
        status=200 if healthy else 503,
    )
