"""Idempotency-Key semantics over real HTTP, on SQLite and PostgreSQL: 400, 422, 409, replay, one effect."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.security.idempotency import (
    IdempotencyClaim,
    IdempotencyStore,
    RedisIdempotencyStore,
    StoredResponse,
)
from tests.api.demo_routes import SLOW_GATE, count_effects, routes
from tests.api.support import SignedClient

THINGS = "/api/v1/demo/things"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def claims(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where keys are claimed: in the database (no Redis configured) or in Redis (RedisIdempotencyStore)."""
    if request.param == "database":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}


@pytest.fixture
async def signed(serve: Any, bank: Any, claims: dict[str, Any]) -> SignedClient:
    return bank(await serve(routes, **claims))  # type: ignore[no-any-return]


async def test_missing_key_is_400_with_problem_json(signed: SignedClient, database: Any) -> None:
    reply = await signed.post(THINGS, {"name": "x"}, idempotency_key=None)
    assert reply.status == 400
    problem = reply.json()
    assert problem["code"] == "idempotency_key_missing"
    assert problem["type"] == "/docs#problem-idempotency_key_missing"
    assert await count_effects(database) == 0


async def test_repeat_gets_the_stored_response_byte_for_byte_and_no_new_effect(
    signed: SignedClient, database: Any
) -> None:
    first = await signed.post(THINGS, {"name": "抵押"}, idempotency_key="same-key-1")
    again = await signed.post(THINGS, {"name": "抵押"}, idempotency_key="same-key-1")
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count_effects(database) == 1


async def test_same_key_with_another_body_is_422(signed: SignedClient, database: Any) -> None:
    await signed.post(THINGS, {"name": "a"}, idempotency_key="k-422-0001")
    reply = await signed.post(THINGS, {"name": "b"}, idempotency_key="k-422-0001")
    assert reply.status == 422
    assert reply.json()["code"] == "idempotency_key_reused"
    assert await count_effects(database) == 1


async def test_keys_are_scoped_per_participant(signed: SignedClient, bank: Any, database: Any) -> None:
    other = bank(signed.client, "ccb-dg")
    one = await signed.post(THINGS, {"name": "a"}, idempotency_key="shared-key")
    two = await other.post(THINGS, {"name": "a"}, idempotency_key="shared-key")
    assert (one.status, two.status) == (201, 201)
    assert one.json()["party"] == "icbc-dg" and two.json()["party"] == "ccb-dg"
    assert await count_effects(database) == 2


async def test_same_key_while_in_flight_is_409_then_replayed(signed: SignedClient) -> None:
    SLOW_GATE["gate"], SLOW_GATE["entered"] = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(signed.post("/api/v1/demo/slow", {"n": 1}, idempotency_key="slow-key-1"))
    await asyncio.wait_for(SLOW_GATE["entered"].wait(), 10)  # the first request now holds the key
    during = await signed.post("/api/v1/demo/slow", {"n": 1}, idempotency_key="slow-key-1")
    assert during.status == 409
    assert during.json()["code"] == "idempotency_key_in_flight"
    SLOW_GATE["gate"].set()
    assert (await first).status == 201
    after = await signed.post("/api/v1/demo/slow", {"n": 1}, idempotency_key="slow-key-1")
    assert after.status == 201 and after.headers["Idempotent-Replayed"] == "true"
    del SLOW_GATE["entered"]


async def test_two_concurrent_identical_posts_make_one_effect(signed: SignedClient, database: Any) -> None:
    for round_ in range(5):
        key = f"concurrent-{round_}"
        replies = await asyncio.gather(
            *(signed.post(THINGS, {"name": "x"}, idempotency_key=key) for _ in range(2))
        )
        statuses = sorted(r.status for r in replies)
        # Either the second saw the first in flight (409) or after it completed (the stored 201).
        assert statuses in ([201, 201], [201, 409]), statuses
        created = [r for r in replies if r.status == 201]
        assert all(r.body == created[0].body for r in created)
    assert await count_effects(database) == 5


async def test_a_failed_request_frees_its_key(signed: SignedClient, database: Any) -> None:
    bad = await signed.post(THINGS, {"name": ""}, idempotency_key="fix-and-retry")
    assert bad.status == 422
    # The client corrects the body and retries with the same key: it runs (no stored failure, no 422 reuse).
    good = await signed.post(THINGS, {"name": "fixed"}, idempotency_key="fix-and-retry")
    assert good.status == 201
    assert await count_effects(database) == 1


