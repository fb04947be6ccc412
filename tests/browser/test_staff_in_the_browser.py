"""What staff do in the admin, in a real browser: dashboard, a site's chart, the map, Arabic."""

from datetime import date

import pytest

from shelters.models import User
from shelters.services.reconciliation import reconcile_sites
from tests.browser.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_dashboard_chart_and_map(page, live_server, hmeimim, coordinator, artefacts):
    log_in(page, live_server, coordinator)
    dashboard = page.inner_text("#dashboard")
    assert "8,485" in dashboard  # the Hmeimim estimate, the only site
    page.screenshot(path=artefacts / "dashboard.png", full_page=True)

    page.goto(f"{live_server.url}/admin/shelters/site/{hmeimim.pk}/change/")
    chart = page.wait_for_selector("#site-chart[data-drawn]")
    assert chart.get_attribute("data-drawn") == "2"  # "at least 8,000" and "at most 9,000"
    assert page.locator("#site-chart-canvas").bounding_box()["height"] > 200
    page.locator("#site-chart").screenshot(path=artefacts / "site-chart.png")

    page.goto(f"{live_server.url}/admin/shelters/site/map/")
    assert page.wait_for_selector("#site-map[data-markers]").get_attribute("data-markers") == "1"
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1  # markers drawn on a canvas
    page.screenshot(path=artefacts / "map.png")


def test_arabic_is_right_to_left(page, live_server, hmeimim, coordinator, artefacts):
    log_in(page, live_server, coordinator)
    page.goto(f"{live_server.url}/admin/shelters/site/{hmeimim.pk}/change/")
    page.select_option("#language-switcher select", "ar")
    page.wait_for_selector("html[dir=rtl]")
    assert page.get_attribute("html", "lang") == "ar"
    page.wait_for_selector("#site-chart[data-drawn]")
    page.screenshot(path=artefacts / "site-arabic.png", full_page=False)
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("html[dir=rtl] #dashboard")
    assert "8485" in page.inner_text("#dashboard").replace(",", "")  # Arabic formats numbers its own way
    page.screenshot(path=artefacts / "dashboard-arabic.png", full_page=False)
    # The choice is the user's: it holds in a new browser session after logging in again.
    assert User.objects.get(pk=coordinator.pk).language == "ar"


def test_verify_a_report_from_the_review_queue(page, live_server, hmeimim, coordinator, artefacts):
    from shelters.models import PopulationReport, ReviewItem, Source
    from shelters.services.organizations import default_organization
    from shelters.services.reports import report_create

    # A well-graded headcount three times the bounds: the engine believes it and marks
    # "at most 9,000" an outlier, which opens a review item for staff to settle.
    report_create(
        organization=default_organization(),
        site=hmeimim,
        source=Source.objects.create(slug="ngo-count", name="NGO count", grade="B"),
        as_of=date(2025, 3, 14),
        method="headcount",
        qualifier="exact",
        value=30000,
    )
    reconcile_sites(site_ids=[hmeimim.pk], until=date(2025, 3, 20))
    item = ReviewItem.objects.filter(site=hmeimim, status="open").order_by("pk").first()
    assert item is not None, list(ReviewItem.objects.values_list("kind", "status", "report__value"))
    verified = PopulationReport.objects.get(site=hmeimim, value=9000)
    claim = PopulationReport.objects.get(site=hmeimim, value=30000)

    log_in(page, live_server, coordinator)
    page.goto(f"{live_server.url}/admin/shelters/reviewitem/")
    page.click(f"a[href$='/reviewitem/{item.pk}/change/']")
    page.click("text=Resolve or dismiss")
    page.check(f"input[name=verify_ids][value='{verified.pk}']")
    page.check(f"input[name=reject_ids][value='{claim.pk}']")
    page.fill("textarea[name=reason]", "The base confirmed at most 9,000; the headcount counted the airfield staff")
    page.screenshot(path=artefacts / "review-resolve.png", full_page=True)
    page.click("input[type=submit].default")
    page.wait_for_selector(".messagelist")
    verified.refresh_from_db()
    item.refresh_from_db()
    assert verified.status == "verified"
    claim.refresh_from_db()
    assert claim.status == "rejected"
    assert item.status == "resolved" and item.resolved_by_id == coordinator.pk


def test_import_an_xlsx_through_the_preview(page, live_server, hmeimim, coordinator, artefacts, tmp_path):
    import openpyxl

    from shelters.models import PopulationReport

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["external_id", "site_code", "as_of", "source", "method", "qualifier", "value"])
    sheet.append(["xlsx-1", hmeimim.code, date(2025, 3, 18), "unhcr-field", "headcount", "exact", 8120])
    sheet.append(["xlsx-2", hmeimim.code, date(2025, 3, 19), "unhcr-field", "headcount", "exact", 8090])
    path = tmp_path / "field-counts.xlsx"
    book.save(path)

    log_in(page, live_server, coordinator)
    page.goto(f"{live_server.url}/admin/import/")
    page.select_option("select[name=kind]", "reports")
    page.set_input_files("input[name=file]", str(path))
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    page.screenshot(path=artefacts / "import-preview.png", full_page=True)
    assert not PopulationReport.objects.filter(external_id__startswith="xlsx-").exists()  # a preview writes nothing
    page.click("input[name=confirm]")
    page.wait_for_selector(".messagelist")
    assert set(PopulationReport.objects.filter(site=hmeimim).values_list("value", flat=True)) >= {8120, 8090}
