"""Security of the staff pages: the Content-Security-Policy holds in a real browser
(every admin page with scripts still works, and none is refused), and failed logins
are throttled (django-axes) with a clear page, while a good login still works."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from shelters.models import User
from tests.browser.conftest import PASSWORD, log_in


@pytest.fixture
def csp_violations(page) -> list[str]:
    """Every console message or page error about the Content Security Policy."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on(
        "pageerror", lambda error: violations.append(str(error)) if "Content Security Policy" in str(error) else None
    )
    return violations


@pytest.mark.django_db(transaction=True)
def test_admin_pages_work_under_the_content_security_policy(page, live_server, hmeimim, coordinator, csp_violations):
    log_in(page, live_server, coordinator)
    response = page.goto(f"{live_server.url}/admin/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    page.wait_for_selector("#dashboard")

    page.goto(f"{live_server.url}/admin/shelters/site/{hmeimim.pk}/change/")
    assert page.wait_for_selector("#site-chart[data-drawn]").get_attribute("data-drawn") == "2"

    page.goto(f"{live_server.url}/admin/shelters/site/map/")
    assert page.wait_for_selector("#site-map[data-markers]").get_attribute("data-markers") == "1"

    page.goto(f"{live_server.url}/admin/shelters/populationreport/")
    page.wait_for_selector("#changelist")
    page.goto(f"{live_server.url}/admin/import/")
    page.wait_for_selector("select[name=kind]")

    # The language menu submits itself from a static script, not an inline handler.
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for language, direction in (("ar", "rtl"), ("en", "ltr")):
        # The menu's script is bound once the page has loaded (not when its <html> appears).
        page.wait_for_load_state("load")
        page.select_option("#language-choice", language)
        try:
            page.wait_for_selector(f"html[lang={language}][dir={direction}]", timeout=10_000)
        except PlaywrightTimeoutError:
            pytest.fail(f"the language menu did not switch to {language}; CSP violations: {csp_violations}")

    assert csp_violations == []


# ReDoc's sidebar links to its maker with a logo from their CDN; the policy
# blocks it (nothing is loaded from elsewhere) and ReDoc hides the broken image.
REDOC_LOGO_BLOCKED = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources} (their order varies)."""
    pairs = (part.strip().partition(" ") for part in policy.split(";") if part.strip())
    return {name: sources for name, _, sources in pairs}


@pytest.mark.django_db(transaction=True)
def test_api_docs_work_under_the_content_security_policy(page, live_server, csp_violations):
    response = page.goto(f"{live_server.url}/api/docs/")
    assert _directives(response.headers["content-security-policy"])["script-src"] == "'self'"
    assert "Shelter tracking API" in page.wait_for_selector(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-tag-section .opblock")  # the operations, read from /api/schema/
    assert csp_violations == []

    response = page.goto(f"{live_server.url}/api/redoc/")
    policy = _directives(response.headers["content-security-policy"])
    assert policy["script-src"] == "'self'" and policy["worker-src"] == "'self' blob:"
    assert "Shelter tracking API" in page.wait_for_selector("h1").inner_text()
    page.fill("input[placeholder='Search...']", "departure")  # ReDoc searches in a blob: worker
    page.get_by_text("v1_departure_notices_list").first.wait_for()
    assert [v for v in csp_violations if REDOC_LOGO_BLOCKED not in v] == []


@pytest.mark.django_db(transaction=True)
def test_a_good_login_through_the_form_clears_earlier_failures(page, live_server, coordinator, csp_violations):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", coordinator.username)
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    page.wait_for_selector(".errornote")
    assert AccessAttempt.objects.get(username=coordinator.username).failures_since_start == 1
    log_in(page, live_server, coordinator)
    assert not AccessAttempt.objects.filter(username=coordinator.username).exists()
    assert csp_violations == []


def test_repeated_failed_logins_lock_out_that_username_from_that_address(client, coordinator):
    def attempt(password: str, username: str = coordinator.username, ip: str = "203.0.113.7"):
        return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt("wrong").status_code == 200  # the login form again, with its error
    locked = attempt("wrong")
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    # Even the right password is refused while locked out, with the same page, never a 500.
    right = attempt(PASSWORD)
    assert right.status_code == 429 and b"Too many failed logins" in right.content
    assert "_auth_user_id" not in client.session
    # The lock is per username and address: the same person elsewhere, or another account, may log in.
    assert attempt(PASSWORD, ip="198.51.100.2").status_code == 302
    client.logout()
    User.objects.create_user("other", password=PASSWORD, is_staff=True)
    assert attempt(PASSWORD, username="other").status_code == 302


def test_api_tokens_are_not_affected_by_login_throttling(client, coordinator):
    from knox.models import AuthToken

    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        client.post("/admin/login/", {"username": coordinator.username, "password": "wrong"}, REMOTE_ADDR="127.0.0.1")
    token = AuthToken.objects.create(user=coordinator)[1]
    response = client.get("/api/v1/whoami/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
