from .distributions import AidDistribution
from .estimates import PopulationEstimate
from .heartbeats import WorkerHeartbeat
from .notices import DepartureNotice
from .organizations import Organization, User
from .reconciliation import ReconciliationState, SourceReliability
from .reports import COUNTING_STATUSES, Method, PopulationReport, Qualifier, ReportStatus
from .sites import Site
from .sources import Grade, Source

__all__ = [
    "COUNTING_STATUSES",
    "AidDistribution",
    "DepartureNotice",
    "Grade",
    "Method",
    "Organization",
    "PopulationEstimate",
    "PopulationReport",
    "Qualifier",
    "ReconciliationState",
    "ReportStatus",
    "Site",
    "Source",
    "SourceReliability",
    "User",
    "WorkerHeartbeat",
]
