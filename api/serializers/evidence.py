"""Reports, notices and distributions: the fields of the interchange files.

Server-owned fields (status, engine weight, outlier flag, submitting
organisation, who and when) are read-only: sent values are ignored.
"""

from django.conf import settings
from rest_framework import serializers

from shelters.models import AidDistribution, DepartureNotice, Grade, PopulationReport

BREAKDOWN_FIELDS = ("female", "male", "children", "adults", "elderly")


class SiteCodeField(serializers.CharField):
    """Written as a site code; the service resolves it (for a whole batch at once)."""

    def get_attribute(self, instance) -> str:
        return instance.site.code


class SourceSlugField(serializers.CharField):
    def get_attribute(self, instance) -> str:
        return instance.source.slug if instance.source_id else ""


class NoticeExternalIdField(serializers.CharField):
    def get_attribute(self, instance) -> str:
        return instance.notice.external_id if instance.notice_id else ""


class SubmittedSerializer(serializers.ModelSerializer):
    site_code = SiteCodeField(max_length=64)
    source = SourceSlugField(max_length=64, required=False, allow_blank=True)
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)


class ReportSerializer(SubmittedSerializer):
    source = SourceSlugField(max_length=64)
    source_grade = serializers.ChoiceField(
        choices=Grade.choices,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Grade for a source this request names for the first time; ignored for known sources.",
    )
    suppressed = serializers.SerializerMethodField(help_text="Breakdown cells withheld as too small to share.")
    engine_weight = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Its weight in the site's estimates; null if it does not count."
    )
    is_outlier = serializers.BooleanField(read_only=True, help_text="Out of line with the rest: it counts less.")

    class Meta:
        model = PopulationReport
        fields = (
            "id",
            "external_id",
            "site_code",
            "as_of",
            "reported_on",
            "source",
            "source_grade",
            "method",
            "qualifier",
            "value",
            "low",
            "high",
            "households",
            *BREAKDOWN_FIELDS,
            "suppressed",
            "quote",
            "url",
            "notes",
            "status",
            "status_reason",
            "engine_weight",
            "is_outlier",
            "corrects",
            "organization",
            "created_at",
        )
        read_only_fields = (
            "id",
            "status",
            "status_reason",
            "engine_weight",
            "is_outlier",
            "corrects",
            "organization",
            "created_at",
        )

    def get_suppressed(self, report: PopulationReport) -> list[str]:
        return []  # filled in by to_representation when cells are withheld

    def to_representation(self, report: PopulationReport):
        data = super().to_representation(report)
        viewer = self.context.get("request").user if self.context.get("request") else None
        # A breakdown shown outside the submitting organisation (to coordination
        # staff of another organisation) hides small cells: they can identify people.
        if viewer is not None and viewer.organization_id != report.organization_id:
            threshold = settings.API_SMALL_CELL_THRESHOLD
            hidden = [f for f in BREAKDOWN_FIELDS if data.get(f) is not None and data[f] < threshold]
            for field in hidden:
                data[field] = None
            data["suppressed"] = hidden
        return data


class RetractSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class NoticeSerializer(SubmittedSerializer):
    class Meta:
        model = DepartureNotice
        fields = (
            "id",
            "external_id",
            "site_code",
            "issued_on",
            "issuer",
            "channel",
            "compulsion",
            "stated_reason",
            "support_offered",
            "deadline",
            "source",
            "summary",
            "verification",
            "organization",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "verification", "organization", "created_at", "updated_at")


class DistributionSerializer(SubmittedSerializer):
    notice_external_id = NoticeExternalIdField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = AidDistribution
        fields = (
            "id",
            "external_id",
            "site_code",
            "distributed_on",
            "provider",
            "item",
            "quantity",
            "unit",
            "households",
            "individuals",
            "purpose",
            "notice_external_id",
            "source",
            "notes",
            "organization",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "organization", "created_at", "updated_at")
