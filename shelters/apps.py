from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SheltersConfig(AppConfig):
    name = "shelters"
    verbose_name = _("Shelters")

    def ready(self) -> None:
        from celery.signals import task_failure

        from shelters.services.failed_tasks import on_task_failure

        # A task that fails after its retries is set aside (FailedTask) for staff to see.
        task_failure.connect(on_task_failure, weak=False, dispatch_uid="shelters.failed_tasks")
