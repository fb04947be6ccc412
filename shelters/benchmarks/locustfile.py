"""The load test's traffic, for locust (run by ``manage.py benchmark_load``).

A mix of what the service meets in production, each simulated user doing about
one thing a second (``LOAD_PACE``):

- partner systems reading (7 in 10 users): pages of sites, pages of latest
  estimates, one site's daily series;
- partner systems writing (1 in 10): bulk posts of 20 reports to random sites;
- staff in the admin (2 in 10): the dashboard, the sites list with a search,
  a site's page and its chart data.

No Django here: locust patches the standard library with gevent, so this file
runs in its own process and gets what it needs from environment variables set
by the command. A request budget (``LOAD_MAX_REQUESTS``) stops the run early,
so a run is bounded in requests as well as in time (``--run-time``).
"""

import json
import os
import random
import uuid
from datetime import date, timedelta

import gevent
from locust import FastHttpUser, constant_throughput, events, task

TOKEN = os.environ.get("LOAD_PARTNER_TOKEN", "")
SESSION_COOKIE = os.environ.get("LOAD_SESSION_COOKIE", "sessionid")
STAFF_SESSION = os.environ.get("LOAD_STAFF_SESSION", "")
SITE_CODES = [code for code in os.environ.get("LOAD_SITE_CODES", "").split(",") if code]
SITE_IDS = [int(pk) for pk in os.environ.get("LOAD_SITE_IDS", "").split(",") if pk]
SOURCE = os.environ.get("LOAD_SOURCE", "")
SITE_PAGES = max(1, int(os.environ.get("LOAD_SITE_PAGES", "1")))
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "0"))
# Tasks a second per user: 1 under load; the unloaded reference step runs the same mix slower.
PACE = float(os.environ.get("LOAD_PACE", "1"))
WRITE_BATCH = 20
RUN = uuid.uuid4().hex[:8]  # external ids unique to this run

_requests = 0


@events.init.add_listener
def _budget(environment, **kwargs) -> None:
    @environment.events.request.add_listener
    def count(**kwargs) -> None:
        """Stop the whole run once the request budget is spent."""
        global _requests
        _requests += 1
        if MAX_REQUESTS and _requests == MAX_REQUESTS:
            # Not from inside this user's greenlet: quitting kills every user, this one too.
            gevent.spawn(environment.runner.quit)


class _Paced(FastHttpUser):
    abstract = True
    wait_time = constant_throughput(PACE)


class PartnerReader(_Paced):
    weight = 7

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {TOKEN}"}

    @task(3)
    def sites_page(self) -> None:
        page = random.randint(1, SITE_PAGES)
        self.client.get(f"/api/v1/sites/?page_size=100&page={page}", headers=self.headers, name="api: sites page")

    @task(3)
    def latest_estimates_page(self) -> None:
        page = random.randint(1, SITE_PAGES)
        self.client.get(
            f"/api/v1/estimates/latest/?page_size=100&page={page}", headers=self.headers, name="api: latest estimates"
        )

    @task(1)
    def site_series(self) -> None:
        code = random.choice(SITE_CODES)
        start = (date.today() - timedelta(days=30)).isoformat()
        self.client.get(
            f"/api/v1/sites/{code}/estimates/?start={start}", headers=self.headers, name="api: one site's 30 days"
        )


class PartnerWriter(_Paced):
    weight = 1

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
        self.sent = 0

    @task
    def bulk_post(self) -> None:
        day = date.today()
        rows = []
        for _ in range(WRITE_BATCH):
            self.sent += 1
            rows.append(
                {
                    "external_id": f"load-{RUN}-{id(self)}-{self.sent}",
                    "site_code": random.choice(SITE_CODES),
                    "as_of": (day - timedelta(days=random.randint(0, 6))).isoformat(),
                    "source": SOURCE,
                    "method": "headcount",
                    "qualifier": "exact",
                    "value": random.randint(200, 9000),
                }
            )
        with self.client.post(
            "/api/v1/population-reports/",
            data=json.dumps(rows),
            headers=self.headers,
            name="api: bulk post of 20 reports",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class StaffInTheAdmin(_Paced):
    weight = 2

    def on_start(self) -> None:
        # A session the command logged in: logins are rare, and slow on purpose
        # (password hashing), so they are not part of the traffic measured.
        self.headers = {"Cookie": f"{SESSION_COOKIE}={STAFF_SESSION}"}

    @task(1)
    def dashboard(self) -> None:
        self.client.get("/admin/", headers=self.headers, name="admin: dashboard")

    @task(2)
    def sites_list(self) -> None:
        code = random.choice(SITE_CODES)
        self.client.get(
            f"/admin/shelters/site/?q={code[:-2]}", headers=self.headers, name="admin: sites list, searched"
        )

    @task(2)
    def site_page(self) -> None:
        self.client.get(
            f"/admin/shelters/site/{random.choice(SITE_IDS)}/change/", headers=self.headers, name="admin: a site's page"
        )

    @task(2)
    def site_chart(self) -> None:
        self.client.get(
            f"/admin/shelters/site/{random.choice(SITE_IDS)}/chart-data/",
            headers=self.headers,
            name="admin: a site's chart",
        )
