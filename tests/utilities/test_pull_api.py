"""The provider-facing API: a provider sees and acknowledges only its own jobs; acknowledgements are
idempotent; a pull job is parked (the dispatcher does not spin) until its provider answers; an answer on the
API and a contradicting answer to the push: the first recorded one stands."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.api.keys import CONTAINER
from gateway.db.outbox import claim_due
from gateway.db.tables.infra import OutboxStatus
from gateway.jobs.deadletters import replay_dead
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.runner import Outcome
from gateway.ports.banks import CaseEvent
from sandbox.utilities import NETWORK, WATER, UtilityProviders
from tests.utilities.harness import Gateway, open_accounts, register_transfer, running_gateway, transfer_input
from tests.utilities.support import Registry, eventually

JOBS = "/api/v1/utility-jobs"


@pytest.fixture
async def gateway(registry: Registry, providers: UtilityProviders, tmp_path: Path) -> AsyncIterator[Gateway]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    async with running_gateway(registry, providers, url, tmp_path) as running:
        await running.providers.network.stop()  # the test collects the network provider's jobs by hand
        yield running


async def network_job(gateway: Gateway) -> str:
    open_accounts(gateway.providers)
    await register_transfer(gateway.services, transfer_input())
    rows = [r for r in await gateway.outbox() if r.target == NETWORK]
    assert len(rows) == 1
    return rows[0].id


async def parked(gateway: Gateway, job_id: str) -> bool:
    row = next(r for r in await gateway.outbox() if r.id == job_id)
    return row.status == OutboxStatus.PENDING.value and row.attempts >= 1


async def test_a_provider_sees_fetches_and_acknowledges_only_its_own_jobs(gateway: Gateway) -> None:
    job_id = await network_job(gateway)
    network, water = gateway.provider(NETWORK), gateway.provider(WATER)

    listed = (await network.get(JOBS)).json()["items"]
    assert [i["id"] for i in listed] == [job_id] and listed[0]["service"] == "network"
    assert job_id not in {i["id"] for i in (await water.get(JOBS)).json()["items"]}

    assert (await water.get(f"{JOBS}/{job_id}")).status == 404
    refused = await water.post(f"{JOBS}/{job_id}/ack", {"result": "done"})
    assert refused.status == 404 and refused.json()["code"] == "not_found"
    assert (await network.get(f"{JOBS}/{uuid.uuid4().hex}")).status == 404

    fetched = await network.get(f"{JOBS}/{job_id}")
    assert fetched.status == 200
    body = fetched.json()
    assert body["status"] == "delivered"
    assert body["job"]["account_no"] == "KD3344556" and body["job"]["buyers"][0]["name"] == "刘洋"
    assert body["job"]["sellers"][0]["id_number"].startswith("4419001985")  # revealed for its provider only

    acked = await network.post(f"{JOBS}/{job_id}/ack", {"result": "done", "reference": "KD-1"})
    assert acked.status == 200 and acked.json() == {"id": job_id, "status": "done", "duplicate": False}
    assert (await network.get(JOBS)).json()["items"] == []
    row = next(r for r in await gateway.outbox() if r.id == job_id)
    assert row.status == OutboxStatus.DELIVERED.value  # the acknowledgement completed the delivery


async def test_banks_cannot_use_provider_routes(gateway: Gateway) -> None:
    job_id = await network_job(gateway)
    assert (await gateway.bank().get(JOBS)).status == 403
    assert (await gateway.bank().post(f"{JOBS}/{job_id}/ack", {"result": "done"})).status == 403


async def test_repeated_and_contradictory_acknowledgements(gateway: Gateway) -> None:
    job_id = await network_job(gateway)
    network = gateway.provider(NETWORK)
    answer: dict[str, Any] = {"result": "rejected", "reason": "visit_required", "provider_code": "V1"}

    first = await network.post(f"{JOBS}/{job_id}/ack", answer, idempotency_key="k-1")
    replayed = await network.post(f"{JOBS}/{job_id}/ack", answer, idempotency_key="k-1")
    assert first.status == replayed.status == 200 and first.body == replayed.body
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    again = await network.post(f"{JOBS}/{job_id}/ack", answer, idempotency_key="k-2")
    assert again.status == 200 and again.json()["duplicate"] is True
    late = await network.post(f"{JOBS}/{job_id}/ack", {"result": "later"}, idempotency_key="k-3")
    assert late.json() == {"id": job_id, "status": "rejected", "duplicate": True}
    contradiction = await network.post(f"{JOBS}/{job_id}/ack", {"result": "done"}, idempotency_key="k-4")
    assert contradiction.status == 409

    await eventually(lambda: _told(gateway))
    assert len(gateway.notices(CaseEvent.UTILITY_NEEDS_CITIZEN.value)) == 1  # told once, not per repeat


async def _told(gateway: Gateway) -> bool:
    return len(gateway.notices(CaseEvent.UTILITY_NEEDS_CITIZEN.value)) >= 1


async def test_an_acknowledgement_must_name_the_reason_of_a_refusal(gateway: Gateway) -> None:
    job_id = await network_job(gateway)
    reply = await gateway.provider(NETWORK).post(f"{JOBS}/{job_id}/ack", {"result": "rejected"})
    assert reply.status == 422
    reply = await gateway.provider(NETWORK).post(
        f"{JOBS}/{job_id}/ack", {"result": "done", "reason": "arrears"}
    )
    assert reply.status == 422


async def test_a_pull_job_is_parked_not_polled(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.logging import configure_logging

    configure_logging("INFO", json=True)
    capsys.readouterr()
    try:
        job_id = await network_job(gateway)
        await eventually(lambda: parked(gateway, job_id))
    finally:
        logging.getLogger().handlers.clear()  # the handler writes to this test's captured stderr
    # Waiting for a provider to collect its job is the normal state of a pull job, not a warning.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    waits = [line for line in lines if line.get("event") == "delivery looked at again later"]
    assert (
        waits
        and {line["level"] for line in waits} == {"info"}
        and "awaiting_pull" not in str([line for line in lines if line.get("level") in ("warning", "error")])
    )
    await asyncio.sleep(1.0)  # twenty dispatcher polls
    row = next(r for r in await gateway.outbox() if r.id == job_id)
    assert row.attempts == 1 and row.status == OutboxStatus.PENDING.value
    assert "awaiting_pull" in (row.last_error or "")
    assert (row.next_attempt_at - row.created_at).total_seconds() > 5 * 3600  # the collection horizon


async def test_a_job_never_collected_is_dead_lettered_with_its_reason_and_replay_delivers_it(
    registry: Registry, providers: UtilityProviders, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'short.db'}"
    short = RetryPolicy(schedule=(0, 0.1, 0.1, 0.1), jitter=0.1)
    horizon = {"collect_within_seconds": 0.2}
    async with running_gateway(
        registry, providers, url, tmp_path, pull=horizon, retry_policy=short
    ) as gateway:
        await gateway.providers.network.stop()  # the network provider is away
        job_id = await network_job(gateway)

        async def dead() -> bool:
            row = next(r for r in await gateway.outbox() if r.id == job_id)
            return row.status == OutboxStatus.DEAD.value

        await eventually(dead)
        row = next(r for r in await gateway.outbox() if r.id == job_id)
        assert (
            row.last_error
            and "awaiting_pull" in row.last_error
            and "gave up after 4 attempts" in row.last_error
        )
        view = (await gateway.bank().get(f"/api/v1/cases/{row.case_id}/utilities")).json()
        assert view["dead"] == ["network"]
        assert next(j for j in view["jobs"] if j["id"] == job_id)["last_error"] == row.last_error

        await replay_dead(gateway.services.db, job_id, actor="admin")  # the operator's manual replay
        await gateway.providers.network.start(gateway.url)  # and the provider is back

        async def done() -> bool:
            view = (await gateway.bank().get(f"/api/v1/cases/{row.case_id}/utilities")).json()
            return next(j for j in view["jobs"] if j["id"] == job_id)["status"] == "done"

        await eventually(done)
        assert gateway.providers.network.book.applied_effects == 1


async def test_a_delivery_contradicting_an_acknowledged_answer_leaves_the_record_and_ends(
    registry: Registry, providers: UtilityProviders, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'contradiction.db'}"
    async with running_gateway(registry, providers, url, tmp_path, dispatch=False) as gateway:
        open_accounts(gateway.providers)
        await register_transfer(gateway.services, transfer_input())
        [row] = [r for r in await claim_due(gateway.services.db, "test-worker", 10) if r.target == WATER]
        # While the push is in flight, the water company reports a refusal on the API ...
        refused = {"result": "rejected", "reason": "arrears", "provider_code": "arrears"}
        assert (await gateway.provider(WATER).post(f"{JOBS}/{row.id}/ack", refused)).status == 200
        # ... and then its system answers the push itself: done. The recorded answer stands; the delivery
        # ends (its row was settled by the acknowledgement), in the same transaction as the failed record.
        runner = gateway.client.app[CONTAINER].runner
        assert await runner.run(row) == Outcome.DELIVERED
        settled = next(r for r in await gateway.outbox() if r.id == row.id)
        assert settled.status == OutboxStatus.DELIVERED.value
        view = (await gateway.bank().get(f"/api/v1/cases/{row.case_id}/utilities")).json()
        job = next(j for j in view["jobs"] if j["id"] == row.id)
        assert (job["status"], job["refusal"]["code"]) == ("rejected", "arrears")
        assert gateway.providers.water.book.applied_effects == 1


async def test_an_offset_beyond_int64_is_a_422_not_a_500(gateway: Gateway) -> None:
    # Was: a 500 from the database, which cannot hold the number.
    network = gateway.provider(NETWORK)
    for offset in (2**63, 10**30):
        reply = await network.get(f"{JOBS}?offset={offset}")
        assert reply.status == 422, reply.body
        assert [e["field"] for e in reply.json()["errors"]] == ["offset"]
    assert (await network.get(f"{JOBS}?offset=2147483647")).json()["items"] == []
