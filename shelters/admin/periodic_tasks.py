"""django-celery-beat's periodic tasks, with their schedules described in the staff's language.

Each count report schedule links to its periodic task. django-celery-beat
describes a crontab with cron-descriptor, which knows no Arabic ("At 06:00 AM
UTC"), under a label it never marks for translation; its script that would
hide that row is inline, which our Content-Security-Policy blocks. So the
schedules count reports use (a time of day, every day or on some weekdays) are
described here from our catalogue; anything else keeps cron-descriptor's text.
"""

import re

from django.contrib import admin
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import CrontabSchedule, PeriodicTask

admin.site.unregister(PeriodicTask)

_NUMBER = re.compile(r"^\d{1,2}$")
_DAYS = re.compile(r"^[0-7](,[0-7])*$")


def describe_crontab(crontab: CrontabSchedule | None) -> str:
    """'Every day at 06:00 (UTC)', 'Every week on Monday at 06:00 (UTC)', translated; cron-descriptor otherwise."""
    if crontab is None:
        return "-"
    every_day_of_month = crontab.day_of_month == "*" and crontab.month_of_year == "*"
    days = crontab.day_of_week
    if not (_NUMBER.match(crontab.minute) and _NUMBER.match(crontab.hour) and every_day_of_month):
        return crontab.human_readable
    if not (days == "*" or _DAYS.match(days)):
        return crontab.human_readable
    minute, hour = int(crontab.minute), int(crontab.hour)
    if minute > 59 or hour > 23:
        return crontab.human_readable
    values = {"time": f"{hour:02d}:{minute:02d}", "timezone": str(crontab.timezone)}
    # cron counts weekdays from Sunday (0 or 7), Django's names from Monday (0).
    numbers = sorted({int(day) % 7 for day in days.split(",")}) if days != "*" else list(range(7))
    if len(numbers) == 7:
        return gettext("Every day at %(time)s (%(timezone)s)") % values
    separator = gettext(", ")  # Arabic lists with "، "
    names = separator.join(str(WEEKDAYS[(number - 1) % 7]) for number in numbers)
    return gettext("Every week on %(days)s at %(time)s (%(timezone)s)") % {**values, "days": names}


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    @admin.display(description=_("schedule in words"))
    def crontab_translation(self, task: PeriodicTask) -> str:
        return describe_crontab(task.crontab)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The page's script (when a policy lets it run) shows these beside the chosen crontab;
        # the package's own view would first build the same dict in cron-descriptor's English.
        readable = {crontab.id: describe_crontab(crontab) for crontab in CrontabSchedule.objects.all()}
        extra_context = {**(extra_context or {}), "readable_crontabs": readable}
        return admin.ModelAdmin.changeform_view(self, request, object_id, form_url, extra_context)
