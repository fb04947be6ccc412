"""Staff in the admin: real requests through the admin with a logged-in user."""

import re
from datetime import date

from django.contrib.auth.models import Permission
from django.urls import reverse

from shelters.admin import sites as admin_sites
from shelters.models import AidDistribution, DepartureNotice, PopulationReport, Site, User
from shelters.selectors import overview
from shelters.services.organizations import default_organization

CHANGELIST = "admin:shelters_populationreport_changelist"


def _reports(site: Site) -> list[PopulationReport]:
    return list(site.reports.order_by("external_id"))


def test_every_admin_page_renders(staff_client, demo):
    for name in [
        "admin:index",
        "admin:shelters_site_changelist",
        "admin:shelters_populationreport_changelist",
        "admin:shelters_departurenotice_changelist",
        "admin:shelters_aiddistribution_changelist",
        "admin:shelters_populationestimate_changelist",
        "admin:shelters_source_changelist",
        "admin:shelters_organization_changelist",
        "admin:shelters_user_changelist",
        "admin:shelters_workerheartbeat_changelist",
        "admin:shelters_populationreport_add",
        "admin:shelters_site_add",
    ]:
        response = staff_client.get(reverse(name))
        assert response.status_code == 200, name
    report = demo.reports.first()
    for url in [
        reverse("admin:shelters_populationreport_change", args=[report.pk]),
        reverse("admin:shelters_populationreport_history", args=[report.pk]),
        reverse("admin:shelters_site_history", args=[demo.pk]),
    ]:
        assert staff_client.get(url).status_code == 200, url


def test_site_page_shows_its_evidence_inline_with_the_arabic_name(staff_client, demo):
    response = staff_client.get(reverse("admin:shelters_site_change", args=[demo.pk]))
    html = response.content.decode()
    assert "قاعدة حميميم الجوية" in html
    assert "more than 8,000 people" in html and "potentially rising to 9,000" in html
    assert "Unclear" in html  # the departure notice's compulsion
    assert "Food package" in html  # the distribution
    changelist = staff_client.get(reverse("admin:shelters_site_changelist")).content.decode()
    assert '<span dir="rtl" lang="ar">قاعدة حميميم الجوية</span>' in changelist


