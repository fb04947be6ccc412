from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """A request budget per API token (per user for session logins)."""

    scope = "token"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # the anonymous throttle applies instead
        token = getattr(request, "auth", None)
        ident = getattr(token, "token_key", None) or f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
