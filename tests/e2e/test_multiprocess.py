"""The whole service as production runs it, on loopback: gunicorn with two workers,
two Celery workers and a beat, on PostgreSQL and Redis. A partner posts a few
thousand reports through the API; every site's stored series must end up equal
to what the engine computes in-process from the same reports."""

import json
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

from knox.models import AuthToken

from shelters import engine
from shelters.models import (
    Organization,
    PopulationEstimate,
    PopulationReport,
    ReconciliationState,
    Site,
    Source,
    User,
    WorkerHeartbeat,
)
from shelters.selectors.reconciliation import site_inputs, source_profiles
from shelters.services.reconciliation import today
from tests.support.processes import PRODUCTION_SETUP, child_env, free_port, running, wait_for

pytestmark = PRODUCTION_SETUP

SITES = 40
REPORTS = 2400
BATCH = 400


def _post(base: str, token: str, body: list[dict]) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/population-reports/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/schema/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_reports_posted_through_the_api_end_as_the_engines_estimates(tmp_path: Path):
    organization = Organization.objects.create(slug="e2e-ngo", name="E2E NGO")
    partner = User.objects.create_user("e2e-partner", organization=organization, role=User.Role.EDITOR)
    token = AuthToken.objects.create(user=partner, expiry=timedelta(hours=1))[1]
    sites = [Site.objects.create(code=f"E2E-{n:03d}", name=f"E2E site {n}") for n in range(SITES)]
    for slug, grade in (("e2e-registration", "A"), ("e2e-media", "E")):
        Source.objects.create(slug=slug, name=slug, grade=grade)
    end = today()
    rows = []
    for n in range(REPORTS):
        site = sites[n % SITES]
        base_size = 1000 + 150 * (n % SITES)
        day = end - timedelta(days=(n * 7) % 60)
        media = n % 5 == 0
        rows.append(
            {
                "external_id": f"e2e-{n}",
                "site_code": site.code,
                "as_of": day.isoformat(),
                "source": "e2e-media" if media else "e2e-registration",
                "method": "media_claim" if media else "registration",
                "qualifier": "approx" if media else "exact",
                "value": int(base_size * (1.6 if media else 1.0)) + n % 37,
            }
        )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(
        API_RATE_PER_TOKEN="1000000/minute", DJANGO_ALLOWED_HOSTS="127.0.0.1", SHELTERS_HEARTBEAT_SECONDS="2"
    )
    web = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    worker = ["celery", "--app", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker-1", "worker-2", "beat")}
    with (
        running(web, logs["web"], env),
        running([*worker, "--hostname", f"e2e-1-{uuid.uuid4().hex[:6]}@localhost"], logs["worker-1"], env),
        running([*worker, "--hostname", f"e2e-2-{uuid.uuid4().hex[:6]}@localhost"], logs["worker-2"], env),
        running(["celery", "--app", "config", "beat", "--loglevel", "INFO"], logs["beat"], env),
    ):
        wait_for(lambda: _up(base), timeout=60, what="gunicorn to answer", log=logs["web"])
        for start in range(0, REPORTS, BATCH):
            assert _post(base, token, rows[start : start + BATCH]) == 201
        ids = [site.pk for site in sites]
        per_site = REPORTS // SITES
        # Done when every site's last run used all its reports and nothing is pending.
        wait_for(
            lambda: (
                ReconciliationState.objects.filter(site_id__in=ids, pending=False, reports_used=per_site).count()
                == SITES
            ),
            timeout=240,
            what="every site to be reconciled with all its reports",
            log=logs["worker-1"],
        )
        wait_for(lambda: WorkerHeartbeat.objects.exists(), timeout=60, what="a heartbeat scheduled by beat")

    assert PopulationReport.objects.filter(organization=organization).count() == REPORTS  # nothing lost or doubled
    # The reference: the same engine, in-process, on the same reports and stored profiles.
    results = engine.reconcile_many(list(site_inputs(ids)), until=end, profiles=source_profiles())
    for result in results:
        stored = list(
            PopulationEstimate.objects.filter(site_id=int(result.site))
            .order_by("date")
            .values_list("date", "estimate", "low", "high")
        )
        assert stored == [(d.day, d.estimate, d.low, d.high) for d in result.estimates], result.site
        assert stored and stored[-1][0] == end
