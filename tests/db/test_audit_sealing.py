"""Sealing the audit chain after commit: writers take no lock, every committed row is sealed once in one
order, a change made before sealing is still found, and chains written before sealing existed stay valid."""

from __future__ import annotations

import asyncio
import base64
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

import certs
from gateway.audit import Checkpoint, verify_chain, verify_checkpoints
from gateway.db import Database
from gateway.db.audit_chain import GENESIS_HASH, SEAL_LOCK_KEY, AuditSealer, audit_row_hash
from gateway.db.migrate import upgrade
from tests.db.test_audit import append, execute


async def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql))]


async def test_rows_commit_unsealed_and_verify_seals_them_in_commit_order(db: Database) -> None:
    await append(db, 3, sealed=False)
    assert await rows(db, "SELECT seq, hash FROM audit_log") == [(None, None)] * 3
    report = await verify_chain(db)
    assert (report.ok, report.sealed_now, report.rows_checked, report.head_seq) == (True, 3, 3, 3)
    assert await rows(db, "SELECT subject, seq FROM audit_log ORDER BY seq") == [
        ("case:c0", 1),
        ("case:c1", 2),
        ("case:c2", 3),
    ]


async def test_a_byte_changed_before_sealing_is_found_at_the_seq_it_was_given(db: Database) -> None:
    await append(db, 4, sealed=False)
    await execute(db, "UPDATE audit_log SET actor = 'clerk-2' WHERE subject = 'case:c2'")
    report = await verify_chain(db)
    assert (report.ok, report.first_broken_seq, report.rows_checked) == (False, 3, 2)
    assert report.reason is not None and "content changed" in report.reason


async def test_a_read_only_verify_checks_unsealed_rows_by_their_content_hash(db: Database) -> None:
    await append(db, 3)
    await append(db, 2, actor="late", sealed=False)
    report = await verify_chain(db, seal=False)
    assert (report.ok, report.rows_checked, report.unsealed, report.sealed_now) == (True, 3, 2, 0)
    await execute(db, "UPDATE audit_log SET subject = 'case:c9' WHERE actor = 'late' AND subject = 'case:c1'")
    broken = await verify_chain(db, seal=False)
    assert (broken.ok, broken.first_broken_seq, broken.rows_checked) == (False, None, 3)
    assert broken.reason is not None and "unsealed row id" in broken.reason
    assert broken.reason_zh is not None and "篡改" in broken.reason_zh
    assert await rows(db, "SELECT count(*) FROM audit_log WHERE seq IS NULL") == [(2,)]  # nothing written


async def test_sealed_rows_never_move_and_later_rows_follow_them(db: Database) -> None:
    await append(db, 5)
    before = await rows(db, "SELECT id, seq, prev_hash, hash FROM audit_log ORDER BY seq")
    assert await AuditSealer(db).seal_once() == 0
    await append(db, 2, actor="clerk-2")
    after = await rows(db, "SELECT id, seq, prev_hash, hash FROM audit_log ORDER BY seq")
    assert after[:5] == before
    assert [r[1] for r in after[5:]] == [6, 7] and after[5][2] == before[-1][3]


# One gateway process writing: `n` transactions of two records each, in its own interpreter.
WRITER = """
import asyncio, sys
from gateway.db import Database

async def main(url: str, name: str, n: int) -> None:
    db = Database(url, pool_size=1)
    try:
        for k in range(n):
            async with db.transaction() as uow:
                uow.audit(actor=name, action="write", subject=f"{k:03d}a")
                uow.audit(actor=name, action="write", subject=f"{k:03d}b")
    finally:
        await db.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_writers_in_several_processes_and_two_sealers_make_one_chain(db: Database) -> None:
    per_writer = 40 if db.dialect == "postgresql" else 15
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, db.url_string, f"p{i}", str(per_writer)
        )
        for i in range(3)
    ]
    pools = [Database(db.url_string, pool_size=1) for _ in range(2)]
    sealers = [AuditSealer(pool, interval=0.005, batch=7) for pool in pools]  # small batches: many passes
    for sealer in sealers:
        await sealer.start()
    try:
        assert [await w.wait() for w in writers] == [0, 0, 0]
    finally:
        for sealer in sealers:
            await sealer.stop()
        for pool in pools:
            await pool.dispose()
    report = await verify_chain(db)
    total = 3 * 2 * per_writer
    assert (report.ok, report.rows_checked, report.head_seq) == (True, total, total)
    assert report.sealed_now < total  # the background sealers did their work while the writers wrote
    for i in range(3):
        order = await rows(db, f"SELECT subject FROM audit_log WHERE actor = 'p{i}' ORDER BY seq")
        assert [r[0] for r in order] == [f"{k:03d}{x}" for k in range(per_writer) for x in "ab"]


async def test_a_chain_written_before_sealing_existed_stays_valid_with_its_checkpoint(db_url: str) -> None:
    await asyncio.to_thread(upgrade, db_url, "0004")
    db = Database(db_url)
    key = certs.SM2PrivateKey.generate()
    try:
        prev, at = GENESIS_HASH, datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
        async with db.engine.begin() as conn:
            for seq in (1, 2, 3):
                fields = {"at": at, "actor": "clerk-1", "action": "case.received", "subject": f"case:c{seq}"}
                fields |= {"case_id": None, "details": {"amount": "1.00"}}
                link = audit_row_hash(prev, seq=seq, **fields)  # the 0004 chain: each link at insert
                await conn.execute(
                    text(
                        "INSERT INTO audit_log (seq, at, actor, action, subject, case_id, details, prev_hash, hash) "
                        "VALUES (:seq, :at, :actor, :action, :subject, NULL, :details, :prev, :hash)"
                    ),
                    {**fields, "seq": seq, "details": '{"amount":"1.00"}', "prev": prev, "hash": link},
                )
                prev = link
            signed = Checkpoint(0, 3, prev, at, b"", "").message()
            await conn.execute(
                text(
                    "INSERT INTO audit_checkpoint (seq, head_hash, at, signature, public_key) "
                    "VALUES (3, :head, :at, :signature, '')"
                ),
                {
                    "head": prev,
                    "at": at,
                    "signature": base64.b64encode(key.sign(signed)).decode(),
                },
            )
        await db.dispose()
        await db.migrate()
        report = await verify_chain(db)
        assert (report.ok, report.rows_checked, report.head_hash) == (True, 3, prev)
        assert (await verify_checkpoints(db, key.public_key)).ok
        await append(db, 2)
        assert (await verify_chain(db)).rows_checked == 5
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_writers_are_not_held_up_by_a_sealer_holding_its_lock(pg_url: str) -> None:
    db = Database(pg_url)
    await db.migrate()
    try:
        async with db.engine.begin() as held:  # a sealer stuck mid-pass (its lock held)
            await held.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
            async with asyncio.timeout(5):
                await append(db, 3, sealed=False)
                assert await AuditSealer(db).seal_once() == 0  # another sealer skips the pass
        assert await AuditSealer(db).seal_once() == 3
    finally:
        await db.dispose()
