"""The two schedules every installation starts with: all sites daily at 06:00 UTC, and weekly on Monday."""

import json

from django.db import migrations

TASK = "shelters.tasks.run_count_report_schedule"
DEFAULTS = [
    # name, period kind, crontab day of week
    ("Daily count, all sites", "day", "*"),
    ("Weekly count, all sites", "week", "1"),
]


def create_schedules(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CountReportSchedule = apps.get_model("shelters", "CountReportSchedule")
    for name, period_kind, day_of_week in DEFAULTS:
        if CountReportSchedule.objects.filter(name=name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute="0", hour="6", day_of_week=day_of_week, day_of_month="*", month_of_year="*", timezone="UTC"
        )
        task = PeriodicTask.objects.create(name=f"Count report: {name}", task=TASK, crontab=crontab)
        schedule = CountReportSchedule.objects.create(name=name, period_kind=period_kind, periodic_task=task)
        task.kwargs = json.dumps({"schedule_id": schedule.pk})
        task.save(update_fields=["kwargs"])


def remove_schedules(apps, schema_editor) -> None:
    CountReportSchedule = apps.get_model("shelters", "CountReportSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for schedule in CountReportSchedule.objects.filter(name__in=[name for name, _, _ in DEFAULTS]):
        task_id = schedule.periodic_task_id
        schedule.delete()
        PeriodicTask.objects.filter(pk=task_id).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("shelters", "0006_count_reports"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
