"""The events a partner can subscribe to. A fixed set: adding one is a code
change (and a migration, since deliveries are checked against it)."""

from typing import Final

REPORT_CREATED: Final = "report.created"
REPORT_UPDATED: Final = "report.updated"
REPORT_RETRACTED: Final = "report.retracted"
ESTIMATE_CHANGED: Final = "estimate.changed"
COUNT_REPORT_READY: Final = "count_report.ready"

EVENTS: Final[tuple[str, ...]] = (
    REPORT_CREATED,
    REPORT_UPDATED,
    REPORT_RETRACTED,
    ESTIMATE_CHANGED,
    COUNT_REPORT_READY,
)
EVENT_CHOICES: Final = [(event, event) for event in EVENTS]
