"""Reports, notices and distributions: scoped to the caller's organisation,
created one at a time or in bulk (all or nothing), idempotent with a key."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.conditional import PreconditionFailed, check_if_match, etag_for
from api.exports import EXPORT_RESPONSES, FORMATS, file_response, requested_format
from api.filters import DistributionFilter, NoticeFilter, ReportFilter
from api.idempotency import HEADER, idempotent
from api.permissions import CanSubmit
from api.serializers.evidence import DistributionSerializer, NoticeSerializer, ReportSerializer, RetractSerializer
from shelters.exporting import REPORTS
from shelters.models import AidDistribution, DepartureNotice, PopulationReport
from shelters.selectors.scoping import distributions_for, notices_for, reports_for
from shelters.services.errors import StaleRecord
from shelters.services.evidence import record_update
from shelters.services.organizations import organization_for
from shelters.services.reports import report_retract
from shelters.services.submissions import SubmissionInvalid, records_create_many

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False, description="Makes a retried POST safe: replays its response."
)


class BulkCreateMixin:
    """POST one object, or a list of up to API_MAX_BULK_ITEMS: validated whole, saved all or none."""

    model: type

    def create(self, request: Request, *args, **kwargs) -> Response:
        return idempotent(self._create_or_problem, request)

    def _create_or_problem(self, request: Request) -> Response:
        # Errors become responses here, inside the idempotency wrapper, so that a
        # replay of a refused request gets the same answer; the transaction makes
        # sure nothing is kept from a request that failed half-way.
        try:
            with transaction.atomic():
                return self._create(request)
        except Exception as exc:
            return self.handle_exception(exc)

    def _create(self, request: Request) -> Response:
        many = isinstance(request.data, list)
        items = request.data if many else [request.data]
        if many and not items:
            raise ValidationError({"non_field_errors": ["Send at least one item."]})
        if len(items) > settings.API_MAX_BULK_ITEMS:
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"At most {settings.API_MAX_BULK_ITEMS} items per request; send {len(items)} in parts."
                    ]
                }
            )
        serializer = self.get_serializer(data=items, many=True)
        if not serializer.is_valid():
            raise ValidationError(serializer.errors if many else serializer.errors[0])
        try:
            records = records_create_many(
                model=self.model,
                organization=organization_for(request.user),
                created_by=request.user,
                items=[dict(item) for item in serializer.validated_data],
            )
        except SubmissionInvalid as invalid:
            errors = {str(index): fields for index, fields in invalid.errors.items()} if many else invalid.errors[0]
            raise ValidationError(errors) from None
        output = self.get_serializer(records, many=True).data
        return Response(output if many else output[0], status=status.HTTP_201_CREATED)


class ConditionalUpdateMixin:
    """PATCH/PUT need If-Match with the record's current ETag (428 without, 412 if stale)."""

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag_for(instance)
        return response

    def update(self, request: Request, *args, **kwargs) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()  # scoped: another organisation's record is a 404 first
        check_if_match(request, instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        for reference in ("site_code", "source", "notice_external_id", "external_id"):
            if reference in fields and fields.pop(reference) != getattr(self, f"_current_{reference}")(instance):
                raise ValidationError({reference: ["This cannot be changed; submit a new record instead."]})
        try:
            instance = record_update(
                record=instance, by=request.user, fields=fields, expected_updated_at=instance.updated_at
            )
        except StaleRecord:
            raise PreconditionFailed() from None
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag_for(instance)
        return response

    @staticmethod
    def _current_site_code(instance) -> str:
        return instance.site.code

    @staticmethod
    def _current_source(instance) -> str:
        return instance.source.slug if instance.source_id else ""

    @staticmethod
    def _current_notice_external_id(instance) -> str:
        return instance.notice.external_id if getattr(instance, "notice_id", None) else ""

    @staticmethod
    def _current_external_id(instance) -> str:
        return instance.external_id


@extend_schema(parameters=[IDEMPOTENCY_PARAMETER], methods=["POST"])
class ReportViewSet(BulkCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Population reports. Never changed once submitted: retract one (with a reason)
    and submit a corrected report under a new external_id."""

    model = PopulationReport
    serializer_class = ReportSerializer
    permission_classes = (CanSubmit,)
    filterset_class = ReportFilter
    ordering_fields = ("as_of", "created_at", "id")
    ordering = ("id",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model.objects.none()
        return reports_for(self.request.user).select_related("site", "source", "organization", "assessment")

    @extend_schema(request=ReportSerializer(many=True), responses={201: ReportSerializer(many=True)})
    def create(self, request: Request, *args, **kwargs) -> Response:
        return super().create(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=list(FORMATS), description="csv (default), hxl or xlsx")],
        responses=EXPORT_RESPONSES,
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request: Request) -> StreamingHttpResponse | FileResponse:
        """Every report the caller may see (filters apply), as a file, streamed."""
        wanted = requested_format(request)
        reports = self.filter_queryset(self.get_queryset()).order_by("id")
        rows = reports.values_list(
            "external_id",
            "site__code",
            "as_of",
            "reported_on",
            "source__slug",
            "source__grade",
            "method",
            "qualifier",
            "value",
            "low",
            "high",
            "quote",
            "status",
        ).iterator(chunk_size=5000)
        return file_response(REPORTS, rows, wanted=wanted, name="population-reports")

    @extend_schema(request=RetractSerializer, responses={200: ReportSerializer})
    @action(detail=True, methods=["post"])
    def retract(self, request: Request, pk: str | None = None) -> Response:
        report = self.get_object()  # another organisation's report: 404
        reason = RetractSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        try:
            report = report_retract(report=report, by=request.user, reason=reason.validated_data["reason"])
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from None
        return Response(self.get_serializer(report).data)


class _EvidenceViewSet(
    BulkCreateMixin,
    ConditionalUpdateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = (CanSubmit,)
    ordering = ("id",)


@extend_schema(parameters=[IDEMPOTENCY_PARAMETER], methods=["POST"])
class NoticeViewSet(_EvidenceViewSet):
    model = DepartureNotice
    serializer_class = NoticeSerializer
    filterset_class = NoticeFilter
    ordering_fields = ("issued_on", "id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model.objects.none()
        return notices_for(self.request.user).select_related("site", "source", "organization")


@extend_schema(parameters=[IDEMPOTENCY_PARAMETER], methods=["POST"])
class DistributionViewSet(_EvidenceViewSet):
    model = AidDistribution
    serializer_class = DistributionSerializer
    filterset_class = DistributionFilter
    ordering_fields = ("distributed_on", "id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.model.objects.none()
        return distributions_for(self.request.user).select_related("site", "source", "organization", "notice")


__all__ = ["DistributionViewSet", "NoticeViewSet", "ReportViewSet", "serializers"]
