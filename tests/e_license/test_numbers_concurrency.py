"""Certificate numbers from two OS processes at once: 1..1000 exactly, none reused, none lost to rollbacks."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from gateway.db.database import Database
from gateway.db.tables.certificates import NumberCounterRow
from gateway.services.store import Store
from tests.services.conftest import make_protector

pytestmark = pytest.mark.slow  # about 10 s: two interpreters start and race

PER_PROCESS = 500
ROLLBACK_EVERY = 10  # every 10th transaction rolls back: its number must go to the next one, not vanish
REGISTRY, YEAR, KIND = "441900", 2026, "proof"


class _RolledBack(Exception):
    pass


async def _allocate(url: str, count: int, barrier: Barrier) -> list[int]:
    """`count` committed numbers, each from `Store.next_number` in a transaction of its own."""
    db = Database(url, pool_size=1)
    protector = make_protector()
    async with db.session() as session:  # connect before the start line, so both processes race
        await session.execute(text("SELECT 1"))
    barrier.wait()
    committed: list[int] = []
    attempts = 0
    while len(committed) < count:
        attempts += 1
        try:
            async with db.transaction() as uow:
                seq = await Store(uow.session, protector, db.dialect).next_number(REGISTRY, YEAR, KIND)
                if attempts % ROLLBACK_EVERY == 0:
                    raise _RolledBack
        except _RolledBack:
            continue
        committed.append(seq)
    await db.dispose()
    return committed


def _process(url: str, count: int, barrier: Barrier, results: Any) -> None:
    results.put(asyncio.run(_allocate(url, count, barrier)))


async def _counter(url: str) -> int:
    db = Database(url)
    await db.migrate()
    async with db.session() as session:
        last = (await session.execute(select(NumberCounterRow.last))).scalar()  # type: ignore[call-overload]
    await db.dispose()
    return int(last or 0)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_processes_allocate_1000_numbers_without_duplicate_or_gap(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'n.db'}"
    assert asyncio.run(_counter(url)) == 0  # migrates the fresh database

    spawn = multiprocessing.get_context("spawn")  # each process its own interpreter, engine and pool
    barrier = spawn.Barrier(2)
    results = spawn.Queue()
    workers = [spawn.Process(target=_process, args=(url, PER_PROCESS, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    batches = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    numbers = sorted(batches[0] + batches[1])
    assert len(set(numbers)) == len(numbers) == 2 * PER_PROCESS, "no number given twice"
    assert numbers == list(range(1, 2 * PER_PROCESS + 1)), "no gap, although 100 transactions rolled back"
    assert asyncio.run(_counter(url)) == 2 * PER_PROCESS
    first, second = batches
    assert max(min(first), min(second)) < min(max(first), max(second)), "the two processes interleaved"
