"""`gateway pii rekey`: after a new PII key is made current, every stored ID number moves to it, audited, and
the old key can be removed; a new index key is brought in the same way. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from certs import FieldCipher
from gateway.cli import main
from gateway.db import Database
from gateway.db.tables import metadata
from gateway.privacy import PersonalDataProtector, outbox_payload
from gateway.seed import INSTITUTIONS, seed_demo_register
from gateway.services import cases
from gateway.services.context import ServiceContext
from gateway.services.pii_rekey import PLACES
from gateway.settings import Settings
from gateway.wiring import personal_data_cipher
from tests.services.test_pii_binding import registered_transfer, tokens

K1, K2 = secrets.token_hex(16), secrets.token_hex(16)
INDEX_1, INDEX_2 = secrets.token_hex(32), secrets.token_hex(32)
AUDIT = metadata.tables["audit_log"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gw.db'}"
    return str(request.getfixturevalue("pg_url"))


def settings(url: str, tmp_path: Path, keys: dict[str, str], current: str, index: str) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp_path / "var",
        pii_keys=keys,
        pii_current_key_id=current,
        pii_index_key=index,
    )


def context(config: Settings) -> ServiceContext:
    database = Database(config.effective_database_url())
    protector = PersonalDataProtector(personal_data_cipher(config))
    return ServiceContext(db=database, protector=protector, institutions=dict(INSTITUTIONS))


def a_registered_transfer(config: Settings) -> str:
    async def run() -> str:
        ctx = context(config)
        try:
            await seed_demo_register(ctx)
            return await registered_transfer(ctx)
        finally:
            await ctx.db.dispose()

    return asyncio.run(run())


def stored_tokens(config: Settings) -> list[str]:
    async def run() -> list[str]:
        database = Database(config.effective_database_url())
        try:
            async with database.session() as session:
                found: list[str] = []
                for table_name, column in PLACES:
                    for (document,) in await session.execute(select(metadata.tables[table_name].c[column])):
                        found += tokens(document)
                return found
        finally:
            await database.dispose()

    return asyncio.run(run())


def what_a_user_reads(config: Settings, case_id: str, export: Path) -> tuple[Any, ...]:
    """The register as exported, the case's input and the utility jobs' payloads, all in clear."""
    assert main(["register", "export", str(export)], settings=config) == 0

    async def run() -> tuple[Any, ...]:
        ctx = context(config)
        try:
            case = await cases.get_case(ctx, case_id)
            outbox = metadata.tables["outbox"]
            async with ctx.db.session() as session:
                rows = (
                    await session.execute(select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))
                ).all()
            jobs = [ctx.protector.reveal(payload, outbox_payload(row_id)) for row_id, payload in rows]
            return case.input.model_dump(mode="json"), jobs
        finally:
            await ctx.db.dispose()

    return (export.read_bytes(), *asyncio.run(run()))


def rekey_audit_rows(config: Settings) -> int:
    async def run() -> int:
        database = Database(config.effective_database_url())
        try:
            async with database.session() as session:
                query = select(func.count()).where(AUDIT.c.action == "pii.rekeyed")
                return int((await session.execute(query)).scalar_one())
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_rekey_moves_every_id_number_to_the_new_key_so_the_old_one_can_be_removed(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = settings(database_url, tmp_path, {"k1": K1}, "k1", INDEX_1)
    assert main(["migrate"], settings=old) == 0
    case_id = a_registered_transfer(old)
    before = what_a_user_reads(old, case_id, tmp_path / "before.jsonl")
    assert b"id_number" in before[0] and before[2], "the export and the utility jobs carry ID numbers"
    stored = stored_tokens(old)
    assert len(stored) >= 10 and all(t.startswith("v2:k1:") for t in stored)

    # Removing k1 before the rekey is refused in one line: its tokens would no longer open.
    only_k2 = settings(database_url, tmp_path, {"k2": K2}, "k2", INDEX_1)
    capsys.readouterr()
    assert main(["pii", "rekey"], settings=only_k2) == 2
    assert "unknown PII key id 'k1'" in capsys.readouterr().err

    rotated = settings(database_url, tmp_path, {"k1": K1, "k2": K2}, "k2", INDEX_1)
    assert main(["pii", "rekey", "--dry-run"], settings=rotated) == 0
    out = capsys.readouterr().out
    assert f"k1: {len(stored)}" in out and "still needed / 仍在使用: k1" in out
    assert stored_tokens(old) == stored, "a dry run writes nothing"

    assert main(["pii", "rekey", "--batch-size", "3"], settings=rotated) == 0
    out = capsys.readouterr().out
    assert f"{len(stored)} were re-encrypted to key 'k2'" in out and "remove it from GW_PII_KEYS" in out
    after = stored_tokens(only_k2)
    assert len(after) == len(stored) and all(t.startswith("v2:k2:") for t in after)
    assert rekey_audit_rows(only_k2) >= len(PLACES)
    assert main(["audit", "verify"], settings=only_k2) == 0

    # k1 is gone: the register, the case and the utility jobs read exactly as before.
    assert what_a_user_reads(only_k2, case_id, tmp_path / "after.jsonl") == before

    # A second run finds nothing to do and audits nothing.
    audited = rekey_audit_rows(only_k2)
    capsys.readouterr()
    assert main(["pii", "rekey"], settings=only_k2) == 0
    assert "0 were re-encrypted" in capsys.readouterr().out
    assert stored_tokens(only_k2) == after and rekey_audit_rows(only_k2) == audited


def test_rekey_recomputes_the_index_under_a_new_index_key(database_url: str, tmp_path: Path) -> None:
    old = settings(database_url, tmp_path, {"k1": K1}, "k1", INDEX_1)
    assert main(["migrate"], settings=old) == 0
    case_id = a_registered_transfer(old)
    before = what_a_user_reads(old, case_id, tmp_path / "before.jsonl")

    new_index = settings(database_url, tmp_path, {"k1": K1}, "k1", INDEX_2)
    assert main(["pii", "rekey"], settings=new_index) == 0

    cipher = FieldCipher.from_hex({"k1": K1}, "k1", INDEX_2)

    async def indexes() -> list[tuple[str, str]]:
        database = Database(new_index.effective_database_url())
        pairs: list[tuple[str, str]] = []
        try:
            async with database.session() as session:
                for table_name, column in PLACES:
                    table = metadata.tables[table_name]
                    for row_id, document in await session.execute(select(table.c.id, table.c[column])):
                        place = f"{table_name}|{column}|{row_id}".encode()
                        pairs += [(cipher.index(cipher.decrypt(t, place)), i) for t, i in _indexed(document)]
        finally:
            await database.dispose()
        return pairs

    pairs = asyncio.run(indexes())
    assert pairs and all(expected == stored for expected, stored in pairs)
    assert what_a_user_reads(new_index, case_id, tmp_path / "after.jsonl") == before


def _indexed(tree: Any) -> list[tuple[str, str]]:
    """(token, its stored index) for every ID number in a stored document."""
    if isinstance(tree, dict):
        own = [(tree["id_number"], tree.get("id_index"))] if isinstance(tree.get("id_number"), str) else []
        return own + [pair for value in tree.values() for pair in _indexed(value)]
    if isinstance(tree, list):
        return [pair for value in tree for pair in _indexed(value)]
    return []
