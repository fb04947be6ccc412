from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@extend_schema(
    responses=inline_serializer(
        "WhoAmI",
        {"username": serializers.CharField(), "organization": serializers.CharField(allow_null=True)},
    )
)
@api_view(["GET"])
def whoami(request: Request) -> Response:
    """Who this token belongs to: the quickest check that an integration is set up right."""
    organization = request.user.organization
    return Response({"username": request.user.username, "organization": organization.slug if organization else None})
