"""In-call retries for idempotent party calls: few, quick, honouring Retry-After; the outbox does the rest."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from adapters.errors import FaultHook, map_party_errors
from gateway.errors import PartyUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2  # doubled per attempt, with jitter in [0.5, 1]
    max_wait: float = 2.0  # a Retry-After (or backoff) longer than this is left to the outbox


async def call_party(
    party: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    attempt_timeout: float,
    idempotent: bool,
    policy: RetryPolicy,
    fault_hook: FaultHook | None = None,
) -> T:
    """Run `attempt` under a per-attempt timeout, mapping its errors; retry only an idempotent call.

    A timeout is never retried here: it already spent the caller's budget, and the outbox retries later.
    """
    for number in range(1, policy.attempts + 1):
        try:
            with map_party_errors(party, fault_hook):
                async with asyncio.timeout(attempt_timeout):
                    return await attempt()
        except PartyUnavailable as exc:
            if not idempotent or number == policy.attempts or exc.party_code == "timeout":
                raise
            delay = exc.retry_after
            if delay is None:
                delay = policy.base_delay * 2 ** (number - 1) * random.uniform(0.5, 1.0)
            if delay > policy.max_wait:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
