"""The admin dashboard's figures, computed when the admin index renders."""

from django import template

from shelters.selectors.overview import dashboard_summary as _dashboard_summary

register = template.Library()


@register.simple_tag
def dashboard_summary() -> dict:
    return _dashboard_summary()
