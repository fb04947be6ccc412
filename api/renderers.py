from rest_framework.renderers import JSONRenderer


class GeoJSONRenderer(JSONRenderer):
    """Sites as a GeoJSON FeatureCollection: ``?format=geojson`` or ``Accept: application/geo+json``.

    Pagination stays in the collection's foreign members (count, next, previous).
    """

    media_type = "application/geo+json"
    format = "geojson"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            return super().render(data, accepted_media_type, renderer_context)
        if isinstance(data, dict) and "results" in data:
            sites, extra = data["results"], {k: data[k] for k in ("count", "next", "previous") if k in data}
        elif isinstance(data, list):
            sites, extra = data, {}
        else:
            return super().render(_feature(data), accepted_media_type, renderer_context)
        collection = {"type": "FeatureCollection", "features": [_feature(site) for site in sites], **extra}
        return super().render(collection, accepted_media_type, renderer_context)


def _feature(site: dict) -> dict:
    properties = {key: value for key, value in site.items() if key not in ("latitude", "longitude")}
    geometry = None
    if site.get("latitude") is not None and site.get("longitude") is not None:
        geometry = {"type": "Point", "coordinates": [float(site["longitude"]), float(site["latitude"])]}
    return {"type": "Feature", "id": site.get("code"), "geometry": geometry, "properties": properties}
