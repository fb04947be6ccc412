from .count_reports import CountReport, CountReportSchedule, CountReportSite, PeriodKind, Scope
from .distributions import AidDistribution
from .estimates import PopulationEstimate
from .failed_tasks import FailedTask
from .heartbeats import WorkerHeartbeat
from .notices import DepartureNotice
from .organizations import Organization, User
from .reconciliation import ReconciliationState, SourceReliability
from .reports import COUNTING_STATUSES, Method, PopulationReport, Qualifier, ReportAssessment, ReportStatus
from .reviews import ReviewComment, ReviewItem, ReviewKind, ReviewStatus
from .sites import Site
from .sources import Grade, Source

__all__ = [
    "COUNTING_STATUSES",
    "AidDistribution",
    "CountReport",
    "CountReportSchedule",
    "CountReportSite",
    "DepartureNotice",
    "FailedTask",
    "Grade",
    "Method",
    "Organization",
    "PeriodKind",
    "PopulationEstimate",
    "PopulationReport",
    "Qualifier",
    "ReconciliationState",
    "ReportAssessment",
    "ReportStatus",
    "ReviewComment",
    "ReviewItem",
    "ReviewKind",
    "ReviewStatus",
    "Scope",
    "Site",
    "Source",
    "SourceReliability",
    "User",
    "WorkerHeartbeat",
]
