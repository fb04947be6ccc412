"""Reports are never overwritten: corrections are new reports, status changes are kept."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from shelters.models import PopulationReport
from shelters.services.organizations import default_organization
from shelters.services.reports import (
    report_correct,
    report_create,
    report_reject,
    report_retract,
    report_verify,
)


@pytest.fixture
def report(site, source, alice) -> PopulationReport:
    return report_create(
        organization=alice.organization,
        created_by=alice,
        site=site,
        source=source,
        as_of=date(2025, 3, 13),
        qualifier="at_least",
        value=8000,
        quote="more than 8,000 people",
    )


def test_create_validates_and_saves_nothing_when_invalid(site, source):
    with pytest.raises(ValidationError) as raised:
        report_create(
            organization=default_organization(),
            site=site,
            source=source,
            as_of=date(2025, 3, 13),
            qualifier="range",
            low=9000,
            high=8000,
        )
    assert "low" in raised.value.message_dict
    assert not PopulationReport.objects.exists()


def test_status_changes_are_kept_in_history_with_who_and_why(report, charlie):
    report_verify(report=report, by=charlie)
    report_reject(report=report, by=charlie, reason="Double counts the airfield staff")
    report.refresh_from_db()
    assert report.status == "rejected"
    statuses = [(h.status, h.history_user, h.status_reason) for h in report.history.order_by("history_date")]
    assert statuses[1:] == [
        ("verified", charlie, ""),
        ("rejected", charlie, "Double counts the airfield staff"),
    ]
    # The figure itself never changed.
    assert {h.value for h in report.history.all()} == {8000}


def test_repeating_a_status_change_is_harmless(report, charlie):
    report_verify(report=report, by=charlie)
    report_verify(report=report, by=charlie)
    assert report.history.count() == 2


def test_reject_and_retract_need_a_reason(report, charlie):
    for action in (report_reject, report_retract):
        with pytest.raises(ValidationError) as raised:
            action(report=report, by=charlie, reason="  ")
        assert "status_reason" in raised.value.message_dict
    report.refresh_from_db()
    assert report.status == "received"


def test_retracted_is_final(report, charlie):
    report_retract(report=report, by=charlie, reason="The ministry withdrew the figure")
    with pytest.raises(ValidationError):
        report_verify(report=report, by=charlie)


def test_a_correction_is_a_new_report_and_retracts_the_old(report, alice):
    correction = report_correct(
        report=report,
        by=alice,
        organization=alice.organization,
        reason="",
        as_of=date(2025, 3, 13),
        qualifier="exact",
        value=8450,
    )
    report.refresh_from_db()
    assert correction.pk != report.pk
    assert (correction.corrects, correction.value, correction.site) == (report, 8450, report.site)
    assert report.status == "retracted" and str(correction.pk) in report.status_reason
    assert report.value == 8000


def test_every_status_change_notifies_the_submitting_organisation(report, alice, charlie):
    from webhooks.models import WebhookDelivery
    from webhooks.services import subscription_create

    subscription_create(alice.organization, alice, "https://partner.example.org/hook", ["report.updated"])
    report_verify(report=report, by=charlie)
    report_reject(report=report, by=charlie, reason="double count")
    report_verify(report=report, by=charlie)  # back to a status it had before: still a new event
    statuses = [d.payload["status"] for d in WebhookDelivery.objects.order_by("pk")]
    assert statuses == ["verified", "rejected", "verified"]


def test_a_long_reason_is_kept_whole_and_labels_history_within_its_column(report, charlie):
    reason = "The figure repeats an older statement by the same office, word for word. " * 5
    report_reject(report=report, by=charlie, reason=reason)
    report.refresh_from_db()
    assert report.status_reason == reason.strip()
    label = report.history.first().history_change_reason
    assert len(label) == 100 and label.startswith("rejected: The figure repeats")
