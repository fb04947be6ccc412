"""Sites (with their estimates), sources and organisations."""

from datetime import date

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.caching import cached_sites_page
from api.conditional import PreconditionFailed, check_if_match, etag_for
from api.exports import EXPORT_RESPONSES, FORMATS, file_response, requested_format
from api.filters import SiteFilter
from api.permissions import StaffWritesOthersRead
from api.renderers import GeoJSONRenderer
from api.serializers.sites import (
    SITE_ROW_FIELDS,
    EstimateSerializer,
    LatestEstimateSerializer,
    OrganizationSerializer,
    SiteSerializer,
    SourceSerializer,
    site_row,
)
from shelters.exporting import ESTIMATES
from shelters.models import Organization, Site, Source
from shelters.selectors.estimates import estimates_between, with_latest_estimate
from shelters.selectors.scoping import organizations_for
from shelters.services.errors import StaleRecord
from shelters.services.sites import site_save


def _date_param(request: Request, name: str) -> date | None:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: [f"'{text}' is not a date in YYYY-MM-DD form."]}) from None


class SiteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Sites, each with its latest reconciled estimate. Partners read; staff write.

    Add ``?format=geojson`` (or ``Accept: application/geo+json``) for a GeoJSON
    FeatureCollection of the same page.
    """

    serializer_class = SiteSerializer
    permission_classes = (StaffWritesOthersRead,)
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer, GeoJSONRenderer)
    filterset_class = SiteFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    ordering_fields = ("code", "name", "latest_estimate")
    ordering = ("code",)

    def get_queryset(self):
        return with_latest_estimate(Site.objects.all())

    def list(self, request: Request, *args, **kwargs) -> Response:
        # The busiest read partners make: rows straight from the database as
        # dicts, shaped exactly as SiteSerializer shapes one site (the schema),
        # without building and serializing a model instance per row.
        def page_data() -> dict:
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).values(*SITE_ROW_FIELDS))
            return self.get_paginated_response([site_row(values) for values in page]).data

        return Response(cached_sites_page(request, page_data))

    def get_renderers(self):
        # GeoJSON (?format=geojson) is a second rendering of the same data; the
        # schema documents the JSON one, which it describes exactly.
        if getattr(self, "swagger_fake_view", False):
            return [JSONRenderer()]
        return super().get_renderers()

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        site = self.get_object()
        response = Response(self.get_serializer(site).data)
        response["ETag"] = etag_for(site)
        return response

    def perform_create(self, serializer) -> None:
        serializer.instance = site_save(site=Site(**serializer.validated_data), by=self.request.user)

    def update(self, request: Request, *args, **kwargs) -> Response:
        site = self.get_object()
        check_if_match(request, site)
        read_at = site.updated_at
        serializer = self.get_serializer(site, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        if "code" in serializer.validated_data and serializer.validated_data["code"] != site.code:
            raise ValidationError({"code": ["A site's code is stable and cannot change."]})
        for name, value in serializer.validated_data.items():
            setattr(site, name, value)
        try:
            site = site_save(site=site, by=request.user, expected_updated_at=read_at)
        except StaleRecord:
            raise PreconditionFailed() from None
        site = self.get_queryset().get(pk=site.pk)
        response = Response(self.get_serializer(site).data)
        response["ETag"] = etag_for(site)
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("start", date, description="first day (inclusive)"),
            OpenApiParameter("end", date, description="last day (inclusive)"),
        ],
        responses={200: EstimateSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        filterset_class=None,
        renderer_classes=[JSONRenderer, BrowsableAPIRenderer],
    )
    def estimates(self, request: Request, code: str | None = None) -> Response:
        """The site's daily estimates with their 90 % band and flags."""
        site = self.get_object()
        start, end = _date_param(request, "start"), _date_param(request, "end")
        if start and end and start > end:
            raise ValidationError({"start": ["start is after end."]})
        rows = estimates_between(site=site, start=start, end=end)
        return Response(EstimateSerializer(rows, many=True).data)


class LatestEstimateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The latest estimate of every site, one page at a time."""

    serializer_class = LatestEstimateSerializer
    filterset_class = SiteFilter
    ordering = ("code",)

    def get_queryset(self):
        return with_latest_estimate(Site.objects.all()).filter(latest_date__isnull=False)

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = [
            {
                "site_code": site.code,
                "date": site.latest_date,
                "estimate": site.latest_estimate,
                "low": site.latest_low,
                "high": site.latest_high,
                "flags": site.latest_flags,
            }
            for site in page
        ]
        return self.get_paginated_response(rows)


class EstimateExportViewSet(viewsets.GenericViewSet):
    """Daily estimates of every site (or one), as a file, streamed."""

    pagination_class = None
    filter_backends = ()

    @extend_schema(
        parameters=[
            OpenApiParameter("as", str, enum=list(FORMATS), description="csv (default), hxl or xlsx"),
            OpenApiParameter("site", str, description="one site code"),
            OpenApiParameter("start", date),
            OpenApiParameter("end", date),
        ],
        responses=EXPORT_RESPONSES,
    )
    def list(self, request: Request) -> StreamingHttpResponse | FileResponse:
        wanted = requested_format(request)
        start, end = _date_param(request, "start"), _date_param(request, "end")
        site = None
        if code := request.query_params.get("site"):
            site = Site.objects.filter(code=code).first()
            if site is None:
                raise ValidationError({"site": [f"Unknown site code '{code}'."]})
        rows = (
            estimates_between(site=site, start=start, end=end)
            .values_list("site__code", "date", "estimate", "low", "high", "flags")
            .iterator(chunk_size=5000)
        )
        return file_response(ESTIMATES, rows, wanted=wanted, name="estimates")


class SourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = SourceSerializer
    permission_classes = (StaffWritesOthersRead,)
    queryset = Source.objects.all()
    lookup_field = "slug"
    filterset_fields = ("grade", "kind")
    ordering = ("slug",)


class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OrganizationSerializer
    lookup_field = "slug"
    ordering = ("slug",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Organization.objects.none()
        return organizations_for(self.request.user)
