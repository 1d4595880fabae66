"""The outbox job handler of `utility.transfer`: hand the job to its provider and record the answer.

Outcomes: done or rejected → recorded, and the outbox row is delivered. Later (the provider accepted it, or
a pull provider has yet to collect it) → recorded, and the row is parked: the handler raises
AwaitingParty (a PartyUnavailable) with `retry_after` = when to look again, so the dispatcher does not spin; the provider's
acknowledgement settles the row as delivered meanwhile (see `providers.acknowledge`). A row whose schedule
runs out is dead-lettered with its reason ("never collected", "HTTP 503", …) and may be replayed.

Run by a DeliveryRunner, the answer and the row's outcome (delivered, or parked on the retry schedule) are
written in one transaction through the attempt's Settlement: one commit per delivery instead of two, and no
moment at which the answer is recorded but the row still in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.db.tables.utilities import UtilityJobStatus
from gateway.errors import AwaitingParty, ConfigError, Conflict
from gateway.ports.utilities import (
    AccountHolder,
    DeliveryStyle,
    UtilityOutcome,
    UtilityProvider,
    UtilityTransferJob,
)
from gateway.privacy import outbox_payload
from gateway.services import effects
from gateway.services.context import ServiceContext
from gateway.services.utilities.state import JobRef, advance, log, status_of

if TYPE_CHECKING:
    from gateway.db.tables.infra import OutboxRow
    from gateway.jobs.runner import Settlement

Handler = Callable[[Any, "OutboxRow"], Awaitable[None]]


def provider_actor(code: str) -> str:
    return f"utility:{code}"


def transfer_job(ctx: ServiceContext, row: OutboxRow | Any) -> UtilityTransferJob:
    """The job as the port carries it, from the outbox row written at 登簿 (ID numbers revealed here only)."""
    payload = ctx.protector.reveal(row.payload, outbox_payload(row.id))

    def holders(people: list[dict[str, Any]]) -> tuple[AccountHolder, ...]:
        return tuple(AccountHolder.model_validate(p) for p in people)

    return UtilityTransferJob(
        delivery_id=row.id,
        service=payload["service"],
        account_no=payload["account_no"],
        address=payload["address"],
        unit_code=payload["unit_code"],
        certificate_number=payload["certificate_number"],
        registered_at=payload["registered_at"],
        sellers=holders(payload["sellers"]),
        buyers=holders(payload["buyers"]),
    )


@dataclass
class UtilityDeliveries:
    """The handler of `utility.transfer`, bound to the services and the configured providers.

    Register with `registry.register(name, handler)` for each of `handlers()` (the composition root), or
    merge `handlers()` into `Deliveries.extra`.
    """

    services: ServiceContext
    providers: Mapping[str, UtilityProvider]
    # Called after a commit that wrote a bank notice (the container's `wake_dispatcher`).
    wake: Callable[[], None] | None = None

    def handlers(self) -> dict[str, Handler]:
        return {effects.UTILITY_TRANSFER: self.deliver_transfer}

    def provider(self, code: str) -> UtilityProvider:
        found = self.providers.get(code)
        if found is None:
            # Retried on the schedule: configuring the provider (and restarting) lets the job go on.
            raise ConfigError(
                f"no utility provider is configured for {code}", f"未配置公用事业单位 {code} 的接口"
            )
        return found

    async def deliver_transfer(self, ctx: Any, row: OutboxRow) -> None:
        # No look-up first: a job answered before (a replay, a redelivery after a crash) goes to the provider
        # again under the same delivery id, and the provider answers it from its own record.
        ref = JobRef.of(row)
        provider = self.provider(row.target)
        outcome = await provider.transfer(transfer_job(self.services, row))
        style = provider.style
        pull = style.waits  # pull and portal providers come for their jobs: parked alike, dead-lettered alike
        status = status_of(outcome, UtilityJobStatus.PENDING if pull else UtilityJobStatus.ACCEPTED)
        # Waiting to be collected changes nothing worth a write: without a row the job reads as pending.
        if status is UtilityJobStatus.PENDING:
            raise _parked(row.target, style, outcome)
        # Run by a DeliveryRunner, the outbox row is settled in the transaction that records the answer.
        settlement: Settlement | None = getattr(ctx, "settlement", None)
        async with self.services.db.transaction() as uow:
            try:
                change = await advance(
                    uow,
                    ref,
                    status,
                    actor=provider_actor(row.target),
                    now=self.services.clock(),
                    outcome=outcome,
                    attempts=row.attempts,
                )
            except Conflict as exc:
                # The provider contradicts its recorded final answer: the record stands (nothing was written),
                # the delivery is over, and an operator looks.
                log.error("provider contradicts its recorded answer", alert=True, error=exc.message_en)
                final = True
            else:
                final = change.status.is_final
            parked = None if final else _parked(row.target, style, outcome)
            if settlement is not None:
                await settlement.write(uow, parked)
            if self.wake is not None:
                uow.after_commit(self.wake)
        if parked is not None:
            raise parked


# Why a row is parked, by how its provider takes jobs (the dead letter keeps the last one: "never collected").
_WAITING = {
    DeliveryStyle.PULL: (
        "awaiting_pull",
        "waiting for the provider to collect the job",
        "等待该单位拉取任务",
    ),
    DeliveryStyle.PORTAL: (
        "awaiting_portal",
        "waiting for the provider's staff to handle the job in the portal",
        "等待该单位在门户办理",
    ),
}


def _parked(target: str, style: DeliveryStyle, outcome: UtilityOutcome) -> AwaitingParty:
    """Parked, not failed: look again after the provider's own horizon (a callback usually comes first)."""
    code, en, zh = _WAITING.get(
        style,
        ("awaiting_result", "accepted; waiting for the provider's result", "已受理，等待该单位办理结果"),
    )
    return AwaitingParty(
        target, code, en, message_zh=f"{target}：{zh}", retry_after=outcome.check_after_seconds
    )
