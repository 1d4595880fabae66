"""The retry schedule of a delivery: exponential backoff with jitter over about three days."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["STANDARD_WEBHOOKS_SCHEDULE", "RetryPolicy"]

# Delay before attempt n+1 (Standard Webhooks): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
# 20 h, 24 h — ten attempts over about 75.5 h.
STANDARD_WEBHOOKS_SCHEDULE: tuple[float, ...] = (
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)


@dataclass(frozen=True)
class RetryPolicy:
    """`schedule[i]` is the wait before attempt i+1; after `len(schedule)` attempts the row is dead."""

    schedule: Sequence[float] = STANDARD_WEBHOOKS_SCHEDULE
    # Each wait is scaled by a random factor in [1 - jitter, 1 + jitter] so that retries after an outage
    # do not arrive at a recovering party all at once.
    jitter: float = 0.2
    # A party asking for more than a day is capped: the schedule, not the party, bounds the total time.
    max_retry_after: float = 24 * 3600
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def next_delay(self, attempts_made: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when the schedule is used up (dead letter).

        A `Retry-After` from the party is honoured: the wait is never shorter than it asked.
        """
        if attempts_made >= len(self.schedule):
            return None
        delay = self.schedule[attempts_made] * self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay
