from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    # Capped: no request can ask the database for an unbounded page.
    max_page_size = 500

    def get_page_size(self, request) -> int:
        text = request.query_params.get(self.page_size_query_param, "")
        if text and not (text.isdigit() and int(text) > 0):
            # DRF would quietly fall back to the default; a typo deserves an answer.
            raise ValidationError({self.page_size_query_param: ["A positive whole number is required."]})
        return super().get_page_size(request)
