from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from shelters.models import CountReport, PeriodKind, Scope

# Files anyone with API access may download: per-site figures (shared data).
# The document and the workbook also list other organisations' departure notices
# and distributions, so they are for staff.
PARTNER_FILES = ("csv", "hxl")


def visible_files(user) -> tuple[str, ...]:
    return tuple(CountReport.FILE_FIELDS) if user.is_staff else PARTNER_FILES


class CountReportSerializer(serializers.ModelSerializer):
    site_codes = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = CountReport
        fields = (
            "id",
            "scope",
            "governorate",
            "site_codes",
            "period_kind",
            "period_start",
            "period_end",
            "status",
            "error",
            "generated_at",
            "previous",
            "totals",
            "files",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_site_codes(self, report: CountReport) -> list[str]:
        return sorted(site.code for site in report.sites.all()) if report.scope == Scope.SITES else []

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_totals(self, report: CountReport) -> dict | None:
        return report.summary.get("totals")

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_files(self, report: CountReport) -> dict[str, str]:
        request = self.context["request"]
        return {
            name: reverse("api:count-report-file", args=[report.pk, name], request=request)
            for name in visible_files(request.user)
            if getattr(report, CountReport.FILE_FIELDS[name])
        }


class CountReportDetailSerializer(CountReportSerializer):
    summary = serializers.SerializerMethodField()

    class Meta(CountReportSerializer.Meta):
        fields = (*CountReportSerializer.Meta.fields, "summary")
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_summary(self, report: CountReport) -> dict:
        summary = dict(report.summary)
        if not self.context["request"].user.is_staff and summary:
            # Other organisations' notices, distributions and raw reports: counted, not listed.
            summary["notices"] = {k: v for k, v in summary.get("notices", {}).items() if k != "notices"}
            summary["aid"] = {k: v for k, v in summary.get("aid", {}).items() if k != "distributions"}
            summary["site_charts"] = [
                {k: v for k, v in chart.items() if k != "reports"} for chart in summary.get("site_charts", [])
            ]
        return summary


class CountReportRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Scope.choices, default=Scope.ALL)
    governorate = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    site_codes = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    period_kind = serializers.ChoiceField(choices=PeriodKind.choices, default=PeriodKind.DAY)
    day = serializers.DateField(help_text="The day reported on; for a week, any day of that week.")

    def validate(self, attrs: dict) -> dict:
        if attrs["scope"] == Scope.GOVERNORATE and not attrs["governorate"]:
            raise serializers.ValidationError({"governorate": ["A governorate scope needs the governorate's name."]})
        if attrs["scope"] == Scope.SITES and not attrs["site_codes"]:
            raise serializers.ValidationError({"site_codes": ["Name at least one site."]})
        return attrs
