"""The partner REST API. Endpoints under /api/v1/ arrive with the API issue."""

app_name = "api"
urlpatterns: list = []