def test_site_page_lists_only_the_latest_reports_and_links_to_all(staff_client, demo, monkeypatch):
    monkeypatch.setattr(admin_sites, "INLINE_ROWS", 1)
    reports = list(demo.reports.order_by("-as_of", "-id"))
    assert len(reports) == 2
    html = staff_client.get(reverse("admin:shelters_site_change", args=[demo.pk])).content.decode()
    assert "the latest 1 of 2" in html
    assert f'href="{reverse(CHANGELIST)}?site__id__exact={demo.pk}"' in html
    links = {report.pk: reverse("admin:shelters_populationreport_change", args=[report.pk]) for report in reports}
    assert {pk for pk, link in links.items() if link in html} == {reports[0].pk}
    # The link's list is every report of the site.
    listed = staff_client.get(f"{reverse(CHANGELIST)}?site__id__exact={demo.pk}")
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == len(reports)
    # Saving the site still works with the shortened lists on the page: post back what it shows.
    page = staff_client.get(reverse("admin:shelters_site_change", args=[demo.pk]))
    data = {name: value for name, value in page.context["adminform"].form.initial.items() if value is not None}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
        for form in formset.forms:
            for name in ("id", formset.fk.name):
                data[form.add_prefix(name)] = form[name].value()
    data["name"] = "Hmeimim Air Base (renamed)"
    response = staff_client.post(reverse("admin:shelters_site_change", args=[demo.pk]), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    demo.refresh_from_db()
    assert demo.name == "Hmeimim Air Base (renamed)"


def test_dashboard_counts_reports_to_verify_up_to_a_cap(staff_client, demo, monkeypatch):
    waiting = PopulationReport.objects.filter(status="received").count()
    assert waiting >= 2
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert f'?status__exact=received">{waiting}</a>' in html
    monkeypatch.setattr(overview, "COUNT_CAP", waiting - 1)
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert f'?status__exact=received">{waiting - 1}+</a>' in html


def test_admin_in_arabic_is_right_to_left(staff_client, demo):
    response = staff_client.get(reverse("admin:shelters_site_change", args=[demo.pk]), HTTP_ACCEPT_LANGUAGE="ar")
    html = response.content.decode()
    assert 'dir="rtl"' in html and 'lang="ar"' in html


def test_verify_action(staff_client, demo, charlie):
    first, second = _reports(demo)
    response = staff_client.post(
        reverse(CHANGELIST), {"action": "verify_reports", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "2 reports marked verified" in response.content.decode()
    first.refresh_from_db()
    assert first.status == "verified" and first.status_changed_by == charlie
    assert first.history.first().history_user == charlie


def test_reject_asks_for_a_reason_then_applies_it(staff_client, demo, charlie):
    report = _reports(demo)[0]
    url = reverse(CHANGELIST)
    # Step 1: the intermediate page, nothing changed yet.
    response = staff_client.post(url, {"action": "mark_rejected", "_selected_action": [report.pk]})
    assert response.status_code == 200
    assert "Reason" in response.content.decode()
    report.refresh_from_db()
    assert report.status == "received"
    # An empty reason is refused and changes nothing.
    response = staff_client.post(url, {"action": "mark_rejected", "_selected_action": [report.pk], "apply": "1"})
    assert "This field is required" in response.content.decode()
    report.refresh_from_db()
    assert report.status == "received"
    # Step 2: with a reason.
    response = staff_client.post(
        url,
        {"action": "mark_rejected", "_selected_action": [report.pk], "apply": "1", "reason": "Duplicate of TASS wire"},
        follow=True,
    )
    assert "1 report marked rejected" in response.content.decode()
    report.refresh_from_db()
    assert (report.status, report.status_reason, report.status_changed_by) == (
        "rejected",
        "Duplicate of TASS wire",
        charlie,
    )
    latest = report.history.first()
    assert latest.history_user == charlie and latest.status == "rejected"
    assert latest.history_change_reason == "rejected: Duplicate of TASS wire"


def test_retract_is_final(staff_client, demo):
    report = _reports(demo)[0]
    url = reverse(CHANGELIST)
    staff_client.post(
        url, {"action": "mark_retracted", "_selected_action": [report.pk], "apply": "1", "reason": "Source withdrew it"}
    )
    report.refresh_from_db()
    assert report.status == "retracted"
    response = staff_client.post(url, {"action": "verify_reports", "_selected_action": [report.pk]}, follow=True)
    assert "cannot be verified" in response.content.decode()
    report.refresh_from_db()
    assert report.status == "retracted"
    assert report.history.count() == 2  # created, retracted: the refused verify left no trace


def test_actions_need_change_permission(client, demo):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_populationreport"))
    client.force_login(viewer)
    report = _reports(demo)[0]
    client.post(reverse(CHANGELIST), {"action": "verify_reports", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert report.status == "received"


def test_adding_a_report_in_the_admin_goes_through_the_rules(staff_client, demo, charlie):
    source = demo.reports.first().source
    url = reverse("admin:shelters_populationreport_add")
    base = {"site": demo.pk, "source": source.pk, "as_of": "2025-03-16", "method": "headcount"}
    response = staff_client.post(url, {**base, "qualifier": "range", "low": "9000", "high": "8000"})
    assert response.status_code == 200  # form shown again with the error
    assert "The low end of a range cannot be above the high end." in response.content.decode()
    assert demo.reports.count() == 2

    response = staff_client.post(url, {**base, "qualifier": "exact", "value": "7400", "quote": "counted at the gate"})
    assert response.status_code == 302
    report = demo.reports.get(as_of=date(2025, 3, 16))
    assert (report.value, report.organization, report.created_by) == (7400, default_organization(), charlie)
    assert report.history.first().history_user == charlie


def test_a_saved_report_keeps_its_figures(staff_client, demo):
    report = _reports(demo)[0]
    url = reverse("admin:shelters_populationreport_change", args=[report.pk])
    staff_client.post(url, {"value": "1", "notes": "checked with the base command"})
    report.refresh_from_db()
    assert report.value == 8000 and report.notes == "checked with the base command"


def test_reports_cannot_be_deleted(staff_client, demo):
    report = _reports(demo)[0]
    response = staff_client.get(reverse("admin:shelters_populationreport_delete", args=[report.pk]))
    assert response.status_code == 403


def test_notice_and_distribution_are_owned_by_the_staff_organisation(staff_client, demo, charlie):
    notice_url = reverse("admin:shelters_departurenotice_add")
    response = staff_client.post(
        notice_url,
        {
            "site": demo.pk,
            "issued_on": "2025-03-20",
            "issuer": "Base command",
            "channel": "verbal",
            "compulsion": "mandatory",
            "verification": "unverified",
            "deadline": "2025-03-19",
        },
    )
    assert "The deadline cannot be before the notice was issued." in response.content.decode()
    assert DepartureNotice.objects.count() == 1
    response = staff_client.post(
        reverse("admin:shelters_aiddistribution_add"),
        {
            "site": demo.pk,
            "distributed_on": "2025-03-20",
            "provider": "WFP",
            "item": "food_package",
            "quantity": "500",
            "unit": "package",
            "households": "500",
            "individuals": "2400",
            "purpose": "general",
        },
    )
    assert response.status_code == 302
    distribution = AidDistribution.objects.get(provider="WFP")
    assert distribution.organization == default_organization() and distribution.created_by == charlie


def test_a_correction_entered_in_the_admin_retracts_the_original(staff_client, demo):
    original = _reports(demo)[0]
    response = staff_client.post(
        reverse("admin:shelters_populationreport_add"),
        {
            "site": demo.pk,
            "source": original.source.pk,
            "as_of": "2025-03-13",
            "method": "estimate",
            "qualifier": "exact",
            "value": "8450",
            "corrects": original.pk,
        },
    )
    assert response.status_code == 302
    original.refresh_from_db()
    assert original.status == "retracted" and original.corrections.get().value == 8450


def test_staff_ask_for_a_count_report_and_download_its_files(
    staff_client, demo, settings, tmp_path, django_capture_on_commit_callbacks
):
    from shelters.models import CountReport, CountReportSchedule
    from shelters.services.count_reports import count_report_generate, count_report_schedule_save
    from shelters.services.reconciliation import reconcile_sites

    settings.MEDIA_ROOT = str(tmp_path)
    reconcile_sites(site_ids=[demo.pk], until=date(2025, 3, 20))
    add = reverse("admin:shelters_countreport_add")
    assert staff_client.get(add).status_code == 200
    # A governorate scope without a governorate is refused, naming the field.
    response = staff_client.post(add, {"scope": "governorate", "period_kind": "day", "day": "2025-03-13"})
    assert response.status_code == 200 and "governorate" in response.context["adminform"].form.errors
    assert not CountReport.objects.exists()
    with django_capture_on_commit_callbacks() as enqueued:
        response = staff_client.post(add, {"scope": "all", "period_kind": "day", "day": "2025-03-13"})
    report = CountReport.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/{report.pk}/change/")
    assert len(enqueued) == 1 and report.status == CountReport.Status.PENDING
    count_report_generate(report_id=report.pk)  # what the enqueued task does in the worker
    page = staff_client.get(reverse("admin:shelters_countreport_change", args=[report.pk])).content.decode()
    assert "8,485" in page
    pdf = staff_client.get(reverse("admin:shelters_countreport_download", args=[report.pk, "pdf"]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert staff_client.get(reverse("admin:shelters_countreport_changelist")).status_code == 200
    schedule = count_report_schedule_save(schedule=CountReportSchedule(name="Admin test", period_kind="day"))
    assert staff_client.get(reverse("admin:shelters_countreportschedule_change", args=[schedule.pk])).status_code == 200


def test_a_new_schedule_gets_its_beat_task(staff_client, db):
    from shelters.models import CountReportSchedule

    response = staff_client.post(
        reverse("admin:shelters_countreportschedule_add"),
        {"name": "Latakia weekly", "scope": "governorate", "governorate": "Latakia", "period_kind": "week"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = CountReportSchedule.objects.get(name="Latakia weekly")
    task = schedule.periodic_task
    assert task.task == "shelters.tasks.run_count_report_schedule"
    assert task.crontab.day_of_week == "1" and f'"schedule_id": {schedule.pk}' in task.kwargs


def test_source_reliability_list_shows_what_was_learned(client, charlie):
    from django.utils import timezone

    from shelters.models import Source, SourceReliability

    source = Source.objects.create(slug="governor", name="Governor", grade="B")
    SourceReliability.objects.create(
        source=source,
        profile={"source": "governor", "log_bias": 0.336, "noise_scale": 0.8, "n": 40, "site_sd": 0.12, "lag": 2},
        engine_version="3.2.0",
        learned_at=timezone.now(),
    )
    client.force_login(charlie)
    html = client.get(reverse("admin:shelters_sourcereliability_changelist")).content.decode()
    assert "Error that stays with a site (±)" in html
    cells = re.findall(r'<td class="field-(\w+)[^"]*">([^<]*)</td>', html)
    assert ("bias", "1.40") in cells
    assert ("site_error", "13%") in cells  # exp(0.12) - 1
    assert ("lag", "2") in cells
