"""Versions of derived reads, bumped when what they show changes.

Cached copies (the API's sites list pages) are keyed by a version; a write
bumps it once its transaction commits, so a cached page can never outlive the
data it shows. A page read while the write was in flight is stored under the
old version and simply never asked for again.
"""

import logging
import time

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

SITES = "version:sites"


def sites_version() -> int:
    """The current version of "sites and their latest estimates"."""
    version = cache.get(SITES)
    if version is None:
        # Started from the clock, not 1: if the key is evicted, a restart at 1
        # could meet pages cached under an earlier 1.
        cache.add(SITES, time.time_ns(), timeout=None)
        version = cache.get(SITES, 0)
    return version


def sites_changed() -> None:
    """Sites or their latest estimates change in this transaction: new version after commit."""
    transaction.on_commit(_bump_sites, robust=True)


def _bump_sites() -> None:
    try:
        cache.incr(SITES)
    except ValueError:  # no version yet (or evicted): start one
        sites_version()
    except Exception:  # the cache is down: pages expire on their own (SITES_LIST_CACHE_SECONDS)
        logger.exception("could not bump the sites version")
