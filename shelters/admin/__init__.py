from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registers the model admins)
    count_reports,
    evidence,
    failed_tasks,
    periodic_tasks,
    reference,
    reports,
    reviews,
    sites,
)

admin.site.site_header = _("Shelter tracking")
admin.site.site_title = _("Shelter tracking")
admin.site.index_title = _("Sites, reports and estimates")
# The index opens with the overview: totals, sites by status, what needs attention.
admin.site.index_template = "admin/shelters_index.html"
