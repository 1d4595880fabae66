"""Delivery outcomes against a real loopback receiver, on SQLite and PostgreSQL: retries, dead letters,
Retry-After, replay over the back-office API, and the sweeper for a worker that died."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from gateway.api.keys import CONTAINER
from gateway.db import Database
from gateway.db.outbox import claim_due, mark_dead, mark_delivered
from gateway.db.tables.infra import AuditRecord, OutboxRow, OutboxStatus
from gateway.errors import ConfigError, Conflict, InputError, PartyError
from gateway.jobs.deadletters import list_deliveries
from gateway.jobs.registry import JobContext, JobRegistry
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.runner import DeliveryRunner, Outcome
from gateway.jobs.sweeper import Sweeper
from gateway.ports import HomeCount, Person, TransferAssessmentRequest
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.seed import UNITS
from gateway.settings import Settings
from tests.jobs.harness import WEBHOOK_JOB, Receiver, add_deliveries, webhook_handler

SHORT = RetryPolicy(schedule=(0, 0.01, 0.01), jitter=0)


@pytest.fixture
async def runner(database: Database, receiver: Receiver, participants: Any) -> AsyncIterator[DeliveryRunner]:
    async with aiohttp.ClientSession() as http:
        context = JobContext(database, http, participants.registry_key, Settings())
        registry = JobRegistry({WEBHOOK_JOB: webhook_handler(receiver.url)})
        yield DeliveryRunner(database, registry, context, policy=SHORT, job_timeout=2)


async def row_of(db: Database, row_id: str) -> OutboxRow:
    async with db.session() as session:
        return (await session.exec(select(OutboxRow).where(OutboxRow.id == row_id))).one()


async def run_due(db: Database, runner: DeliveryRunner) -> list[Outcome]:
    return [
        await runner.run(row)
        for row in await claim_due(db, "test-worker", 10, now=datetime.now(UTC) + timedelta(seconds=1))
    ]


async def test_two_unavailable_answers_then_success_is_delivered_on_attempt_3(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    receiver.script = [503, 503]
    [row_id] = await add_deliveries(database, 1)
    outcomes = [o for _ in range(3) for o in await run_due(database, runner)]
    row = await row_of(database, row_id)
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED]
    assert (row.status, row.attempts) == ("delivered", 3)
    assert receiver.attempts[row_id] == 3 and list(receiver.applied) == [row_id]


async def test_410_gone_is_dead_at_once(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    receiver.script = [410]
    [row_id] = await add_deliveries(database, 1)
    assert await run_due(database, runner) == [Outcome.DEAD]
    row = await row_of(database, row_id)
    assert (row.status, row.attempts, row.last_http_status) == ("dead", 1, 410)
    assert await run_due(database, runner) == []  # never tried again


async def test_a_business_refusal_is_dead_at_once(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    receiver.script = [422]
    [row_id] = await add_deliveries(database, 1)
    assert await run_due(database, runner) == [Outcome.DEAD]
    assert (await row_of(database, row_id)).last_error.startswith("rejected")  # type: ignore[union-attr]


async def test_a_party_without_a_configured_adapter_is_dead_at_once_with_the_reason(
    database: Database, participants: Any
) -> None:
    async def unconfigured(_ctx: JobContext, row: OutboxRow) -> None:
        # What the bank, tax and utility deliveries raise for a target with no adapter in the settings.
        raise ConfigError(f"no bank adapter is configured for {row.target}", "未配置该银行的接口")

    async with aiohttp.ClientSession() as http:
        context = JobContext(database, http, participants.registry_key, Settings())
        runner = DeliveryRunner(database, JobRegistry({WEBHOOK_JOB: unconfigured}), context, policy=SHORT)
        [row_id] = await add_deliveries(database, 1)
        assert await run_due(database, runner) == [Outcome.DEAD]
        assert await run_due(database, runner) == []  # not retried on the schedule
    row = await row_of(database, row_id)
    assert row.status == "dead" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("not configured: no bank adapter")


async def test_a_race_lost_to_another_process_is_retried_quietly(
    database: Database, participants: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes changing one case: the loser's optimistic check fails (Conflict). That is routine, so
    the delivery is simply tried again — an info line, no error and no traceback."""
    from gateway.logging import configure_logging

    attempts: list[int] = []

    async def racing(_ctx: JobContext, _row: OutboxRow) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise Conflict(
                "the case was changed meanwhile; reload and retry", "业务件已被他人修改，请刷新后重试"
            )

    configure_logging("INFO", json=True)
    capsys.readouterr()
    try:
        async with aiohttp.ClientSession() as http:
            context = JobContext(database, http, participants.registry_key, Settings())
            runner = DeliveryRunner(database, JobRegistry({WEBHOOK_JOB: racing}), context, policy=SHORT)
            [row_id] = await add_deliveries(database, 1)
            assert await run_due(database, runner) == [Outcome.RETRY]
            assert await run_due(database, runner) == [Outcome.DELIVERED]
    finally:
        logging.getLogger().handlers.clear()  # the handler writes to this test's captured stderr
    assert (await row_of(database, row_id)).status == "delivered"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["level"] for line in lines if "conflict" in str(line.get("reason", ""))] == ["info"]
    assert not [line for line in lines if line["level"] in ("warning", "error") or "exception" in line]


