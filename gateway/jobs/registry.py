"""Job names and their handlers: `(ctx, row) -> None`, raising PartyUnavailable / PartyRejected to steer retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigError

if TYPE_CHECKING:
    import aiohttp

    from certs import SM2PrivateKey
    from gateway.db import Database
    from gateway.db.tables.infra import OutboxRow
    from gateway.jobs.runner import Settlement
    from gateway.settings import Settings

__all__ = ["JobContext", "JobHandler", "JobRegistry"]


@dataclass(frozen=True)
class JobContext:
    """What a job handler may use: long-lived clients (built once per process), this attempt's number and,
    when a DeliveryRunner runs it, the attempt's `settlement`: with it a handler settles the outbox row in
    its own transaction, together with what it records of the party's answer."""

    db: Database
    http: aiohttp.ClientSession
    signing_key: SM2PrivateKey
    settings: Settings
    adapters: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 0
    settlement: Settlement | None = None

    def for_attempt(self, attempt: int, settlement: Settlement | None = None) -> JobContext:
        return replace(self, attempt=attempt, settlement=settlement)


JobHandler = Callable[[JobContext, "OutboxRow"], Awaitable[None]]


class JobRegistry:
    """Maps job names (constants, defined beside the code that enqueues them) to handlers.

    A handler returns when the party acknowledged; raises `PartyUnavailable(retry_after=…)` for a retry,
    `PartyRejected` (or a PartyError whose code is "410") to dead-letter at once; anything else is retried
    on the schedule. Handlers must be safe to run twice: receivers dedupe on the row id (webhook-id).
    """

    def __init__(self, handlers: Mapping[str, JobHandler] | None = None) -> None:
        self._handlers: dict[str, JobHandler] = dict(handlers or {})

    def register(self, name: str, handler: JobHandler) -> None:
        if name in self._handlers and self._handlers[name] is not handler:
            raise ConfigError(f"job {name!r} is registered twice", f"任务 {name} 重复注册")
        self._handlers[name] = handler

    def handler(self, name: str) -> JobHandler:
        try:
            return self._handlers[name]
        except KeyError:
            raise ConfigError(f"no handler for job {name!r}", f"任务 {name} 没有处理程序") from None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))
