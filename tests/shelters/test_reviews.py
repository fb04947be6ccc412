"""The conflict workflow: review items opened from the engine's flags, worked by
staff through the report services, closed by hand or by the next reconciliation."""

import re
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from shelters.models import (
    PopulationReport,
    ReconciliationState,
    ReportAssessment,
    ReviewComment,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    Site,
    Source,
)
from shelters.services.organizations import default_organization
from shelters.services.reconciliation import reconcile_site
from shelters.services.reviews import (
    AUTO_RESOLUTION,
    review_item_assign,
    review_item_comment,
    review_item_dismiss,
    review_item_resolve,
    review_items_refresh,
)

CHANGELIST = "admin:shelters_reviewitem_changelist"
DAY = date(2025, 3, 13)


def _report(site: Site, source: Source, value: int, **fields) -> PopulationReport:
    return PopulationReport.objects.create(
        site=site,
        source=source,
        organization=default_organization(),
        as_of=DAY,
        qualifier="exact",
        value=value,
        **fields,
    )


def _flag(site: Site, *flags: str) -> None:
    """The state a reconciliation run leaves: these latest flags, nothing pending."""
    ReconciliationState.objects.update_or_create(site=site, defaults={"latest_flags": list(flags), "pending": False})


def _open(**filters) -> list[ReviewItem]:
    return list(ReviewItem.objects.filter(status=ReviewStatus.OPEN, **filters).order_by("kind", "report_id"))


@pytest.fixture
def other_source(db) -> Source:
    return Source.objects.create(slug="tass", name="TASS", kind=Source.Kind.MEDIA, grade="D")


@pytest.fixture
def flagged(site, source, other_source) -> dict[str, PopulationReport]:
    """A site flagged "conflict" with two outliers among its reports (one received, one verified)."""
    reports = {
        "fine": _report(site, source, 8000),
        "received": _report(site, other_source, 2000),
        "verified": _report(site, source, 15000, status="verified"),
        "rejected": _report(site, other_source, 50, status="rejected", status_reason="typo"),
    }
    ReportAssessment.objects.bulk_create(
        ReportAssessment(report=reports[k], weight=0.1, outlier=True) for k in ("received", "verified", "rejected")
    )
    _flag(site, "conflict", "stale")
    return reports


# --- opening and closing after reconciliation ---------------------------------


def test_refresh_opens_one_conflict_item_and_one_item_per_counting_outlier(site, flagged):
    opened, closed = review_items_refresh(site_ids=[site.pk])
    assert (len(opened), closed) == (3, [])
    conflict, *outliers = _open(site=site)
    assert (conflict.kind, conflict.report) == (ReviewKind.CONFLICT, None)
    # The rejected report does not count, so its outlier flag opens nothing.
    assert [(item.kind, item.report) for item in outliers] == [
        (ReviewKind.OUTLIER, flagged["received"]),
        (ReviewKind.OUTLIER, flagged["verified"]),
    ]
    assert conflict.history.get().history_change_reason == "opened after reconciliation"


def test_refresh_twice_creates_nothing_more(site, flagged):
    review_items_refresh(site_ids=[site.pk])
    assert review_items_refresh(site_ids=[site.pk]) == ([], [])
    assert ReviewItem.objects.count() == 3
    assert ReviewItem.history.count() == 3


def test_a_cleared_flag_resolves_its_item_automatically(site, flagged):
    review_items_refresh(site_ids=[site.pk])
    _flag(site, "stale")
    ReportAssessment.objects.filter(report=flagged["received"]).update(outlier=False)
    opened, closed = review_items_refresh(site_ids=[site.pk])
    assert opened == [] and len(closed) == 2
    for item in closed:
        item.refresh_from_db()
        assert (item.status, item.resolution, item.resolved_by) == (ReviewStatus.RESOLVED, AUTO_RESOLUTION, None)
        assert item.resolved_at is not None
        assert item.history.first().history_change_reason == f"resolved: {AUTO_RESOLUTION}"
    assert [item.report for item in _open(site=site)] == [flagged["verified"]]
    # The flag coming back opens a new item; the closed one stays as it was.
    _flag(site, "conflict")
    (reopened,) = review_items_refresh(site_ids=[site.pk])[0]
    assert reopened.kind == ReviewKind.CONFLICT and ReviewItem.objects.filter(kind=ReviewKind.CONFLICT).count() == 2


