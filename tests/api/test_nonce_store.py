"""The database nonce store (no Redis): each (party, nonce) is claimed once, across connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.db import Database
from gateway.security.nonces import DatabaseNonceStore


async def test_a_nonce_is_claimed_once_per_party(database: Database) -> None:
    store = DatabaseNonceStore(database)
    assert await store.claim("icbc-dg", "n" * 16, 600)
    assert not await store.claim("icbc-dg", "n" * 16, 600)
    assert await store.claim("ccb-dg", "n" * 16, 600)  # another party's nonce space


async def test_concurrent_claims_of_one_nonce_have_one_winner(database: Database) -> None:
    stores = [DatabaseNonceStore(database) for _ in range(8)]
    results = await asyncio.gather(*(s.claim("icbc-dg", "race-nonce-000001", 600) for s in stores))
    assert sorted(results) == [False] * 7 + [True]


async def test_expired_nonces_are_purged_and_may_be_claimed_again(database: Database) -> None:
    now = [datetime(2026, 11, 27, 9, tzinfo=UTC)]
    store = DatabaseNonceStore(database, clock=lambda: now[0])
    assert await store.claim("icbc-dg", "old-nonce-0000001", 600)
    now[0] += timedelta(seconds=599)
    assert await store.purge_expired() == 0
    assert not await store.claim("icbc-dg", "old-nonce-0000001", 600)
    now[0] += timedelta(seconds=2)
    assert await store.claim("icbc-dg", "old-nonce-0000001", 600)  # its TTL had passed
    now[0] += timedelta(seconds=601)
    assert await store.purge_expired() == 1
