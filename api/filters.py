import math

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from shelters.models import AidDistribution, DepartureNotice, PopulationReport, Site

# Query parameters that are not filters: pagination, ordering, the rendering.
NOT_FILTERS = frozenset({"page", "page_size", "ordering", "format"})


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request has no filter parameter at all.

    Building the filter form costs a sixth of a page of the sites list, and
    with nothing to filter it returns the queryset unchanged anyway.
    """

    def filter_queryset(self, request, queryset, view):
        if NOT_FILTERS.issuperset(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)


class BoundingBoxField(forms.CharField):
    """Validated in the filter form, so a bad box is a 400 naming ``bbox``."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            west, south, east, north = (float(part) for part in value.split(","))
        except ValueError:
            raise ValidationError("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
        if not all(math.isfinite(v) for v in (west, south, east, north)) or west > east or south > north:
            raise ValidationError("bbox must give finite numbers, the minimum before the maximum")
        return west, south, east, north


@extend_schema_field(OpenApiTypes.STR)
class BoundingBoxFilter(django_filters.Filter):
    """``bbox=min_lon,min_lat,max_lon,max_lat`` (the GeoJSON order)."""

    field_class = BoundingBoxField

    def filter(self, queryset: QuerySet, value) -> QuerySet:
        if not value:
            return queryset
        west, south, east, north = value
        return queryset.filter(longitude__gte=west, longitude__lte=east, latitude__gte=south, latitude__lte=north)


class SiteFilter(django_filters.FilterSet):
    governorate = django_filters.CharFilter(lookup_expr="iexact")
    district = django_filters.CharFilter(lookup_expr="iexact")
    bbox = BoundingBoxFilter(label="min_lon,min_lat,max_lon,max_lat")

    class Meta:
        model = Site
        fields = ("governorate", "district", "status", "site_type")


class SubmittedFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code", label="site code")
    source = django_filters.CharFilter(field_name="source__slug", label="source slug")
    external_id = django_filters.CharFilter()


class ReportFilter(SubmittedFilter):
    start = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")

    class Meta:
        model = PopulationReport
        fields = ("status", "qualifier", "method")


class NoticeFilter(SubmittedFilter):
    start = django_filters.DateFilter(field_name="issued_on", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="issued_on", lookup_expr="lte")

    class Meta:
        model = DepartureNotice
        fields = ("compulsion", "channel")


class DistributionFilter(SubmittedFilter):
    start = django_filters.DateFilter(field_name="distributed_on", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="distributed_on", lookup_expr="lte")

    class Meta:
        model = AidDistribution
        fields = ("item", "purpose")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's BooleanFilter ignores it)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("choices", (("true", "true"), ("false", "false")))
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)
