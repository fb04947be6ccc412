"""Load test: the service as production runs it, under a growing number of users.

gunicorn and a Celery worker start on loopback against the database in use;
locust (headless, ``shelters/benchmarks/locustfile.py``) plays partner readers,
partner writers and staff in the admin, each about one request a second, in
steps of more and more users. Each step is bounded in time and in requests.

For every step it prints the sustained requests per second, p50/p95/p99 latency
and the errors, next to a first step of the same mix at a tenth of the pace
(about one request a second: the unloaded reference), and
says up to which step p99 stays under the threshold (300 ms) and where it stops.
"""

import csv
import os
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from knox.models import AuthToken

from shelters.benchmarks.processes import PROJECT_DIR, child_env, free_port, running, wait_for
from shelters.models import Organization, Site, Source, User

LOCUSTFILE = PROJECT_DIR / "shelters" / "benchmarks" / "locustfile.py"
REFERENCE_USERS, REFERENCE_PACE = 10, 0.1
WARM_UP_USERS, WARM_UP_SECONDS = 10, 5


@dataclass(frozen=True)
class Step:
    users: int
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float

    @classmethod
    def from_stats(cls, users: int, row: dict[str, str]) -> "Step":
        return cls(
            users=users,
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=float(row["Requests/s"]),
            p50=float(row["50%"]),
            p95=float(row["95%"]),
            p99=float(row["99%"]),
        )


def read_stats(prefix: Path) -> dict[str, dict[str, str]]:
    """locust's ``<prefix>_stats.csv``: one row per request name, and "Aggregated"."""
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


