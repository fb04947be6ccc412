"""Template filters for people counts."""

from django import template

register = template.Library()


@register.filter
def signed(value: int | None) -> str:
    """A change with its sign and thousands separators: +1,234, −567 (a true minus), 0."""
    if value is None or value == "":
        return ""
    value = int(value)
    if value > 0:
        return f"+{value:,}"
    if value < 0:
        return f"\u2212{-value:,}"
    return "0"
