"""OpenAPI extensions: how the schema describes the project's own classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An organisation\'s API token, sent as "Token <token>".',
        }


def allow_empty_query_parameters(result: dict, generator, request, public) -> dict:
    """Every query parameter of this API treats an empty value as "not given"
    (``?start=`` filters nothing); the schema says so."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
    return result
