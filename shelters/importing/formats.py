"""The interchange formats of DESIGN.md, one importer each."""

from typing import Any, ClassVar

from django.db import models

from shelters.models import AidDistribution, DepartureNotice, Grade, PopulationReport, Site, Source
from shelters.models.reports import Method, Qualifier

from . import fields as f
from .base import Column, Importer, RowInvalid
from .table import Row, Table


class ReferenceDataImporter(Importer):
    """Sites and sources: a row whose key exists updates the stored record."""

    updates_existing = True
    new_records_change_estimates = False

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        # Start from the stored record so that columns absent from the file keep their values.
        record = (
            self.model(
                **{field.attname: getattr(existing, field.attname) for field in self.model._meta.concrete_fields}
            )
            if existing is not None
            else self.model()
        )
        for column in self.columns:
            if column.name in values:
                setattr(record, column.attr, values[column.name])
        return record


class SiteImporter(ReferenceDataImporter):
    model = Site
    key_column = "site_code"
    columns = (
        Column("site_code", f.text, "code", required=True),
        Column("name", f.text, "name", required=True),
        Column("name_ar", f.text, "name_ar"),
        Column("site_type", f.choice(Site.Type, default=Site.Type.OTHER), "site_type"),
        Column("status", f.choice(Site.Status, default=Site.Status.OPEN), "status"),
        Column("governorate", f.text, "governorate"),
        Column("governorate_pcode", f.text, "governorate_pcode"),
        Column("district", f.text, "district"),
        Column("district_pcode", f.text, "district_pcode"),
        Column("latitude", f.optional_decimal, "latitude"),
        Column("longitude", f.optional_decimal, "longitude"),
        Column("capacity", f.optional_integer, "capacity"),
        Column("operator", f.text, "operator"),
        Column("opened_on", f.optional_date, "opened_on"),
        Column("closed_on", f.optional_date, "closed_on"),
        Column("notes", f.text, "notes"),
    )

    def existing_by_key(self, keys: set[str]) -> dict[str, models.Model]:
        return {site.code: site for site in Site.objects.filter(code__in=keys)}

    def site_id_of(self, record: models.Model) -> int | None:
        return record.pk


class SourceImporter(ReferenceDataImporter):
    model = Source
    key_column = "slug"
    columns = (
        Column("slug", f.text, "slug", required=True),
        Column("name", f.text, "name"),
        Column("kind", f.choice(Source.Kind, default=Source.Kind.OTHER), "kind"),
        Column("grade", f.choice(Grade), "grade"),
    )

    def existing_by_key(self, keys: set[str]) -> dict[str, models.Model]:
        return {source.slug: source for source in Source.objects.filter(slug__in=keys)}

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        source = super().build(values, row, existing)
        source.name = source.name or source.slug
        return source

    def create(self, records: list[models.Model], reason: str) -> None:
        # Sources carry no history of their own.
        Source.objects.bulk_create(records)


class SubmittedRecordImporter(Importer):
    """Reports, notices and distributions: evidence keyed by the submitter's external_id."""

    site_column: ClassVar[str] = "site_code"
    key_column = "external_id"

    def preload(self, table: Table) -> None:
        codes = {row.cells.get("site_code", "") for row in table.rows} - {""}
        self.sites = {site.code: site for site in Site.objects.filter(code__in=codes)}
        slugs = {row.cells.get("source", "") for row in table.rows} - {""}
        self.sources = {source.slug: source for source in Source.objects.filter(slug__in=slugs)}

    def existing_by_key(self, keys: set[str]) -> dict[str, models.Model]:
        records = self.model.objects.filter(organization=self.context.organization, external_id__in=keys)
        return {record.external_id: record for record in records}

    def resolve_site(self, values: dict[str, Any]) -> Site:
        code = values["site_code"]
        try:
            return self.sites[code]
        except KeyError:
            raise RowInvalid({"site_code": f"unknown site code '{code}'"}) from None

    def resolve_source(self, slug: str, grade: str = "") -> Source | None:
        """A known source, or a new one (saved only if the file is accepted)."""
        if not slug:
            return None
        if slug in self.sources:
            return self.sources[slug]
        if slug not in self.context.new_sources:
            source = Source(slug=slug, name=slug, grade=grade)
            try:
                source.full_clean(validate_unique=False, validate_constraints=False)
            except Exception:
                raise RowInvalid(
                    {"source": f"'{slug}' is not a valid source slug (letters, digits, - and _)"}
                ) from None
            self.context.new_sources[slug] = source
        return self.context.new_sources[slug]

    def new_record(self, values: dict[str, Any], row: Row) -> models.Model:
        record = self.model(organization=self.context.organization, created_by=self.context.user)
        for column in self.columns:
            if column.attr and column.name in values:
                setattr(record, column.attr, values[column.name])
        record.site = self.resolve_site(values)
        return record