@pytest.mark.parametrize("error", ["port_model", "input_error"])
async def test_a_job_whose_input_can_never_succeed_is_dead_at_once_with_its_reason(
    database: Database, participants: Any, error: str
) -> None:
    async def invalid(_ctx: JobContext, row: OutboxRow) -> None:
        if error == "port_model":
            # What the tax job did with a transfer whose seller acquired the flat after the sale: the port
            # model refuses the case's own data, on this attempt and on every later one.
            TransferAssessmentRequest(
                case_id="c1",
                unit_code=UNITS.co_owned_mortgaged,
                contract_date=date(2026, 11, 20),
                price=Decimal("2350000.00"),
                area_m2=Decimal("128.36"),
                buyers=(Person(name="刘洋", id_number="441900199001011234"),),
                sellers=(Person(name="李娜", id_number="441900199001011234"),),
                buyer_home_count=HomeCount.FIRST,
                seller_acquired_on=date(2026, 11, 21),
                seller_sole_home=False,
            )
        raise InputError("no 契税 rule in force on 2015-06-01", "2015-06-01 无适用的契税规则")

    async with aiohttp.ClientSession() as http:
        context = JobContext(database, http, participants.registry_key, Settings())
        runner = DeliveryRunner(database, JobRegistry({WEBHOOK_JOB: invalid}), context, policy=SHORT)
        [row_id] = await add_deliveries(database, 1)
        assert await run_due(database, runner) == [Outcome.DEAD]
        assert await run_due(database, runner) == []  # not retried on the schedule
    row = await row_of(database, row_id)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error is not None and row.last_error.startswith("invalid input: ")
    expected = "seller_acquired_on is after contract_date" if error == "port_model" else "no 契税 rule"
    assert expected in row.last_error


