"""The audit chain: every kind of tampering is found and named, rows written before and after sealing alike,
and signed checkpoints catch what the chain alone cannot (rows cut from the end, a recomputed chain)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

import certs
from gateway.audit import checkpoint, verify_chain, verify_checkpoints
from gateway.db import Database
from gateway.db.audit_chain import AuditSealer, audit_content_hash, audit_row_hash
from gateway.db.tables import metadata


async def append(db: Database, n: int, *, actor: str = "clerk-1", sealed: bool = True) -> None:
    """`n` transactions of one audit record each, then (by default) a sealing pass, as the sealer would."""
    for i in range(n):
        async with db.transaction() as uow:
            uow.audit(
                actor=actor,
                action="case.received",
                subject=f"case:c{i}",
                case_id=f"c{i}",
                details={"amount": Decimal("1200000.00"), "buyer": "张*"},
            )
    if sealed:
        await AuditSealer(db).seal_once(wait=True)


async def switch_guard_off(conn: AsyncConnection) -> None:
    """What someone with the table owner's rights can do before tampering: drop the append-only guard."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    else:
        await conn.execute(text("DROP TRIGGER IF EXISTS audit_log_seal_only"))
        await conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))


async def execute(db: Database, sql: str) -> None:
    """Tamper as such a person would (the guard stays off afterwards)."""
    async with db.engine.begin() as conn:
        await switch_guard_off(conn)
        await conn.execute(text(sql))


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "UPDATE audit_log SET details = '{}' WHERE seq = 2",
        "UPDATE audit_log SET hash = NULL WHERE seq = 2",  # unsealing a row to re-seal it elsewhere
        "UPDATE audit_log SET row_hash = 'x' WHERE seq IS NULL",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
    ],
)
async def test_the_database_refuses_any_change_but_sealing(db: Database, change: str) -> None:
    await append(db, 3)
    await append(db, 1, sealed=False)
    with pytest.raises(Exception, match="append-only"):
        async with db.engine.begin() as conn:
            await conn.execute(text(change))
    if db.dialect == "postgresql":
        with pytest.raises(Exception, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text("TRUNCATE audit_log"))
    # The sealer may still do its one change, and the chain verifies with every row in place.
    assert await AuditSealer(db).seal_once(wait=True) == 1
    result = await verify_chain(db)
    assert result.ok and result.rows_checked == 4


async def test_an_untouched_chain_verifies(db: Database) -> None:
    empty = await verify_chain(db)
    assert (empty.ok, empty.rows_checked, empty.head_seq) == (True, 0, 0)
    await append(db, 5)
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:  # a rolled-back record leaves no gap in the chain
            uow.audit(actor="x", action="y", subject="z")
            raise RuntimeError
    await append(db, 2)
    report = await verify_chain(db, batch_size=3)
    assert (report.ok, report.rows_checked, report.head_seq, report.first_broken_seq) == (True, 7, 7, None)


async def test_one_changed_byte_is_found_at_its_row(db: Database) -> None:
    await append(db, 6)
    await execute(db, "UPDATE audit_log SET actor = 'clerk-2' WHERE seq = 4")
    report = await verify_chain(db)
    assert (report.ok, report.first_broken_seq, report.rows_checked) == (False, 4, 3)
    assert report.reason is not None and "content changed" in report.reason
    assert report.reason_zh is not None and "篡改" in report.reason_zh


async def test_a_changed_amount_inside_the_json_details_is_found(db: Database) -> None:
    await append(db, 3)
    await execute(
        db, 'UPDATE audit_log SET details = \'{"amount":"9200000.00","buyer":"张*"}\' WHERE seq = 2'
    )
    assert (await verify_chain(db)).first_broken_seq == 2


async def test_a_deleted_row_is_found(db: Database) -> None:
    await append(db, 6)
    await execute(db, "DELETE FROM audit_log WHERE seq = 3")
    report = await verify_chain(db)
    assert (report.ok, report.first_broken_seq) == (False, 4)
    assert report.reason == "row 3 missing (deleted)"


async def test_reordered_rows_are_found(db: Database) -> None:
    await append(db, 6)
    for sql in (
        "UPDATE audit_log SET seq = -1 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = -1",
    ):
        await execute(db, sql)
    report = await verify_chain(db)
    assert (report.ok, report.first_broken_seq) == (False, 3)
    assert report.reason is not None and "prev_hash" in report.reason


async def test_concurrent_appends_from_separate_connections_keep_one_chain(db: Database) -> None:
    # Four independent pools stand for four gateway processes; each commits its transactions in turn.
    per_writer = 50 if db.dialect == "postgresql" else 25
    writers = [Database(db.url_string, pool_size=1) for _ in range(4)]
    try:
        await asyncio.gather(*(append(w, per_writer, actor=f"process-{i}") for i, w in enumerate(writers)))
    finally:
        for w in writers:
            await w.dispose()
    report = await verify_chain(db)
    assert (report.ok, report.rows_checked, report.head_seq) == (True, 4 * per_writer, 4 * per_writer)
    async with db.engine.connect() as conn:
        actors = (await conn.execute(text("SELECT actor, count(*) FROM audit_log GROUP BY actor"))).all()
    assert sorted(actors) == [(f"process-{i}", per_writer) for i in range(4)]


async def test_checkpoint_signs_the_head_and_verifies_with_the_trusted_key(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 3)
    head = await verify_chain(db)
    taken = await checkpoint(db, key, actor="auditor")
    assert (taken.seq, taken.head_hash) == (3, head.head_hash)
    key.public_key.verify(taken.signature, taken.message())
    ok = await verify_checkpoints(db, key.public_key)
    assert (ok.ok, ok.checkpoints_checked) == (True, 1)
    chain = await verify_chain(db)
    assert chain.ok and chain.head_seq == 4  # the checkpoint itself is audited as row 4
    other = await verify_checkpoints(db, certs.SM2PrivateKey.generate().public_key)
    assert (other.ok, other.first_bad_checkpoint) == (False, taken.id)
    assert other.reason is not None and "signature" in other.reason


async def test_checkpoint_catches_rows_cut_from_the_end(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 4)
    await checkpoint(db, key)
    await AuditSealer(db).seal_once()  # the checkpoint's own record: row 5
    await execute(db, "DELETE FROM audit_log WHERE seq >= 4")
    assert (await verify_chain(db)).ok  # the chain alone cannot see a cut end
    report = await verify_checkpoints(db, key.public_key)
    assert not report.ok
    assert report.reason is not None and "row 4" in report.reason and "gone" in report.reason


async def test_checkpoint_catches_a_recomputed_chain(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 4)
    await checkpoint(db, key)
    # An attacker with database access changes row 2 and recomputes every hash after it.
    await execute(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    table = metadata.tables["audit_log"]
    async with db.engine.begin() as conn:
        await switch_guard_off(conn)
        sealed = table.select().where(table.c.seq.is_not(None)).order_by(table.c.seq)
        records = (await conn.execute(sealed)).mappings().all()
        prev = records[0]["hash"]
        for record in records[1:]:
            fields = {k: record[k] for k in ("at", "actor", "action", "subject", "case_id", "details")}
            new_hash = audit_row_hash(prev, seq=record["seq"], **fields)
            await conn.execute(
                table.update()
                .where(table.c.seq == record["seq"])
                .values(prev_hash=prev, hash=new_hash, row_hash=audit_content_hash(**fields))
            )
            prev = new_hash
    assert (await verify_chain(db)).ok
    report = await verify_checkpoints(db, key.public_key)
    assert not report.ok
    assert report.reason is not None and "rewritten" in report.reason
