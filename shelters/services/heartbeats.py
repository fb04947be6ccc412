import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shelters.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


@transaction.atomic
def heartbeat_record(*, worker: str, token: str = "") -> WorkerHeartbeat:
    now = timezone.now()
    # One conditional UPDATE, so two deliveries of the same beat never conflict.
    updated = WorkerHeartbeat.objects.filter(worker=worker).update(
        last_seen=now, beats=F("beats") + 1, last_token=token
    )
    if not updated:
        WorkerHeartbeat.objects.get_or_create(
            worker=worker, defaults={"last_seen": now, "beats": 1, "last_token": token}
        )
    logger.info("heartbeat from %s", worker)
    return WorkerHeartbeat.objects.get(worker=worker)
