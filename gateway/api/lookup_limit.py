"""Failed public look-ups, counted per caller address: past the limit the address waits.

A look-up by identifier needs the QR token or the file's SM3, so counting identifiers finds nothing; this
limit only makes guessing the proof of possession slow as well, and names the addresses that try. Kept in
the process (no Redis needed, as in the embedded default): with several gateway processes each counts its
own share, which still bounds a guesser to a few hundred tries an hour.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["PUBLIC_LOOKUP_FAILURES", "PUBLIC_LOOKUP_WINDOW", "FailedLookups"]

# A person mistyping a token fails a few times; a script guessing fails thousands of times.
PUBLIC_LOOKUP_FAILURES = 20
PUBLIC_LOOKUP_WINDOW = 600.0


class FailedLookups:
    """At most `limit` failures per address within `window` seconds; `wait` says how long until the next."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str) -> int:
        """Seconds the address must wait before its next look-up (0: it may ask now)."""
        recent = self._recent(address)
        if recent is None or len(recent) < self.limit:
            return 0
        return max(1, math.ceil(recent[0] + self.window - self._clock()))

    def failed(self, address: str) -> int:
        """Count one failure; returns the address's failures within the window."""
        recent = self._recent(address)
        if recent is None:
            recent = self._failures[address] = deque(maxlen=self.limit)
            while len(self._failures) > self._max_addresses:  # a flood of addresses cannot grow memory
                self._failures.popitem(last=False)
        self._failures.move_to_end(address)
        recent.append(self._clock())
        return len(recent)

    def _recent(self, address: str) -> deque[float] | None:
        recent = self._failures.get(address)
        if recent is None:
            return None
        horizon = self._clock() - self.window
        while recent and recent[0] <= horizon:
            recent.popleft()
        return recent
