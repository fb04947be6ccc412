"""Cached pages of the sites list, the read partner dashboards poll most.

A page's data (not its rendering: JSON, GeoJSON and the browsable API share
it) is kept under the sites version, which every change to a site or to a
latest estimate bumps after commit (``shelters.services.versions``), and for
at most ``SITES_LIST_CACHE_SECONDS`` besides. Only successful pages are kept;
a bad filter is answered afresh every time.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request

from shelters.services.versions import sites_version


def cached_sites_page(request: Request, build: Callable[[], dict]) -> dict:
    seconds = settings.SITES_LIST_CACHE_SECONDS
    if not seconds:
        return build()
    # The absolute URL: the page's next/previous links carry the host it was asked on.
    url = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
    key = f"sites-page:{sites_version()}:{url}"
    data = cache.get(key)
    if data is None:
        data = build()
        cache.set(key, data, seconds)
    return data
