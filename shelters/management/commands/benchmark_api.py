import json
import os
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from knox.models import AuthToken

from shelters.benchmarks.processes import child_env, free_port, running, wait_for
from shelters.models import Organization, PopulationReport, Site, Source, User
from shelters.services.reconciliation import today


class Command(BaseCommand):
    help = (
        "Measure the API on a real gunicorn server (loopback only), each figure next to a reference from the "
        "same run: bulk ingest through POST /population-reports/ vs bulk_create of the same rows, and the sites "
        "list (page of 100 with latest estimates) vs a trivial endpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batches", type=int, default=10, help="bulk requests of 1,000 reports each")
        parser.add_argument("--seconds", type=float, default=10, help="duration of each read test")
        parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the read tests")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args, batches: int, seconds: float, clients: int, web_workers: int, **options) -> None:
        sites = list(Site.objects.order_by("pk")[:200])
        if len(sites) < 100:
            raise CommandError("need at least 100 sites: run generate_sites first")
        organization, _ = Organization.objects.get_or_create(slug="api-benchmark", defaults={"name": "API benchmark"})
        user, _ = User.objects.get_or_create(
            username="api-benchmark", defaults={"organization": organization, "role": User.Role.EDITOR}
        )
        token = AuthToken.objects.create(user=user, expiry=timedelta(hours=2))[1]
        source, _ = Source.objects.get_or_create(slug="api-benchmark-source", defaults={"name": "Bench", "grade": "B"})
        self.stdout.write(f"database: {connection.vendor}; gunicorn with {web_workers} workers on loopback")

        env = child_env(
            os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
            API_RATE_PER_TOKEN="100000000/minute",  # measuring throughput, not the throttle
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        sites_page, trivial = "/api/v1/sites/?page_size=100", "/api/v1/whoami/"
        with self._server(env, web_workers) as base:
            ingest = self._ingest(base, token, sites, source, batches)
            reference = self._bulk_create(sites, source, organization, batches)
            cached = settings.SITES_LIST_CACHE_SECONDS > 0
            sites_rps = self._read_rate(base, token, sites_page, seconds, clients)
            trivial_rps = self._read_rate(base, token, trivial, seconds, clients)
        # The same page built afresh for every request (the cold path a first reader after a change meets).
        with self._server({**env, "SITES_LIST_CACHE_SECONDS": "0"}, web_workers) as base:
            cold_rps = self._read_rate(base, token, sites_page, seconds, clients)
            cold_trivial_rps = self._read_rate(base, token, trivial, seconds, clients)
        AuthToken.objects.filter(user=user).delete()

        rows = [
            ("bulk ingest, reports/s (API vs bulk_create)", ingest, reference, ".0f"),
            (
                f"sites list (100/page{', cached' if cached else ''}) vs trivial endpoint, requests/s",
                sites_rps,
                trivial_rps,
                ".1f",
            ),
        ]
        if cached:
            rows.append(
                ("sites list (100/page, uncached) vs trivial endpoint, requests/s", cold_rps, cold_trivial_rps, ".1f")
            )
        else:
            self.stderr.write("note: no shared cache (CACHE_URL), so the sites list is not cached: one figure")
        self.stdout.write(f"{'':<66}{'figure':>12}{'reference':>12}{'ratio':>8}")
        for label, figure, ref, spec in rows:
            self.stdout.write(f"{label:<66}{figure:>12,{spec}}{ref:>12,{spec}}{figure / ref:>8.2f}")

    @contextmanager
    def _server(self, env: dict[str, str], web_workers: int) -> Iterator[str]:
        """A gunicorn on a free loopback port for the duration of the block; yields its base URL."""
        port = free_port()
        args = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers)]
        args += ["--log-level", "warning"]
        base = f"http://127.0.0.1:{port}"
        with running(args, Path("/tmp/benchmark-api-gunicorn.log"), env):
            wait_for(lambda: self._up(base), timeout=60, what="gunicorn to answer")
            yield base

    def _up(self, base: str) -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/schema/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _request(self, base: str, token: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            base + path,
            data=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def _rows(self, sites: list[Site], batch: int, prefix: str) -> list[dict]:
        day = today()
        return [
            {
                "external_id": f"{prefix}-{batch}-{n}",
                "site_code": sites[n % len(sites)].code,
                "as_of": (day - timedelta(days=n % 30)).isoformat(),
                "source": "api-benchmark-source",
                "method": "headcount",
                "qualifier": "exact",
                "value": 1000 + n,
            }
            for n in range(1000)
        ]

    def _ingest(self, base: str, token: str, sites: list[Site], source: Source, batches: int) -> float:
        prefix = uuid.uuid4().hex[:8]
        bodies = [json.dumps(self._rows(sites, b, prefix)).encode() for b in range(batches)]
        start = time.perf_counter()
        for body in bodies:
            status, content = self._request(base, token, "/api/v1/population-reports/", body)
            if status != 201:
                raise CommandError(f"bulk POST answered {status}: {content[:300]!r}")
        return batches * 1000 / (time.perf_counter() - start)

    def _bulk_create(self, sites: list[Site], source: Source, organization: Organization, batches: int) -> float:
        prefix = uuid.uuid4().hex[:8]
        codes = {site.code: site for site in sites}
        batches_of_models = [
            [
                PopulationReport(
                    organization=organization,
                    source=source,
                    site=codes[row["site_code"]],
                    external_id=row["external_id"],
                    as_of=row["as_of"],
                    method=row["method"],
                    qualifier=row["qualifier"],
                    value=row["value"],
                )
                for row in self._rows(sites, b, prefix)
            ]
            for b in range(batches)
        ]
        start = time.perf_counter()
        for models in batches_of_models:
            PopulationReport.objects.bulk_create(models)
        return batches * 1000 / (time.perf_counter() - start)

    def _read_rate(self, base: str, token: str, path: str, seconds: float, clients: int) -> float:
        self._request(base, token, path)  # warm up
        counts, failures, latencies = [0] * clients, [], []
        deadline = time.perf_counter() + seconds

        def client(index: int) -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                status, _ = self._request(base, token, path)
                latencies.append(time.perf_counter() - began)
                if status != 200:
                    failures.append(status)
                counts[index] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        if failures:
            raise CommandError(f"{path}: {len(failures)} failed requests, e.g. {failures[:3]}")
        self.stderr.write(f"{path}: median latency {statistics.median(latencies) * 1000:.0f} ms")
        return sum(counts) / elapsed