def test_reconciliation_opens_the_items_of_the_flags_it_stores(site, source, other_source):
    Source.objects.update(grade="A")
    _report(site, source, 1000, method="registration")
    _report(site, other_source, 1600, method="registration")
    reconcile_site(site_id=site.pk, until=DAY)
    assert "conflict" in ReconciliationState.objects.get(site=site).latest_flags
    outliers = set(site.reports.filter(assessment__outlier=True))
    assert outliers, "two sources this far apart: the engine distrusts both"
    conflict, *others = _open(site=site)
    assert conflict.kind == ReviewKind.CONFLICT
    assert {item.report for item in others} == outliers
    reconcile_site(site_id=site.pk, until=DAY)  # a rerun changes nothing
    assert ReviewItem.objects.count() == 1 + len(outliers)


# --- staff decisions ------------------------------------------------------------


def test_resolve_verifies_and_rejects_through_the_report_services(
    site, flagged, charlie, django_capture_on_commit_callbacks
):
    review_items_refresh(site_ids=[site.pk])
    conflict = _open(kind=ReviewKind.CONFLICT)[0]
    good, bad = flagged["fine"], flagged["received"]
    with django_capture_on_commit_callbacks() as callbacks:
        review_item_resolve(
            item=conflict, by=charlie, verify_ids=[good.pk], reject_ids=[bad.pk], reason="TASS misquoted the ministry"
        )
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, good.status_changed_by) == ("verified", charlie)
    assert (bad.status, bad.status_reason) == ("rejected", "TASS misquoted the ministry")
    assert bad.history.first().history_user == charlie
    assert bad.history.first().history_change_reason == "rejected: TASS misquoted the ministry"
    assert good.history.first().history_change_reason == "verified"
    # The report services asked for the site to be reconciled again.
    assert ReconciliationState.objects.get(site=site).pending
    assert callbacks, "a reconciliation task is enqueued on commit"
    conflict.refresh_from_db()
    assert (conflict.status, conflict.resolved_by, conflict.resolution) == (
        ReviewStatus.RESOLVED,
        charlie,
        "TASS misquoted the ministry",
    )
    assert [row.history_user for row in conflict.history.all()] == [charlie, None]


def test_resolve_without_a_reason_is_refused_naming_the_field(site, flagged, charlie):
    review_items_refresh(site_ids=[site.pk])
    item = _open(kind=ReviewKind.CONFLICT)[0]
    with pytest.raises(ValidationError) as raised:
        review_item_resolve(item=item, by=charlie, verify_ids=[flagged["fine"].pk], reason="  ")
    assert list(raised.value.message_dict) == ["reason"]
    flagged["fine"].refresh_from_db()
    item.refresh_from_db()
    assert (flagged["fine"].status, item.status) == ("received", ReviewStatus.OPEN)


def test_resolve_refuses_reports_of_another_site_and_contradictions(site, flagged, charlie, source):
    review_items_refresh(site_ids=[site.pk])
    item = _open(kind=ReviewKind.CONFLICT)[0]
    elsewhere = _report(Site.objects.create(code="SY-OTHER", name="Other"), source, 10)
    with pytest.raises(ValidationError) as raised:
        review_item_resolve(item=item, by=charlie, verify_ids=[elsewhere.pk], reason="x")
    assert "verify_ids" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        pk = flagged["fine"].pk
        review_item_resolve(item=item, by=charlie, verify_ids=[pk], reject_ids=[pk], reason="x")
    assert "reject_ids" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        review_item_resolve(item=item, by=charlie, reason="nothing chosen")
    assert "verify_ids" in raised.value.message_dict
    review_item_dismiss(item=item, by=charlie, reason="both figures plausible")
    with pytest.raises(ValidationError) as raised:  # closed items stay closed
        review_item_resolve(item=item, by=charlie, verify_ids=[flagged["fine"].pk], reason="late")
    assert "status" in raised.value.message_dict


