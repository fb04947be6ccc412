"""The load test itself, run small: gunicorn, a Celery worker and locust on loopback,
a few users for a few seconds. Every kind of request the load test makes must
get through without an error; latency is measured by the benchmark, not here."""

import io
from pathlib import Path

from django.core.management import call_command

from shelters.management.commands.benchmark_load import read_stats
from shelters.models import PopulationReport, Site
from shelters.services.reconciliation import reconcile_everything, today
from tests.support.processes import PRODUCTION_SETUP

pytestmark = PRODUCTION_SETUP

REQUESTS = {
    "api: sites page",
    "api: latest estimates",
    "api: one site's 30 days",
    "api: bulk post of 20 reports",
    "admin: dashboard",
    "admin: sites list, searched",
    "admin: a site's page",
    "admin: a site's chart",
}


def test_a_short_load_run_makes_every_kind_of_request_without_an_error(tmp_path: Path):
    call_command("generate_sites", "30", "--days", "40", stdout=io.StringIO(), stderr=io.StringIO())
    reconcile_everything(until=today())
    before = PopulationReport.objects.count()
    output = io.StringIO()
    # 20 users: at least two of each kind (7:1:2), about 20 requests a second for 8 seconds.
    call_command(
        "benchmark_load",
        "--users",
        "20",
        "--seconds",
        "8",
        "--web-workers",
        "2",
        "--with-worker",
        "--out",
        str(tmp_path),
        stdout=output,
    )
    stats = read_stats(tmp_path / "users-20")
    assert set(stats) >= REQUESTS, output.getvalue()
    for name in REQUESTS:
        assert int(stats[name]["Request Count"]) > 0, name
    assert {name: int(row["Failure Count"]) for name, row in stats.items()} == dict.fromkeys(stats, 0)
    # The unloaded reference step ran too, and the summary says where the threshold stands.
    assert (tmp_path / "reference_stats.csv").exists()
    assert "errors below that point: 0" in output.getvalue()
    # The writers' reports are stored, each once (external ids are unique per organisation).
    posted = int(stats["api: bulk post of 20 reports"]["Request Count"]) * 20
    assert PopulationReport.objects.count() - before >= posted
    assert Site.objects.count() == 30