class ReportImporter(SubmittedRecordImporter):
    model = PopulationReport
    reference_columns = {"site": "site_code", "source": "source"}
    columns = (
        Column("external_id", f.text, "external_id", required=True),
        Column("site_code", f.text, required=True),
        Column("as_of", f.optional_date, "as_of", required=True),
        Column("reported_on", f.optional_date, "reported_on"),
        Column("source", f.text, required=True),
        Column("source_grade", f.choice(Grade)),
        Column("method", f.choice(Method, default=Method.OTHER), "method"),
        Column("qualifier", f.choice(Qualifier), "qualifier", required=True),
        Column("value", f.optional_integer, "value"),
        Column("low", f.optional_integer, "low"),
        Column("high", f.optional_integer, "high"),
        Column("households", f.optional_integer, "households"),
        Column("female", f.optional_integer, "female"),
        Column("male", f.optional_integer, "male"),
        Column("children", f.optional_integer, "children"),
        Column("adults", f.optional_integer, "adults"),
        Column("elderly", f.optional_integer, "elderly"),
        Column("quote", f.text, "quote"),
        Column("url", f.text, "url"),
        Column("notes", f.text, "notes"),
    )

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        report = self.new_record(values, row)
        report.source = self.resolve_source(values["source"], values.get("source_grade", ""))
        return report


class NoticeImporter(SubmittedRecordImporter):
    model = DepartureNotice
    reference_columns = {"site": "site_code", "source": "source"}
    columns = (
        Column("external_id", f.text, "external_id", required=True),
        Column("site_code", f.text, required=True),
        Column("issued_on", f.optional_date, "issued_on", required=True),
        Column("issuer", f.text, "issuer", required=True),
        Column("channel", f.choice(DepartureNotice.Channel, default=DepartureNotice.Channel.OTHER), "channel"),
        Column(
            "compulsion",
            f.choice(DepartureNotice.Compulsion, default=DepartureNotice.Compulsion.UNCLEAR),
            "compulsion",
        ),
        Column("stated_reason", f.text, "stated_reason"),
        Column("support_offered", f.text, "support_offered"),
        Column("deadline", f.optional_date, "deadline"),
        Column("source", f.text),
        Column("summary", f.text, "summary"),
    )

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        notice = self.new_record(values, row)
        notice.source = self.resolve_source(values.get("source", ""))
        return notice


class DistributionImporter(SubmittedRecordImporter):
    model = AidDistribution
    reference_columns = {"site": "site_code", "source": "source", "notice": "notice_external_id"}
    columns = (
        Column("external_id", f.text, "external_id", required=True),
        Column("site_code", f.text, required=True),
        Column("distributed_on", f.optional_date, "distributed_on", required=True),
        Column("provider", f.text, "provider", required=True),
        Column("item", f.choice(AidDistribution.Item), "item", required=True),
        Column("quantity", f.optional_decimal, "quantity"),
        Column("unit", f.text, "unit"),
        Column("households", f.optional_integer, "households"),
        Column("individuals", f.optional_integer, "individuals"),
        Column("purpose", f.choice(AidDistribution.Purpose, default=AidDistribution.Purpose.GENERAL), "purpose"),
        Column("notice_external_id", f.text),
        Column("source", f.text),
        Column("notes", f.text, "notes"),
    )

    def preload(self, table: Table) -> None:
        super().preload(table)
        ids = {row.cells.get("notice_external_id", "") for row in table.rows} - {""}
        notices = DepartureNotice.objects.filter(organization=self.context.organization, external_id__in=ids)
        self.notices = {notice.external_id: notice for notice in notices}

    def build(self, values: dict[str, Any], row: Row, existing: models.Model | None) -> models.Model:
        distribution = self.new_record(values, row)
        distribution.source = self.resolve_source(values.get("source", ""))
        notice_id = values.get("notice_external_id", "")
        if notice_id:
            if notice_id not in self.notices:
                raise RowInvalid({"notice_external_id": f"no departure notice with external_id '{notice_id}'"})
            notice = self.notices[notice_id]
            if notice.site_id != distribution.site.pk:
                raise RowInvalid({"notice_external_id": f"notice '{notice_id}' is about another site"})
            distribution.notice = notice
        return distribution


IMPORTERS: dict[str, type[Importer]] = {
    "sites": SiteImporter,
    "sources": SourceImporter,
    "reports": ReportImporter,
    "notices": NoticeImporter,
    "distributions": DistributionImporter,
}
