"""Count reports: listed and downloaded by everyone with API access, asked for by staff."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import StaffWritesOthersRead
from api.serializers.count_reports import (
    CountReportDetailSerializer,
    CountReportRequestSerializer,
    CountReportSerializer,
    visible_files,
)
from shelters.models import CountReport, Site
from shelters.services.count_reports import count_report_request, period_containing


class CountReportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = (StaffWritesOthersRead,)
    queryset = CountReport.objects.prefetch_related("sites")
    filterset_fields = ("status", "scope", "governorate", "period_kind", "schedule")
    ordering_fields = ("period_end", "generated_at", "id")
    ordering = ("-period_end", "-id")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CountReportDetailSerializer
        if self.action == "create":
            return CountReportRequestSerializer
        return CountReportSerializer

    @extend_schema(request=CountReportRequestSerializer, responses={202: CountReportSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Ask for a report (staff); it is generated in the background, ``status`` says when it is ready."""
        serializer = CountReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        codes = set(data["site_codes"])
        sites = dict(Site.objects.filter(code__in=codes).values_list("code", "pk"))
        if unknown := sorted(codes - set(sites)):
            raise ValidationError({"site_codes": [f"Unknown site code(s): {', '.join(unknown)}."]})
        try:
            report, _ = count_report_request(
                period=period_containing(data["period_kind"], data["day"]),
                scope=data["scope"],
                governorate=data["governorate"],
                site_ids=sites.values(),
                by=request.user,
            )
        except ValueError as error:  # a week past the calendar's end
            raise ValidationError({"day": [str(error)]}) from None
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        output = CountReportSerializer(report, context=self.get_serializer_context()).data
        return Response(output, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(CountReport.FILE_FIELDS))],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), 404: None},
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<fmt>[a-z]+)", url_name="file")
    def file(self, request: Request, pk=None, fmt: str = "") -> FileResponse:
        """One of the report's files (partners: the CSV and HXL CSV of per-site figures)."""
        report = self.get_object()
        field = CountReport.FILE_FIELDS.get(fmt)
        if field is None or fmt not in visible_files(request.user) or not getattr(report, field):
            raise Http404
        file = getattr(report, field)
        return FileResponse(file.open("rb"), as_attachment=True, filename=file.name.rsplit("/", 1)[-1])