def test_a_decided_item_does_not_reopen_while_nothing_new_arrives(site, flagged, charlie, source):
    review_items_refresh(site_ids=[site.pk])
    conflict = _open(kind=ReviewKind.CONFLICT)[0]
    outlier = _open(report=flagged["verified"])[0]
    review_item_dismiss(item=conflict, by=charlie, reason="both sources stand")
    review_item_resolve(item=outlier, by=charlie, verify_ids=[flagged["verified"].pk], reason="confirmed by phone")
    # Still flagged (the engine's view did not change), but staff decided.
    assert review_items_refresh(site_ids=[site.pk]) == ([], [])
    # A new report is new evidence: the conflict is worth another look.
    _report(site, source, 9000)
    (reopened,) = review_items_refresh(site_ids=[site.pk])[0]
    assert reopened.kind == ReviewKind.CONFLICT


def test_assign_comment_and_dismiss(site, flagged, charlie, alice):
    review_items_refresh(site_ids=[site.pk])
    item = _open(kind=ReviewKind.CONFLICT)[0]
    review_item_assign(item=item, user=charlie, by=charlie)
    item.refresh_from_db()
    assert item.assigned_to == charlie and item.history.first().history_change_reason == "assigned to charlie"
    with pytest.raises(ValidationError) as raised:  # alice is not staff
        review_item_assign(item=item, user=alice, by=charlie)
    assert "assigned_to" in raised.value.message_dict
    with pytest.raises(ValidationError) as raised:
        review_item_comment(item=item, author=charlie, text=" ")
    assert "text" in raised.value.message_dict
    comment = review_item_comment(item=item, author=charlie, text="Calling the base commander.")
    assert list(item.comments.all()) == [comment]
    with pytest.raises(ValidationError) as raised:
        review_item_dismiss(item=item, by=charlie, reason="")
    assert "reason" in raised.value.message_dict
    review_item_dismiss(item=item, by=charlie, reason="Known reporting lag")
    item.refresh_from_db()
    assert (item.status, item.resolution, item.resolved_by) == (ReviewStatus.DISMISSED, "Known reporting lag", charlie)


# --- the database's rules -------------------------------------------------------


def test_the_database_refuses_a_second_open_conflict_item(site):
    ReviewItem.objects.create(site=site, kind=ReviewKind.CONFLICT)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.create(site=site, kind=ReviewKind.CONFLICT)
    # Closed items do not count: a site may have many in its past.
    ReviewItem.objects.update(status=ReviewStatus.RESOLVED, resolution="done", resolved_at=timezone.now())
    ReviewItem.objects.create(site=site, kind=ReviewKind.CONFLICT)


