"""`verify_chain` from a signed checkpoint (what `gateway audit verify` does by default) and in full (`--full`):
what each walks, what each finds, and rows whose JSON is stored in another spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

import certs
from gateway.audit import checkpoint, latest_verified_checkpoint, verify_chain
from gateway.cli import main
from gateway.db import Database
from gateway.db.audit_chain import GENESIS_HASH
from gateway.db.audit_walk import fetch_page, sealed_prefix
from gateway.settings import Settings
from tests.db.test_audit import append, execute


async def test_an_incremental_walk_starts_after_the_newest_verified_checkpoint(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 5)
    first = await checkpoint(db, key)  # signs seq 5; its own audit record becomes seq 6
    await append(db, 3)  # seq 7–9
    newest = await latest_verified_checkpoint(db, key.public_key)
    assert newest is not None and newest.id == first.id and newest.seq == 5
    report = await verify_chain(db, since=newest)
    assert (report.ok, report.rows_checked, report.head_seq, report.from_seq) == (True, 4, 9, 5)
    assert report.head_hash == (await verify_chain(db)).head_hash
    # Signed with another key, a checkpoint is not a starting point.
    assert await latest_verified_checkpoint(db, certs.SM2PrivateKey.generate().public_key) is None


async def test_an_incremental_walk_finds_a_change_after_and_at_the_checkpoint(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 4)
    await checkpoint(db, key)  # seq 4
    await append(db, 3)
    since = await latest_verified_checkpoint(db, key.public_key)
    assert since is not None
    await execute(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 6")
    after = await verify_chain(db, since=since)
    assert (after.ok, after.first_broken_seq) == (False, 6)
    await execute(db, "UPDATE audit_log SET subject = 'case:x' WHERE seq = 4")
    at = await verify_chain(db, since=since)
    assert (at.ok, at.first_broken_seq) == (False, 4)
    assert at.reason is not None and "content changed" in at.reason


async def test_a_change_before_the_checkpoint_is_found_by_the_full_walk_only(db: Database) -> None:
    key = certs.SM2PrivateKey.generate()
    await append(db, 4)
    await checkpoint(db, key)
    await execute(db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    since = await latest_verified_checkpoint(db, key.public_key)
    assert since is not None
    assert (await verify_chain(db, since=since)).ok  # incremental: trusts what the checkpoint covers
    full = await verify_chain(db)
    assert (full.ok, full.first_broken_seq) == (False, 2)


async def test_rows_as_the_gateway_writes_them_pass_the_fast_check(db: Database) -> None:
    # Every one, or a full walk quietly falls back to the exact check (~60 µs a row instead of ~7).
    await append(db, 4)
    async with db.session() as session:
        page = await fetch_page(await session.connection(), db.dialect, 0, 10)
    assert sealed_prefix(page, 1, GENESIS_HASH) == (4, (await verify_chain(db)).head_hash)
    assert sealed_prefix(page[1:], 1, GENESIS_HASH)[0] == 0  # not a row it expects: the exact check decides


async def test_details_stored_in_another_spelling_still_verify(db: Database) -> None:
    await append(db, 3)
    # The same JSON value with spaces and keys in another order: not the bytes that were hashed, but the
    # value that was (PostgreSQL's json type keeps the text as written).
    await execute(
        db, 'UPDATE audit_log SET details = \'{ "buyer" : "张*", "amount" : "1200000.00" }\' WHERE seq = 2'
    )
    report = await verify_chain(db)
    assert (report.ok, report.rows_checked) == (True, 3)


def test_gateway_audit_verify_is_incremental_by_default_and_full_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'gw.db'}", data_dir=tmp_path / "var")
    assert main(["migrate"], settings=settings) == 0
    assert main(["audit", "verify"], settings=settings) == 0
    assert "full walk" in capsys.readouterr().out  # no key, no checkpoint yet
    assert main(["audit", "checkpoint"], settings=settings) == 0  # creates the key; signs seq 0
    assert main(["audit", "checkpoint"], settings=settings) == 0  # signs seq 1 (the first's record)
    capsys.readouterr()
    assert main(["audit", "verify"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "audit chain OK: 1 rows" in out and "incremental from checkpoint 2 at seq 1" in out
    assert main(["audit", "verify", "--full"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "audit chain OK: 2 rows" in out and "full walk" in out
