"""Providers that collect their jobs themselves over the gateway's API (list, fetch, acknowledge)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from adapters.base import AdapterContext, AdapterSettings, load_party_certificate
from gateway.ports.utilities import DeliveryStyle, UtilityOutcome, UtilityTransferJob


class PullSettings(AdapterSettings):
    # How long a job waits to be collected before the outbox looks at it again; after the retry schedule
    # it is dead-lettered ("never collected") for an operator, who may replay it.
    collect_within_seconds: float = Field(default=6 * 3600, gt=0)


class PullProvider:
    """Nothing is sent: the job is offered on `/api/v1/utility-jobs` until the provider acknowledges it.

    The provider's certificate is still checked at start-up: it is what its signed requests are verified
    against, and a provider without a valid one could never collect anything.
    """

    Settings: ClassVar[type[PullSettings]] = PullSettings

    def __init__(self, party: str, settings: PullSettings, context: AdapterContext) -> None:
        self._party = party
        self.settings = settings
        load_party_certificate(party, settings, context, kind="utility")

    @property
    def party(self) -> str:
        return self._party

    @property
    def style(self) -> DeliveryStyle:
        return DeliveryStyle.PULL

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def transfer(self, job: UtilityTransferJob) -> UtilityOutcome:
        return UtilityOutcome.later(check_after_seconds=self.settings.collect_within_seconds)
