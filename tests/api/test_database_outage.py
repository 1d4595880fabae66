"""PostgreSQL restarted under load: every request that cannot reach the database answers 503 problem+json
with Retry-After (never 500 internal_error), and the gateway serves again once the database is back; and
what a gateway does while Redis is down."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.api import create_app
from gateway.bootstrap import build_container
from gateway.db import Database
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.settings import Settings
from tests.api.support import FakeClock, Participants, Reply, SignedClient, create_schema
from tests.outages import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        await server.initialise()
        await server.start()
        yield server
    finally:
        await server.close()


async def load(bank: SignedClient, replies: list[Reply], stop: asyncio.Event) -> None:
    """A bank's counter system at work: lists its cases and posts withdrawals (without the reason: 422),
    signed and idempotent; each touches the nonce store, the idempotency keys and the cases in PostgreSQL."""
    while not stop.is_set():
        replies.append(await bank.get("/api/v1/cases?limit=5"))
        replies.append(await bank.post(f"/api/v1/cases/{uuid.uuid4().hex}/withdraw", {}))


def summary(replies: list[Reply]) -> Counter[tuple[int, str]]:
    def code(reply: Reply) -> str:
        try:
            return str(reply.json().get("code", ""))
        except ValueError:
            return reply.body[:40].decode(errors="replace")

    return Counter((r.status, code(r) if r.status >= 400 else "") for r in replies)


async def test_a_postgres_restart_answers_503_with_retry_after_never_500(
    private_postgres: PrivatePostgres, participants: Participants, tmp_path: Path
) -> None:
    db = Database(private_postgres.url, pool_size=4)
    await create_schema(db)
    settings = Settings(data_dir=tmp_path, database_url=private_postgres.url)
    container = build_container(
        settings, database=db, trust=participants.trust, registry_key=participants.registry_key
    )
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(container, dispatch=False)))
    await client.start_server()
    clock = FakeClock()
    banks = [
        SignedClient(
            client, "icbc-dg", participants.keys["icbc-dg"], participants.registry_key.public_key, clock
        )
        for _ in range(4)
    ]
    replies: list[Reply] = []
    stop = asyncio.Event()
    try:
        clock.advance(0)
        workers = [asyncio.create_task(load(bank, replies, stop)) for bank in banks]

        async def served(count: int) -> None:
            async with asyncio.timeout(60):
                while sum(r.status == 200 for r in replies) < count:  # noqa: ASYNC110  # polled, not signalled
                    await asyncio.sleep(0.05)

        await served(20)
        # Two outages: a clean shutdown (sessions terminated: 57P01, then refused connections) and a crash
        # (connections die mid-statement; "the database system is starting up" while it recovers).
        for mode in ("fast", "immediate"):
            before = len(replies)
            await private_postgres.stop(mode)
            await asyncio.sleep(1.5)
            await private_postgres.start()
            seen = sum(r.status == 200 for r in replies)
            await served(seen + 20)  # serving again
            assert len(replies) > before
        stop.set()
        await asyncio.gather(*workers)
    finally:
        stop.set()
        await client.close()
        await db.dispose()

    outcomes = summary(replies)
    print(dict(outcomes))
    assert outcomes[(503, "service_unavailable")] > 0, outcomes  # the outage was seen
    expected = {(200, ""), (422, "invalid_input"), (503, "service_unavailable")}
    unexpected = {k: n for k, n in outcomes.items() if k not in expected}
    assert unexpected == {}, outcomes
    for reply in replies:
        if reply.status == 503:
            assert reply.headers["Content-Type"].startswith("application/problem+json")
            assert int(reply.headers["Retry-After"]) >= 1


@pytest.mark.redis
async def test_with_redis_down_signed_requests_answer_503_and_the_back_office_goes_on(
    participants: Participants, database: Database, tmp_path: Path
) -> None:
    """README, Operations: with Redis down, signed API requests (their nonces are claimed in Redis) answer
    503 problem+json with Retry-After; back-office sign-in, which needs only the database, still works; once
    Redis is back the API serves again."""
    redis = PrivateRedis(tmp_path)
    if not redis.can_stop:
        pytest.skip("needs redis-server to stop and start a Redis of the test's own")
    await redis.start()
    await UserDirectory(database).add("zhang", "A long enough passw0rd", [Role.EXAMINER])
    settings = Settings(data_dir=tmp_path, database_url=database.url_string, redis_url=redis.url)
    container = build_container(
        settings, database=database, trust=participants.trust, registry_key=participants.registry_key
    )
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(container, dispatch=False)))
    await client.start_server()
    bank = SignedClient(
        client, "icbc-dg", participants.keys["icbc-dg"], participants.registry_key.public_key, FakeClock()
    )
    try:
        assert (await bank.get("/api/v1/cases")).status == 200
        await redis.stop()
        down = await bank.get("/api/v1/cases")
        assert down.status == 503 and down.json()["code"] == "service_unavailable"
        assert down.headers["Content-Type"].startswith("application/problem+json")
        assert int(down.headers["Retry-After"]) >= 1
        login = await client.post(
            "/backoffice/api/v1/login", json={"username": "zhang", "password": "A long enough passw0rd"}
        )
        assert login.status == 200
        await redis.start()
        assert (await bank.get("/api/v1/cases")).status == 200
    finally:
        await client.close()
        await redis.stop()
