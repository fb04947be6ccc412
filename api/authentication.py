from knox.auth import TokenAuthentication as KnoxTokenAuthentication


class TokenAuthentication(KnoxTokenAuthentication):
    """``Authorization: Token <token>``: per-user tokens, stored hashed, with an expiry,
    revocable in the admin (knox). Named here so the OpenAPI schema and settings
    refer to the project's class, not the library's."""