def test_the_database_refuses_a_second_open_item_per_report_and_closing_without_a_resolution(site, flagged):
    report = flagged["received"]
    ReviewItem.objects.create(site=site, kind=ReviewKind.OUTLIER, report=report)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.create(site=site, kind=ReviewKind.OUTLIER, report=report)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.update(status=ReviewStatus.DISMISSED, resolved_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():  # a conflict is about the site, not a report
        ReviewItem.objects.create(site=site, kind=ReviewKind.CONFLICT, report=flagged["fine"])


# --- the admin ------------------------------------------------------------------


@pytest.fixture
def queue(demo) -> list[ReviewItem]:
    """The demo site flagged "conflict", with its item opened."""
    _flag(demo, "conflict")
    review_items_refresh(site_ids=[demo.pk])
    return _open()


def test_the_queue_shows_open_items_by_default(staff_client, queue, charlie):
    (item,) = queue
    closed = ReviewItem.objects.create(
        site=item.site, kind=ReviewKind.CONFLICT, status="dismissed", resolution="old", resolved_at=timezone.now()
    )
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    change = reverse("admin:shelters_reviewitem_change", args=[item.pk])
    assert change in html
    assert reverse("admin:shelters_reviewitem_change", args=[closed.pk]) not in html
    everything = staff_client.get(reverse(CHANGELIST), {"status": "all"}).content.decode()
    assert reverse("admin:shelters_reviewitem_change", args=[closed.pk]) in everything
    assert staff_client.get(reverse(CHANGELIST), {"q": "HMEIMIM", "assigned": "nobody"}).status_code == 200
    # "Assign to me", then the "assigned to me" filter finds it.
    response = staff_client.post(
        reverse(CHANGELIST), {"action": "assign_to_me", "_selected_action": [item.pk]}, follow=True
    )
    assert "1 item assigned to you" in response.content.decode()
    assert change in staff_client.get(reverse(CHANGELIST), {"assigned": "me"}).content.decode()
    item.refresh_from_db()
    assert item.assigned_to == charlie


def test_change_page_renders_and_adds_a_comment_as_the_signed_in_user(staff_client, queue, charlie):
    (item,) = queue
    review_item_comment(item=item, author=None, text="Earlier note")
    url = reverse("admin:shelters_reviewitem_change", args=[item.pk])
    html = staff_client.get(url).content.decode()
    assert "Earlier note" in html
    assert reverse("admin:shelters_reviewitem_resolve", args=[item.pk]) in html
    assert staff_client.get(reverse("admin:shelters_reviewitem_history", args=[item.pk])).status_code == 200
    data = {**_management_forms(html), "assigned_to": "", "comments-2-0-text": "Asked UNHCR for a headcount"}
    data["comments-0-id"] = str(item.comments.get().pk)
    response = staff_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert [(c.text, c.author) for c in ReviewComment.objects.order_by("id")] == [
        ("Earlier note", None),
        ("Asked UNHCR for a headcount", charlie),
    ]


def test_resolve_page_renders_then_resolves(staff_client, queue, charlie, django_capture_on_commit_callbacks):
    (item,) = queue
    at_least, at_most = item.site.reports.order_by("external_id")
    url = reverse("admin:shelters_reviewitem_resolve", args=[item.pk])
    html = staff_client.get(url).content.decode()
    assert f'name="verify_ids" value="{at_least.pk}"' in html and f'name="reject_ids" value="{at_most.pk}"' in html
    # No reason: refused, nothing changed.
    response = staff_client.post(url, {"verify_ids": [at_least.pk]})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    at_least.refresh_from_db()
    assert at_least.status == "received"
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            url, {"verify_ids": [at_least.pk], "reject_ids": [at_most.pk], "reason": "Upper bound was a projection"}
        )
    assert response.status_code == 302 and response.url == reverse(CHANGELIST)
    at_least.refresh_from_db()
    at_most.refresh_from_db()
    assert (at_least.status, at_most.status, at_most.status_changed_by) == ("verified", "rejected", charlie)
    assert callbacks
    item.refresh_from_db()
    assert (item.status, item.resolved_by) == (ReviewStatus.RESOLVED, charlie)
    # A closed item's resolve page sends staff back to the item.
    assert staff_client.get(url).status_code == 302


def test_dismiss_action_asks_for_a_reason(staff_client, queue):
    (item,) = queue
    data = {"action": "dismiss_items", "_selected_action": [item.pk]}
    response = staff_client.post(reverse(CHANGELIST), data)
    assert response.status_code == 200 and "Reason" in response.content.decode()
    response = staff_client.post(reverse(CHANGELIST), {**data, "apply": "1", "reason": "Seen"}, follow=True)
    assert "1 item dismissed" in response.content.decode()
    item.refresh_from_db()
    assert (item.status, item.resolution) == (ReviewStatus.DISMISSED, "Seen")


def _management_forms(html: str) -> dict[str, str]:
    """The inline formsets' management fields, as the change page renders them."""
    return dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', html))