async def test_a_claim_whose_process_died_is_taken_over_after_its_lease(database: Any) -> None:
    now = [datetime(2026, 11, 27, 9, 0, tzinfo=UTC)]
    store = IdempotencyStore(database, lease_seconds=60, clock=lambda: now[0])
    stuck = await store.claim("icbc-dg", "crashed", "f" * 64)
    assert isinstance(stuck, IdempotencyClaim)  # ... and the process dies here, never completing
    with pytest.raises(Exception, match="still being processed"):
        await store.claim("icbc-dg", "crashed", "f" * 64)
    now[0] += timedelta(seconds=61)
    retry = await store.claim("icbc-dg", "crashed", "f" * 64)
    assert isinstance(retry, IdempotencyClaim)
    # The late original can no longer store its result: its transaction would roll back instead.
    with pytest.raises(Exception, match="taken over"):
        async with database.transaction() as uow:
            await stuck.complete(uow, 201, b"{}", "application/json")
    async with database.transaction() as uow:
        await retry.complete(uow, 201, b'{"ok":1}', "application/json")
    replay = await store.claim("icbc-dg", "crashed", "f" * 64)
    assert replay == StoredResponse(201, b'{"ok":1}', "application/json")


async def test_completed_keys_are_kept_24_hours_then_purged(database: Any) -> None:
    now = [datetime(2026, 11, 27, 9, 0, tzinfo=UTC)]
    store = IdempotencyStore(database, clock=lambda: now[0])
    claim = await store.claim("icbc-dg", "old", "a" * 64)
    assert isinstance(claim, IdempotencyClaim)
    await store.complete_alone(claim, 201, json.dumps({"id": 1}).encode(), "application/json")
    now[0] += timedelta(hours=23, minutes=59)
    assert await store.purge_expired() == 0
    assert isinstance(await store.claim("icbc-dg", "old", "a" * 64), StoredResponse)
    now[0] += timedelta(minutes=2)
    assert await store.purge_expired() == 1


# --- claims in Redis: the database stays the truth ------------------------------------------------


@pytest.mark.redis
async def test_a_repeat_whose_redis_claim_is_gone_gets_the_stored_response_and_no_new_effect(
    serve: Any, bank: Any, redis_url: str, database: Any
) -> None:
    from redis.asyncio import Redis

    signed = bank(await serve(routes, redis_url=redis_url))
    first = await signed.post(THINGS, {"name": "抵押"}, idempotency_key="redis-lost-1")
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists("gw:idem:icbc-dg:redis-lost-1") == 1  # the claim, until its lease ends
        await redis.flushdb()  # Redis restarted (it keeps nothing on disk), or the lease ran out
    finally:
        await redis.aclose()
    again = await signed.post(THINGS, {"name": "抵押"}, idempotency_key="redis-lost-1")
    # The handler ran again, but its stored response could not be written (the key is completed in the
    # database): its transaction rolled back, and the client got the first response.
    assert again.status == 201 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count_effects(database) == 1
    other = await signed.post(THINGS, {"name": "另一个"}, idempotency_key="redis-lost-1")
    assert other.status == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await count_effects(database) == 1


@pytest.mark.redis
async def test_a_redis_claim_is_released_only_by_its_owner(database: Any, redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    store = RedisIdempotencyStore(database, redis, lease_seconds=60)
    try:
        held = await store.claim("icbc-dg", "k-owner", "f" * 64)
        assert isinstance(held, IdempotencyClaim)
        with pytest.raises(Exception, match="still being processed"):
            await store.claim("icbc-dg", "k-owner", "f" * 64)
        with pytest.raises(Exception, match="different request"):
            await store.claim("icbc-dg", "k-owner", "e" * 64)
        # A late release by a request that no longer holds the key leaves the holder's claim alone.
        stranger = IdempotencyClaim(store, "icbc-dg", "k-owner", "0" * 32, "f" * 64)
        await store.release(stranger)
        with pytest.raises(Exception, match="still being processed"):
            await store.claim("icbc-dg", "k-owner", "f" * 64)
        await store.release(held)
        assert isinstance(await store.claim("icbc-dg", "k-owner", "f" * 64), IdempotencyClaim)
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_a_redis_claim_frees_itself_when_its_lease_ends(database: Any, redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    store = RedisIdempotencyStore(database, redis, lease_seconds=0.2)
    try:
        stuck = await store.claim("icbc-dg", "crashed", "f" * 64)
        assert isinstance(stuck, IdempotencyClaim)  # ... and the process dies here
        await asyncio.sleep(0.3)
        retry = await store.claim("icbc-dg", "crashed", "f" * 64)
        assert isinstance(retry, IdempotencyClaim)
        async with database.transaction() as uow:
            await retry.complete(uow, 201, b'{"ok":1}', "application/json")
        # The late original cannot store its result: its transaction rolls back.
        with pytest.raises(Exception, match="completed first"):
            async with database.transaction() as uow:
                await stuck.complete(uow, 201, b"{}", "application/json")
        # Once the retry's lease has ended too (waited for, not raced: a slow machine once took longer than
        # 0.2 s to get here), a repeat claims afresh, and the response it is given is the stored one — what
        # the middleware replies when the repeat's own completion is refused.
        await asyncio.sleep(0.3)
        again = await store.claim("icbc-dg", "crashed", "f" * 64)
        assert isinstance(again, IdempotencyClaim)
        assert await store.completed_elsewhere(again) == StoredResponse(201, b'{"ok":1}', "application/json")
    finally:
        await redis.aclose()
