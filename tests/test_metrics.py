"""/metrics (access rules, what it exposes) and the JSON log formatter."""

import json
import logging
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.logging import JsonFormatter
from shelters.models import ReconciliationState
from shelters.tasks import record_heartbeat

REMOTE = "203.0.113.9"  # TEST-NET-3: never loopback


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Exposition text as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


@pytest.fixture
def no_token(settings):
    settings.METRICS_TOKEN = ""


@pytest.mark.django_db
def test_without_a_token_only_loopback_may_scrape(client, no_token):
    assert client.get("/metrics", REMOTE_ADDR=REMOTE).status_code == 403
    # Through a reverse proxy on the same host the peer is loopback, but the visitor is not.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=REMOTE).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1


@pytest.mark.django_db
def test_with_a_token_anyone_holding_it_may_scrape(client, settings):
    settings.METRICS_TOKEN = "metrics-s3cret"
    refused = client.get("/metrics", REMOTE_ADDR=REMOTE)
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    # With a token set, loopback alone is not enough either.
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer metrics-s3cret")
    assert response.status_code == 200
    assert b"shelters_http_request_duration_seconds" in response.content


def test_request_latency_is_labelled_by_route_pattern(client, alice, site, no_token):
    labels = {"method": "GET", "route": "api/v1/whoami/", "status": "2xx"}
    before = REGISTRY.get_sample_value("shelters_http_request_duration_seconds_count", labels) or 0
    client.force_login(alice)
    assert client.get("/api/v1/whoami/").status_code == 200
    assert REGISTRY.get_sample_value("shelters_http_request_duration_seconds_count", labels) == before + 1

    # A path with a site code in it is counted under its pattern, not its code.
    assert client.get(f"/api/v1/sites/{site.code}/").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    scraped = scrape(client)
    routes = {
        dict(labels)["route"] for (name, labels) in scraped if name == "shelters_http_request_duration_seconds_count"
    }
    assert "api/v1/whoami/" in routes and "<unmatched>" in routes
    assert not any(site.code in route or "no/such" in route for route in routes)
    assert any(route.startswith("api/v1/") and "sites" in route and "code" in route for route in routes)


def test_reconciliation_gauges_reflect_pending_sites(client, site, no_token):
    now = timezone.now()
    ReconciliationState.objects.update_or_create(
        site=site,
        defaults={
            "pending": True,
            "requested_at": now - timedelta(seconds=120),
            "finished_at": now - timedelta(hours=1),
        },
    )
    scraped = scrape(client)
    assert scraped[("shelters_reconciliation_pending_sites", ())] == 1
    assert 120 <= scraped[("shelters_reconciliation_oldest_pending_seconds", ())] < 180
    assert 3600 <= scraped[("shelters_reconciliation_last_finished_age_seconds", ())] < 3660

    ReconciliationState.objects.filter(site=site).update(pending=False)
    scraped = scrape(client)
    assert scraped[("shelters_reconciliation_pending_sites", ())] == 0
    assert scraped[("shelters_reconciliation_oldest_pending_seconds", ())] == 0


@pytest.mark.django_db
def test_queue_depth_of_the_default_queue(client, no_token):
    # The test settings use the filesystem transport, or Redis in CI: both are counted.
    depths = {labels: value for (name, labels), value in scrape(client).items() if name == "shelters_queue_depth"}
    assert list(depths) == [(("queue", "celery"),)]
    assert depths[(("queue", "celery"),)] >= 0


@pytest.mark.django_db
def test_task_runtime_is_recorded_by_name_and_state():
    labels = {"task": "shelters.tasks.record_heartbeat", "state": "SUCCESS"}
    before = REGISTRY.get_sample_value("shelters_task_duration_seconds_count", labels) or 0
    record_heartbeat.apply(kwargs={"token": "metrics-test"})
    assert REGISTRY.get_sample_value("shelters_task_duration_seconds_count", labels) == before + 1


@pytest.mark.django_db
def test_multiprocess_mode_serves_the_shared_folder_and_the_gauges(client, no_token, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    scraped = scrape(client)
    assert ("shelters_reconciliation_pending_sites", ()) in scraped
    # This process was not started in multi-process mode, so its own histograms are not in the folder.
    assert not any(name.startswith("shelters_http_request") for name, _ in scraped)


def test_json_formatter_writes_one_object_per_line_with_the_exception():
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        record = logging.LogRecord("shelters.test", logging.ERROR, __file__, 1, "failed for %s", ("حميميم",), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line  # the traceback is escaped inside the object
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "shelters.test"
    assert entry["message"] == "failed for حميميم"
    assert entry["time"].endswith("+00:00")
    assert "Traceback" in entry["exception"] and "ZeroDivisionError" in entry["exception"]


def test_json_formatter_without_an_exception():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %d", (3,), None)
    assert set(json.loads(JsonFormatter().format(record))) == {"time", "level", "logger", "message"}
