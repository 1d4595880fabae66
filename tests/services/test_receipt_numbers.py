"""受理编号: unique and numbered per registry and year. On PostgreSQL from a sequence per year (made on
demand; concurrent submissions never wait on one counter row and never share a number; gaps are allowed), on
SQLite from the counter row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from gateway.db.tables.certificates import NumberCounterRow
from gateway.domain.workflow import Case
from gateway.errors import RuleViolation
from gateway.services import cases
from gateway.services.context import ServiceContext
from gateway.services.store_certificates import COUNTER
from tests.services import builders


async def _submit(ctx: ServiceContext) -> Case:
    return await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration())


async def test_the_new_year_starts_again_at_one_and_the_old_year_goes_on(ctx: ServiceContext) -> None:
    ctx.clock = lambda: datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in Dongguan: still 2026
    late = await _submit(ctx)
    ctx.clock = lambda: datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January 2027 in Dongguan
    first, second = await _submit(ctx), await _submit(ctx)
    ctx.clock = lambda: datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # a clock behind: 2026 again
    later = await _submit(ctx)

    assert late.receipt_number == "2026-441900-000001"
    assert (first.receipt_number, second.receipt_number) == ("2027-441900-000001", "2027-441900-000002")
    assert later.receipt_number == "2026-441900-000002"


async def test_numbering_goes_on_after_the_counter_a_previous_version_kept(ctx: ServiceContext) -> None:
    # Numbers up to 41 of 2026 were handed out from the counter row before the sequences (revision 0016).
    async with ctx.db.transaction() as uow:
        await uow.session.execute(
            insert(NumberCounterRow).values(registry_code="441900", year=2026, kind="receipt", last=41)
        )
    ctx.clock = lambda: datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert (await _submit(ctx)).receipt_number == "2026-441900-000042"


async def test_a_refused_submission_leaves_a_gap_on_postgresql_only(ctx: ServiceContext) -> None:
    ctx.clock = lambda: datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    await _submit(ctx)  # the year's first (on PostgreSQL it makes the year's sequence)
    wrong = builders.mortgage_registration(ownership_certificate_number="粤（2020）东莞市不动产权第9999999号")
    with pytest.raises(RuleViolation):
        await cases.submit(ctx, "boc-dg", "松山湖支行", "clerk-01", wrong)
    # PostgreSQL numbers the case in the read it does under the unit's lock, before the rules run.
    expected = "2026-441900-000003" if ctx.db.dialect == "postgresql" else "2026-441900-000002"
    assert (await _submit(ctx)).receipt_number == expected


@pytest.mark.postgres
async def test_concurrent_submissions_get_distinct_numbers_of_their_year(pg_url: str) -> None:
    from tests.services.conftest import make_context

    ctx = await make_context(pg_url)
    try:
        ctx.clock = lambda: datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
        # The first submissions of the year race to make its sequence, and every one after them to number.
        made = await asyncio.gather(*(_submit(ctx) for _ in range(24)))
    finally:
        await ctx.db.dispose()
    numbers = [case.receipt_number or "" for case in made]
    assert len(set(numbers)) == len(numbers) == 24
    assert sorted(numbers) == [f"2026-441900-{seq:06d}" for seq in range(1, 25)]  # none refused: no gap


@pytest.mark.postgres
async def test_a_number_holds_no_lock_until_commit_and_a_new_year_is_made_once(pg_url: str) -> None:
    from tests.services.conftest import make_context

    ctx = await make_context(pg_url, seed=False)
    release = asyncio.Event()
    first_taken = asyncio.Event()

    async def hold_open() -> int:  # takes the year's first number and keeps its transaction open
        async with ctx.unit_of_work() as (_uow, store):
            seq = await store.next_receipt("441900", 2031)
            first_taken.set()
            await release.wait()
            return seq

    async def take(seconds_to_wait: str) -> int:
        async with ctx.unit_of_work() as (uow, store):
            await uow.connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{seconds_to_wait}'")
            return await store.next_receipt("441900", 2031)

    try:
        holder = asyncio.create_task(hold_open())
        await first_taken.wait()
        # The holder made the year's sequence in its open transaction: the others wait for its commit (once a
        # year), then all number from it.
        racers = [asyncio.create_task(take("30s")) for _ in range(6)]
        await asyncio.sleep(0.2)
        release.set()
        numbers = [await holder, *await asyncio.gather(*racers)]
        # From now on nobody waits: a transaction holding a number blocks no other (lock_timeout would fire).
        release.clear()
        first_taken.clear()
        holder = asyncio.create_task(hold_open())
        await first_taken.wait()
        numbers.append(await take("1s"))
        release.set()
        numbers.append(await holder)
    finally:
        await ctx.db.dispose()
    assert sorted(numbers) == list(range(1, 10))


@pytest.mark.postgres
async def test_a_downgrade_hands_the_numbering_back_to_the_counter(pg_url: str) -> None:
    from alembic import command

    from gateway.db.migrate import alembic_config, upgrade
    from tests.services.conftest import make_context

    ctx = await make_context(pg_url)
    try:
        ctx.clock = lambda: datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
        await _submit(ctx)
        await _submit(ctx)
        await ctx.db.dispose()
        url = ctx.db.url_string
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
        async with ctx.db.session() as session:
            counter = await session.execute(select(COUNTER.c.last).where(COUNTER.c.kind == "receipt"))
            assert counter.scalar_one() == 2
        await asyncio.to_thread(upgrade, url, "head", None, None)
        assert (await _submit(ctx)).receipt_number == "2026-441900-000003"
    finally:
        await ctx.db.dispose()
