"""Many records submitted at once (the API's bulk endpoints): validated whole,
saved all together or not at all, with history and reconciliation requests."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from shelters.models import AidDistribution, DepartureNotice, Organization, PopulationReport, Site, Source, User
from webhooks import events

from . import notifications
from .history import bulk_create_with_history
from .reconciliation import reconciliation_request

# Item errors: {item index: {field: [messages]}}.
ItemErrors = dict[int, dict[str, list[str]]]


class SubmissionInvalid(Exception):
    """At least one item is invalid; nothing was saved."""

    def __init__(self, errors: ItemErrors) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid item(s)")


# Reference fields resolved here, in a few queries for the whole batch.
_EXCLUDE_FROM_CLEAN = ["site", "source", "organization", "created_by", "notice", "corrects"]


def _resolve_sites(items: list[dict[str, Any]]) -> dict[str, Site]:
    codes = {item.get("site_code") for item in items} - {None, ""}
    return {site.code: site for site in Site.objects.filter(code__in=codes)}


def _resolve_sources(items: list[dict[str, Any]]) -> dict[str, Source]:
    slugs = {item.get("source") for item in items} - {None, ""}
    return {source.slug: source for source in Source.objects.filter(slug__in=slugs)}


@transaction.atomic
def records_create_many(
    *,
    model: type[models.Model],
    organization: Organization,
    created_by: User | None,
    items: list[dict[str, Any]],
    change_reason: str = "submitted through the API",
) -> list[models.Model]:
    """Create reports, notices or distributions; raise ``SubmissionInvalid`` naming every bad item.

    Each item holds model field values plus ``site_code``, ``source`` (a slug;
    an unknown one becomes a new source, graded by ``source_grade`` if given)
    and, for distributions, ``notice_external_id``.
    """
    sites = _resolve_sites(items)
    sources = _resolve_sources(items)
    new_sources: dict[str, Source] = {}
    ids = [item.get("external_id") for item in items if item.get("external_id")]
    taken = set(
        model.objects.filter(organization=organization, external_id__in=ids).values_list("external_id", flat=True)
    )
    notices = {}
    if model is AidDistribution:
        wanted = {item.get("notice_external_id") for item in items} - {None, ""}
        notices = {
            notice.external_id: notice
            for notice in DepartureNotice.objects.filter(organization=organization, external_id__in=wanted)
        }

    errors: ItemErrors = {}
    records: list[models.Model] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        fields = dict(item)
        problems: dict[str, list[str]] = {}
        code = fields.pop("site_code", None)
        slug = fields.pop("source", None) or ""
        grade = fields.pop("source_grade", None) or ""
        notice_id = fields.pop("notice_external_id", None) or ""
        site = sites.get(code)
        if site is None:
            problems["site_code"] = [f"Unknown site code '{code}'."]
        source = None
        if slug:
            source = sources.get(slug) or new_sources.get(slug)
            if source is None:
                source = Source(slug=slug, name=slug, grade=grade)
                try:
                    source.full_clean(validate_unique=False, validate_constraints=False)
                    new_sources[slug] = source
                except ValidationError as error:
                    problems["source"] = [f"'{slug}' cannot be a new source: " + " ".join(error.messages)]
                    source = None
        elif model is PopulationReport:
            problems["source"] = ["This field is required."]
        external_id = fields.get("external_id") or ""
        if external_id in taken:
            problems["external_id"] = [f"'{external_id}' was already submitted by this organisation."]
        elif external_id and external_id in seen:
            problems["external_id"] = [f"'{external_id}' appears twice in this request (item {seen[external_id]})."]
        elif external_id:
            seen[external_id] = index
        record = model(organization=organization, created_by=created_by, site=site, source=source, **fields)
        if notice_id:
            notice = notices.get(notice_id)
            if notice is None:
                problems["notice_external_id"] = [f"No departure notice with external_id '{notice_id}'."]
            elif site is not None and notice.site_id != site.pk:
                problems["notice_external_id"] = ["That notice is about another site."]
            else:
                record.notice = notice
        try:
            record.full_clean(exclude=_EXCLUDE_FROM_CLEAN, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                problems.setdefault(field, []).extend(messages)
        if problems:
            errors[index] = problems
        records.append(record)
    if errors:
        raise SubmissionInvalid(errors)

    used = {record.source.slug for record in records if record.source is not None and record.source.pk is None}
    Source.objects.bulk_create([source for slug, source in new_sources.items() if slug in used])
    bulk_create_with_history(records, model, user=created_by, reason=change_reason)
    if model in (PopulationReport, DepartureNotice):
        reconciliation_request(site_ids={record.site_id for record in records})
    if model is PopulationReport:
        for record in records:
            # Not assessed yet: known without asking, so serialising a batch costs no query per report.
            PopulationReport.assessment.related.set_cached_value(record, None)
        notifications.reports_changed(events.REPORT_CREATED, records)
    return records
