from django.utils import translation


class UserLanguageMiddleware:
    """The signed-in person's chosen language (User.language) wins over the browser's.

    Placed after AuthenticationMiddleware. API requests authenticate with tokens
    inside DRF, after this runs, so the API keeps its one language.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
