"""/healthz and /healthz/workers: JSON, 200 or 503, never 500, no secrets."""

import socket
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from kombu import Connection

from config.celery import app as celery_app
from shelters.models import WorkerHeartbeat
from shelters.services.heartbeats import heartbeat_record

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_is_ok_without_authentication(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    url = f"redis://:broker-password@127.0.0.1:{closed_port()}/0"
    # Only the connection factory changes: the health check itself runs as in production.
    monkeypatch.setattr(celery_app, "connection_for_write", lambda **kwargs: Connection(url, **kwargs))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")
    assert b"broker-password" not in response.content and b"127.0.0.1" not in response.content


def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    def refuse(self, sql, params=None):
        raise OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "error: OperationalError", "broker": "ok"},
    }
    assert b"db.internal" not in response.content


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200


def test_workers_is_503_without_any_heartbeat(client):
    response = client.get("/healthz/workers")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["workers"] == []


def test_workers_is_200_after_a_heartbeat(client, settings):
    settings.SHELTERS_WORKER_MAX_SILENCE_SECONDS = 180
    heartbeat_record(worker="worker@alpha", token="t1")
    response = client.get("/healthz/workers")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["max_silence_seconds"] == 180
    [worker] = body["workers"]
    assert worker["worker"] == "worker@alpha" and worker["alive"] is True and worker["beats"] == 1
    assert 0 <= worker["age_seconds"] < 60


def test_workers_is_503_when_every_beat_is_too_old(client, settings):
    settings.SHELTERS_WORKER_MAX_SILENCE_SECONDS = 180
    heartbeat_record(worker="worker@alpha")
    heartbeat_record(worker="worker@beta")
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(seconds=600))
    response = client.get("/healthz/workers")
    assert response.status_code == 503
    assert [(w["worker"], w["alive"]) for w in response.json()["workers"]] == [
        ("worker@alpha", False),
        ("worker@beta", False),
    ]
    # One worker beating again is enough.
    heartbeat_record(worker="worker@beta")
    assert client.get("/healthz/workers").status_code == 200
