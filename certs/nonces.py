"""Nonce stores for replay protection: each (party, nonce) may be claimed once within its TTL."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


class NonceStore(Protocol):
    async def claim(self, party: str, nonce: str, ttl_seconds: int) -> bool:
        """True the first time (party, nonce) is seen within `ttl_seconds`; False if it was already seen."""
        ...


class MemoryNonceStore:
    """In-process store for tests and the embedded single-process mode (not shared between processes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def claim(self, party: str, nonce: str, ttl_seconds: int) -> bool:
        now = self._clock()
        self._purge(now)
        key = (party, nonce)
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return False
        self._expiry[key] = now + ttl_seconds
        self._expiry.move_to_end(key)
        return True

    def _purge(self, now: float) -> None:
        # Entries are appended in claim order; with one TTL they also expire in that order, so the
        # oldest ones come off the front. A mixed TTL only delays purging, never a replay check.
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[key]

    def __len__(self) -> int:
        return len(self._expiry)


class RedisNonceStore:
    """Shared by every gateway process: `SET gw:nonce:<party>:<nonce> 1 NX EX ttl`."""

    def __init__(self, redis: Redis, prefix: str = "gw:nonce:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def claim(self, party: str, nonce: str, ttl_seconds: int) -> bool:
        # party and nonce are checked against [a-z0-9_-] / [A-Za-z0-9_-] before this is called.
        created = await self._redis.set(f"{self._prefix}{party}:{nonce}", b"1", nx=True, ex=ttl_seconds)
        return bool(created)
