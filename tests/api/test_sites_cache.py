"""The sites list is served from the cache until a site or a latest estimate changes."""

from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shelters.models import PopulationEstimate, Site
from shelters.services.reconciliation import refresh_latest_estimates
from shelters.services.sites import site_save

URL = "/api/v1/sites/?page_size=100"


@pytest.fixture
def cached_pages(settings):
    settings.SITES_LIST_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def _site_queries(client) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return response.json(), sum("shelters_site" in query["sql"] for query in queries.captured_queries)


def test_a_repeated_page_does_not_touch_the_sites_table(alice_api, demo, cached_pages):
    first, first_queries = _site_queries(alice_api)
    again, again_queries = _site_queries(alice_api)
    assert first_queries > 0 and again_queries == 0
    assert again == first


def test_a_saved_site_shows_at_once(alice_api, charlie, demo, cached_pages, django_capture_on_commit_callbacks):
    _site_queries(alice_api)
    demo.name = "Hmeimim air base (renamed)"
    with django_capture_on_commit_callbacks(execute=True):
        site_save(site=demo, by=charlie)
    page, queries = _site_queries(alice_api)
    assert queries > 0
    assert {row["code"]: row["name"] for row in page["results"]}[demo.code] == "Hmeimim air base (renamed)"


def test_a_new_latest_estimate_shows_at_once(alice_api, demo, cached_pages, django_capture_on_commit_callbacks):
    _site_queries(alice_api)
    PopulationEstimate.objects.filter(site=demo).delete()
    PopulationEstimate.objects.create(
        site=demo,
        date=date(2025, 3, 20),
        estimate=7777,
        low=7000,
        high=8000,
        flags=[],
        contributions=[],
        engine_version="test",
        computed_at="2025-03-20T00:00:00Z",
    )
    with django_capture_on_commit_callbacks(execute=True):
        refresh_latest_estimates(site_ids=[demo.pk])  # the read model, as a run leaves it
    page, _ = _site_queries(alice_api)
    latest = {row["code"]: row["latest_estimate"] for row in page["results"]}[demo.code]
    assert latest["estimate"] == 7777 and latest["date"] == "2025-03-20"


def test_a_change_not_yet_committed_keeps_the_page(alice_api, demo, cached_pages):
    """The version moves on commit only: until then readers must not see the change (nor cache it early)."""
    before, _ = _site_queries(alice_api)
    Site.objects.filter(pk=demo.pk).update(name="uncommitted")  # no service, no version bump
    after, _ = _site_queries(alice_api)
    assert after == before


def test_a_deleted_site_leaves_the_page_at_once(
    alice_api, charlie, demo, cached_pages, django_capture_on_commit_callbacks
):
    from shelters.services.sites import sites_delete

    spare = Site.objects.create(code="SPARE-1", name="Spare school")  # no evidence refers to it
    assert "SPARE-1" in {row["code"] for row in _site_queries(alice_api)[0]["results"]}
    with django_capture_on_commit_callbacks(execute=True):
        sites_delete(sites=[spare], by=charlie)
    assert "SPARE-1" not in {row["code"] for row in _site_queries(alice_api)[0]["results"]}
