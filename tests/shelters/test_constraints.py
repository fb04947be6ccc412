"""The rules hold in the database itself (named constraints), and model
validation reports each one on the field it concerns."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from shelters.models import AidDistribution, DepartureNotice, PopulationEstimate, PopulationReport, Site
from shelters.services.organizations import default_organization

GOOD_REPORT = {"as_of": date(2025, 3, 13), "qualifier": "exact", "value": 8000}

# (fields that break a rule, the constraint's name, the field model validation names)
BAD_REPORTS = [
    ({"value": -1}, "report_counts_not_negative", "value"),
    ({"qualifier": "range", "value": None, "low": 9000, "high": 8000}, "report_low_not_above_high", "low"),
    ({"qualifier": "exact", "value": None}, "report_qualifier_decides_figures", "value"),
    ({"qualifier": "at_least", "value": 8000, "low": 1}, "report_qualifier_decides_figures", "low"),
    ({"qualifier": "range", "value": None, "low": 8000, "high": None}, "report_qualifier_decides_figures", "high"),
    ({"qualifier": "range", "value": 7000, "low": 8000, "high": 9000}, "report_qualifier_decides_figures", "value"),
    ({"female": 5000, "male": 3001}, "report_sex_breakdown_within_total", "female"),
    ({"children": 4000, "adults": 4000, "elderly": 1}, "report_age_breakdown_within_total", "children"),
    ({"households": 8001}, "report_households_within_total", "households"),
    ({"reported_on": date(2025, 3, 12)}, "report_as_of_not_after_reported_on", "as_of"),
    ({"status": "rejected", "status_reason": ""}, "report_status_change_has_reason", "status_reason"),
]


def _report(site, source, **overrides) -> PopulationReport:
    return PopulationReport(
        site=site, source=source, organization=default_organization(), **{**GOOD_REPORT, **overrides}
    )


def test_a_good_report_passes_both_layers(site, source):
    report = _report(site, source, female=4000, male=4000, households=1600, reported_on=date(2025, 3, 13))
    report.full_clean()
    report.save()
    assert PopulationReport.objects.count() == 1


@pytest.mark.parametrize(("overrides", "constraint", "field"), BAD_REPORTS)
def test_report_rules_are_enforced_by_the_database(site, source, overrides, constraint, field):
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        # Straight to the database: no model validation on this path.
        PopulationReport.objects.bulk_create([_report(site, source, **overrides)])
    # PostgreSQL names the violated constraint; SQLite names it for named checks too.
    assert constraint in str(raised.value) or "CHECK constraint failed" in str(raised.value)
    assert PopulationReport.objects.count() == 0


@pytest.mark.parametrize(("overrides", "constraint", "field"), BAD_REPORTS)
def test_report_rules_are_reported_on_their_field(site, source, overrides, constraint, field):
    with pytest.raises(ValidationError) as raised:
        _report(site, source, **overrides).full_clean()
    assert field in raised.value.message_dict, raised.value.message_dict


def test_database_constraint_messages_are_the_named_ones(site, source):
    constraint = next(c for c in PopulationReport._meta.constraints if c.name == "report_low_not_above_high")
    report = _report(site, source, qualifier="range", value=None, low=9000, high=8000)
    with pytest.raises(ValidationError) as raised:
        constraint.validate(PopulationReport, report)
    assert raised.value.messages == ["The low end of a range cannot be above the high end."]


def test_external_id_is_unique_per_organisation_only(site, source, alice_org, bob_org):
    PopulationReport.objects.create(
        **{**GOOD_REPORT, "site": site, "source": source}, organization=alice_org, external_id="r1"
    )
    # Another organisation may use the same id.
    PopulationReport.objects.create(
        **{**GOOD_REPORT, "site": site, "source": source}, organization=bob_org, external_id="r1"
    )
    # Blank ids are not keys.
    for _ in range(2):
        PopulationReport.objects.create(**{**GOOD_REPORT, "site": site, "source": source}, organization=bob_org)
    with pytest.raises(IntegrityError, match=r"external_id|UNIQUE"), transaction.atomic():
        PopulationReport.objects.create(
            **{**GOOD_REPORT, "site": site, "source": source}, organization=alice_org, external_id="r1"
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"latitude": Decimal("91"), "longitude": Decimal("35")}, "latitude"),
        ({"latitude": Decimal("35"), "longitude": Decimal("-181")}, "longitude"),
        ({"latitude": Decimal("35"), "longitude": None}, "longitude"),
        ({"opened_on": date(2025, 3, 7), "closed_on": date(2025, 3, 6)}, "closed_on"),
    ],
)
def test_site_rules(db, fields, field):
    site = Site(code="X-1", name="X", **fields)
    with pytest.raises(ValidationError) as raised:
        site.full_clean()
    assert field in raised.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.bulk_create([site])


def test_notice_deadline_not_before_issue(site):
    notice = DepartureNotice(
        site=site,
        organization=default_organization(),
        issued_on=date(2025, 3, 15),
        issuer="x",
        deadline=date(2025, 3, 1),
    )
    with pytest.raises(ValidationError) as raised:
        notice.full_clean()
    assert "deadline" in raised.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        DepartureNotice.objects.bulk_create([notice])


def test_distribution_households_within_individuals(site):
    distribution = AidDistribution(
        site=site,
        organization=default_organization(),
        distributed_on=date(2025, 3, 15),
        provider="x",
        item="food_package",
        households=10,
        individuals=5,
    )
    with pytest.raises(ValidationError) as raised:
        distribution.full_clean()
    assert "households" in raised.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        AidDistribution.objects.bulk_create([distribution])


def test_distribution_notice_must_be_about_the_same_site(site):
    other = Site.objects.create(code="OTHER", name="Other")
    org = default_organization()
    notice = DepartureNotice.objects.create(site=other, organization=org, issued_on=date(2025, 3, 15), issuer="x")
    distribution = AidDistribution(
        site=site, organization=org, distributed_on=date(2025, 3, 15), provider="x", item="food_package", notice=notice
    )
    with pytest.raises(ValidationError) as raised:
        distribution.full_clean()
    assert "notice" in raised.value.message_dict


def test_estimates_one_per_site_and_day_inside_their_band(site):
    fields = {"site": site, "date": date(2025, 3, 13), "engine_version": "t", "computed_at": "2025-03-14T00:00:00Z"}
    PopulationEstimate.objects.create(estimate=8500, low=8000, high=9000, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        PopulationEstimate.objects.create(estimate=8500, low=8000, high=9000, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        PopulationEstimate.objects.create(**{**fields, "date": date(2025, 3, 14)}, estimate=9500, low=8000, high=9000)