class Command(BaseCommand):
    help = "Load test with locust against gunicorn and a Celery worker on loopback; latency per step of users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", default="10,20,40,60,80,100,120,160", help="user counts, one step each (comma-separated)"
        )
        parser.add_argument("--seconds", type=int, default=30, help="duration of each step")
        parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes")
        parser.add_argument("--threshold-ms", type=float, default=300.0, help="the p99 latency to stay under")
        parser.add_argument(
            "--keep-going", action="store_true", help="run every step, not stop after the first over the threshold"
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="run a Celery worker here too (it then shares this machine's cores with the web processes)",
        )
        parser.add_argument("--out", default=str(Path(settings.VAR_DIR) / "benchmarks" / "load"))

    def handle(
        self,
        *args,
        users: str,
        seconds: int,
        web_workers: int,
        threshold_ms: float,
        keep_going: bool,
        with_worker: bool,
        out: str,
        **options,
    ) -> None:
        steps = [int(n) for n in users.split(",") if n.strip()]
        if not steps or min(steps) < 1:
            raise CommandError("--users: one or more positive user counts, e.g. 10,20,40")
        sites = list(Site.objects.order_by("pk").values_list("pk", "code")[:2000])
        if not sites:
            raise CommandError("no sites: run generate_sites (or load_demo) first")
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        load_env = self._seed(sites)
        env = child_env(
            os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
            # Every simulated partner shares one token; production throttles per token.
            API_RATE_PER_TOKEN="100000000/minute",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        self.stdout.write(
            f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split(':')[0]}; "
            f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}; "
            f"gunicorn with {web_workers} workers on loopback"
            f"{', and one Celery worker' if with_worker else ''}; {seconds} s per step"
        )
        if not with_worker:
            self.stdout.write(
                "no Celery worker: the reconciliations the writes ask for wait in the queue for the workers "
                "(in production they run on other machines; --with-worker runs one here)"
            )
        results: list[Step] = []
        with self._services(env, web_workers, with_worker, folder) as base:
            header = f"{'users':>6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
            # Every gunicorn worker's first requests pay for imports and connections: not measured.
            self._step(base, WARM_UP_USERS, 1.0, WARM_UP_SECONDS, {**env, **load_env}, folder, name="warm-up")
            self.stdout.write(header)
            # The reference: the same mix of users at a tenth of the pace, about one request a second.
            plan = [(REFERENCE_USERS, REFERENCE_PACE), *((n, 1.0) for n in steps)]
            for n, pace in plan:
                step = self._step(base, n, pace, seconds, {**env, **load_env}, folder)
                results.append(step)
                label = f" (reference: {pace:g} task/s each, unloaded)" if len(results) == 1 else ""
                self.stdout.write(
                    f"{step.users:>6}{step.requests:>10,}{step.rps:>9.1f}{step.p50:>9.0f}{step.p95:>9.0f}"
                    f"{step.p99:>9.0f}{step.failures:>8}{label}"
                )
                if step.p99 > threshold_ms and not keep_going and len(results) > 1:
                    break
        self._summary(results, threshold_ms, folder)

    def _seed(self, sites: list[tuple[int, str]]) -> dict[str, str]:
        """A partner with a token, a logged-in staff session, a source; as environment for locust."""
        organization, _ = Organization.objects.get_or_create(slug="load-test", defaults={"name": "Load test"})
        partner, _ = User.objects.get_or_create(
            username="load-partner", defaults={"organization": organization, "role": User.Role.EDITOR}
        )
        token = AuthToken.objects.create(user=partner, expiry=timedelta(hours=4))[1]
        staff, _ = User.objects.get_or_create(
            username="load-staff", defaults={"is_staff": True, "is_superuser": True, "email": "load@example.org"}
        )
        # A real session in the session store, as the login form would make.
        browser = Client()
        browser.force_login(staff)
        Source.objects.get_or_create(slug="load-test-source", defaults={"name": "Load test source", "grade": "B"})
        return {
            "LOAD_PARTNER_TOKEN": token,
            "LOAD_SESSION_COOKIE": settings.SESSION_COOKIE_NAME,
            "LOAD_STAFF_SESSION": browser.cookies[settings.SESSION_COOKIE_NAME].value,
            "LOAD_SITE_CODES": ",".join(code for _, code in sites),
            "LOAD_SITE_IDS": ",".join(str(pk) for pk, _ in sites),
            "LOAD_SITE_PAGES": str(max(1, Site.objects.count() // 100)),
            "LOAD_SOURCE": "load-test-source",
        }

    @contextmanager
    def _services(self, env: dict[str, str], web_workers: int, with_worker: bool, folder: Path) -> Iterator[str]:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers)]
        web += ["--log-level", "warning"]
        worker = ["celery", "--app", "config", "worker", "--loglevel", "WARNING", "--concurrency", "1"]
        worker += ["--hostname", f"load-{secrets.token_hex(3)}@localhost"]
        with ExitStack() as stack:
            stack.enter_context(running(web, folder / "gunicorn.log", env))
            if with_worker:
                stack.enter_context(running(worker, folder / "worker.log", env))
            wait_for(lambda: self._up(base), timeout=60, what="gunicorn to answer", log=folder / "gunicorn.log")
            yield base

    def _up(self, base: str) -> bool:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _step(
        self, base: str, users: int, pace: float, seconds: int, env: dict[str, str], folder: Path, name: str = ""
    ) -> Step:
        prefix = folder / (name or (f"users-{users}" if pace == 1.0 else "reference"))
        args = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base]
        # Users start spread over one period of their pace, so they do not all fire in the same
        # instant every period (bursts, not a steady load); statistics start once all have started.
        args += ["--users", str(users), "--spawn-rate", f"{users * pace:g}", "--run-time", f"{seconds}s"]
        args += ["--reset-stats", "--csv", str(prefix), "--only-summary", "--stop-timeout", "10"]
        args += ["--loglevel", "WARNING", "--exit-code-on-error", "0"]
        # Bounded in requests too: twice what the users would make at their pace.
        budget = {"LOAD_MAX_REQUESTS": str(int(2 * users * pace * seconds) + 100), "LOAD_PACE": str(pace)}
        log = Path(f"{prefix}.log")
        with log.open("wb") as output:
            run_env = {**env, **budget}
            done = subprocess.run(
                args, cwd=PROJECT_DIR, env=run_env, stdout=output, stderr=subprocess.STDOUT, timeout=seconds + 120
            )
        if done.returncode != 0:
            raise CommandError(f"locust exited with {done.returncode}:\n{log.read_text()[-3000:]}")
        return Step.from_stats(users, read_stats(prefix)["Aggregated"])

    def _summary(self, results: list[Step], threshold_ms: float, folder: Path) -> None:
        loaded = results[1:]
        under = [step for step in loaded if step.p99 <= threshold_ms]
        over = next((step for step in loaded if step.p99 > threshold_ms), None)
        best = max(under, key=lambda step: step.users) if under else None
        if best:
            self.stdout.write(
                f"p99 under {threshold_ms:.0f} ms up to {best.users} users: {best.rps:.1f} requests/s sustained, "
                f"p99 {best.p99:.0f} ms = {best.p99 / results[0].p99:.1f}x the unloaded p99"
            )
        else:
            self.stdout.write(f"p99 over {threshold_ms:.0f} ms at every step")
        if over:
            self.stdout.write(f"p99 over {threshold_ms:.0f} ms from {over.users} users ({over.rps:.1f} requests/s)")
        else:
            self.stdout.write("p99 stayed under the threshold at every step: add users to find the limit")
        below = results[: results.index(over)] if over else results
        self.stdout.write(f"errors below that point: {sum(step.failures for step in below)}")
        if best:
            self.stdout.write(f"\nby request at {best.users} users ({folder}/users-{best.users}_stats.csv):")
            for name, row in read_stats(folder / f"users-{best.users}").items():
                if name != "Aggregated":
                    self.stdout.write(
                        f"  {name:<34}{int(row['Request Count']):>8,}  p50 {row['50%']:>5} ms  "
                        f"p95 {row['95%']:>5} ms  p99 {row['99%']:>5} ms  errors {row['Failure Count']}"
                    )
