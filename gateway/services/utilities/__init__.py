"""水电气网联动过户: utility account-transfer jobs after 登簿 — delivery, provider answers, the case's view."""

from gateway.services.utilities.delivery import UtilityDeliveries, provider_actor, transfer_job
from gateway.services.utilities.providers import (
    Acknowledgement,
    AcknowledgementResult,
    FetchedJob,
    OpenJob,
    OpenJobs,
    acknowledge,
    fetch_job,
    open_jobs,
)
from gateway.services.utilities.state import JobRef, advance
from gateway.services.utilities.views import (
    CaseUtilities,
    KnownAccount,
    KnownAccounts,
    UtilityJobView,
    case_utilities,
    known_accounts,
)

__all__ = [
    "Acknowledgement",
    "AcknowledgementResult",
    "CaseUtilities",
    "FetchedJob",
    "JobRef",
    "KnownAccount",
    "KnownAccounts",
    "OpenJob",
    "OpenJobs",
    "UtilityDeliveries",
    "UtilityJobView",
    "acknowledge",
    "advance",
    "case_utilities",
    "fetch_job",
    "known_accounts",
    "open_jobs",
    "provider_actor",
    "transfer_job",
]