async def test_retry_after_is_honoured(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    receiver.script, receiver.retry_after = [503], "120"
    [row_id] = await add_deliveries(database, 1)
    before = datetime.now(UTC)
    assert await run_due(database, runner) == [Outcome.RETRY]
    row = await row_of(database, row_id)
    # The schedule says 0.01 s; the party asked for 120 s.
    assert row.next_attempt_at >= before + timedelta(seconds=120)
    assert await run_due(database, runner) == []  # not due yet


async def test_dead_after_the_schedule_is_used_up(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    receiver.script = [500] * 10
    [row_id] = await add_deliveries(database, 1)
    outcomes = [o for _ in range(4) for o in await run_due(database, runner)]
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.DEAD]
    row = await row_of(database, row_id)
    assert row.status == "dead" and row.last_error.startswith("gave up after 3 attempts")  # type: ignore[union-attr]


async def test_sweeper_requeues_a_row_whose_worker_died(
    database: Database, runner: DeliveryRunner, receiver: Receiver
) -> None:
    [row_id] = await add_deliveries(database, 1)
    [claimed] = await claim_due(database, "worker-that-dies", 1)  # ... and that worker is SIGKILLed here
    now = datetime.now(UTC)
    assert await Sweeper(database, stale_after=90, clock=lambda: now).sweep() == 0  # not stale yet
    later = now + timedelta(seconds=91)
    assert await Sweeper(database, stale_after=90, clock=lambda: later).sweep() == 1
    assert await run_due(database, runner) == [Outcome.DELIVERED]
    row = await row_of(database, row_id)
    assert (row.status, row.attempts) == ("delivered", 2)
    # The dead worker's claim can no longer settle the row.
    assert (await runner.run_claimed(row_id, claimed.attempts, "worker-that-dies")) == Outcome.SKIPPED


async def test_dead_letters_are_listed_and_replayed_over_the_back_office_api(
    serve: Any, database: Database, receiver: Receiver
) -> None:
    parts = {"jobs": JobRegistry({WEBHOOK_JOB: webhook_handler(receiver.url)}), "retry_policy": SHORT}
    client = await serve(parts=parts, jobs={"poll_interval_seconds": 0.05})
    receiver.script = [410]
    [row_id] = await add_deliveries(database, 1)
    client.server.app[CONTAINER].wake_dispatcher()
    await wait_for(lambda: row_of(database, row_id), lambda r: r.status == "dead")
    users = UserDirectory(database)
    await users.add("admin1", "A long password", [Role.ADMIN])
    await users.add("exam1", "A long password", [Role.EXAMINER])

    async def token(name: str) -> dict[str, str]:
        reply = await client.post(
            "/backoffice/api/v1/login", json={"username": name, "password": "A long password"}
        )
        return {"Authorization": f"Bearer {(await reply.json())['token']}"}

    listed = await client.get("/backoffice/api/v1/deliveries?status=dead", headers=await token("admin1"))
    assert [d["id"] for d in (await listed.json())["items"]] == [row_id]
    examiner = await client.post(
        f"/backoffice/api/v1/deliveries/{row_id}/replay", headers=await token("exam1")
    )
    assert examiner.status == 403
    replayed = await client.post(
        f"/backoffice/api/v1/deliveries/{row_id}/replay", headers=await token("admin1")
    )
    assert replayed.status == 202
    delivered = await wait_for(lambda: row_of(database, row_id), lambda r: r.status == "delivered")
    assert delivered.attempts == 1 and list(receiver.applied) == [row_id]
    again = await client.post(f"/backoffice/api/v1/deliveries/{row_id}/replay", headers=await token("admin1"))
    assert again.status == 409
    async with database.session() as session:
        audit = (await session.exec(select(AuditRecord).where(AuditRecord.action == "delivery.replay"))).all()
    assert [(a.actor, a.subject) for a in audit] == [("user:admin1", f"outbox:{row_id}")]


async def test_embedded_dispatcher_delivers_after_commit(
    serve: Any, database: Database, receiver: Receiver
) -> None:
    parts = {"jobs": JobRegistry({WEBHOOK_JOB: webhook_handler(receiver.url)})}
    client = await serve(parts=parts, jobs={"poll_interval_seconds": 30})  # only the wake-up can explain it
    container = client.server.app[CONTAINER]
    async with database.transaction() as uow:
        row_id = uow.outbox(job=WEBHOOK_JOB, target="receiver", payload={"n": 7})
        uow.after_commit(container.wake_dispatcher)
    delivered = await wait_for(lambda: row_of(database, row_id), lambda r: r.status == "delivered", within=5)
    assert delivered.attempts == 1 and receiver.applied == {row_id: 7}


async def wait_for(fetch: Any, done: Any, within: float = 10) -> Any:
    """Poll `fetch()` until `done(value)`; fail after `within` seconds with the last value seen."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting; last value {value!r}")
        await asyncio.sleep(0.05)


# --- a handler that records the party's answer and settles the row in the same transaction --------------

RECORDED_JOB = "test.recorded"


def recording_runner(
    database: Database, http: Any, key: Any, url: str, *, fail: bool = False
) -> DeliveryRunner:
    """A handler that writes an audit record of each answer and settles the row with it (`ctx.settlement`);
    with `fail`, its transaction fails after settling, so neither may be kept."""
    webhook = webhook_handler(url)

    async def deliver(ctx: JobContext, row: OutboxRow) -> None:
        error: PartyError | None = None
        try:
            await webhook(ctx, row)
        except PartyError as exc:
            error = exc
        assert ctx.settlement is not None and ctx.settlement.row is row
        async with ctx.db.transaction() as uow:
            uow.audit(
                actor="test", action="answer", subject=f"outbox:{row.id}", details={"ok": error is None}
            )
            await ctx.settlement.write(uow, error)
            if fail:
                raise RuntimeError("the answer could not be recorded")
        if error is not None:
            raise error

    registry = JobRegistry({RECORDED_JOB: deliver})
    return DeliveryRunner(database, registry, JobContext(database, http, key, Settings()), policy=SHORT)


async def answers(db: Database, row_id: str) -> list[bool]:
    async with db.session() as session:
        found = await session.exec(select(AuditRecord).where(AuditRecord.subject == f"outbox:{row_id}"))
        return [record.details["ok"] for record in found.all()]


async def add_recorded(db: Database) -> str:
    async with db.transaction() as uow:
        return uow.outbox(job=RECORDED_JOB, target="receiver", payload={"n": 1})


async def test_a_handler_settles_the_row_with_the_answer_it_records(
    database: Database, receiver: Receiver, participants: Any
) -> None:
    receiver.script, receiver.retry_after = [503], "120"
    async with aiohttp.ClientSession() as http:
        runner = recording_runner(database, http, participants.registry_key, receiver.url)
        row_id = await add_recorded(database)
        before = datetime.now(UTC)
        assert await run_due(database, runner) == [Outcome.RETRY]
        row = await row_of(database, row_id)
        # Settled exactly as the runner settles a 503 with Retry-After, in the handler's transaction.
        assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
        assert (
            row.next_attempt_at >= before + timedelta(seconds=120)
            and row.last_error == "receiver: 503 try later"
        )
        assert await answers(database, row_id) == [False]
        [again] = await claim_due(database, "test-worker", 10, now=datetime.now(UTC) + timedelta(seconds=121))
        assert await runner.run(again) == Outcome.DELIVERED
    row = await row_of(database, row_id)
    assert (row.status, row.attempts) == ("delivered", 2) and row.delivered_at is not None
    assert await answers(database, row_id) == [False, True]
    assert list(receiver.applied) == [row_id]


async def test_a_settlement_rolled_back_with_its_record_leaves_the_row_to_the_runner(
    database: Database, receiver: Receiver, participants: Any
) -> None:
    async with aiohttp.ClientSession() as http:
        runner = recording_runner(database, http, participants.registry_key, receiver.url, fail=True)
        row_id = await add_recorded(database)
        assert await run_due(database, runner) == [Outcome.RETRY]
    row = await row_of(database, row_id)
    # Neither the record nor the settlement of the failed transaction was kept: the runner retries the row.
    assert await answers(database, row_id) == []
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "RuntimeError: the answer could not be recorded"


async def test_the_deliveries_list_shows_the_latest_delivered_first_and_dead_letters_newest_first(
    database: Database,
) -> None:
    first, second, third = await add_deliveries(database, 3)
    # Delivered in the order second, first, third; the list gives the latest delivery first.
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n, row_id in enumerate((second, first, third)):
        await mark_delivered(database, await row_of(database, row_id), now=start + timedelta(minutes=n))
    delivered = await list_deliveries(database, OutboxStatus.DELIVERED, limit=2)
    assert [row.id for row in delivered] == [third, first]
    assert [row.id for row in await list_deliveries(database, OutboxStatus.DELIVERED, offset=2)] == [second]

    older, newer = await add_deliveries(database, 1), await add_deliveries(database, 1)
    for claimed in await claim_due(database, "test-worker", 10):  # dead-lettered by whoever holds the claim
        await mark_dead(database, claimed, "rejected")
    assert [row.id for row in await list_deliveries(database, OutboxStatus.DEAD)] == [*newer, *older]
