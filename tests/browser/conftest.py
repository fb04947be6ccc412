"""Browser tests: Playwright driving Debian's Chromium against a live server.

Chromium comes from the system (``apt-get install chromium``; .ci/run installs
it). Without it these tests are skipped, unless SHELTERS_EXPECT_BROWSER is set
(as CI sets it), which makes its absence a failure.
"""

import io
import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from shelters.models import Site, User
from shelters.services.reconciliation import reconcile_sites

CHROMIUM = os.environ.get("SHELTERS_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "browser-test-password"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("SHELTERS_EXPECT_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make between page steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Screenshots land here, kept after the run (CI prints the folder)."""
    folder = Path(settings.VAR_DIR) / "test-artifacts" / "browser"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def hmeimim(db) -> Site:
    call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    site = Site.objects.get(code="SY-LAT-HMEIMIM")
    reconcile_sites(site_ids=[site.pk], until=date(2025, 3, 20))
    return site


@pytest.fixture
def coordinator(db) -> User:
    return User.objects.create_superuser("coordinator", email="c@example.org", password=PASSWORD)


def log_in(page, live_server, user: User) -> None:
    """Through the admin's login form, as staff do; waits for the dashboard."""
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
