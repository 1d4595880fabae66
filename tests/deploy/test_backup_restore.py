"""docs/deployment.md's backup and restore, as an operator runs it: cases on PostgreSQL, an audit checkpoint,
`pg_dump -Fc`, `pg_restore` into a new database, then `gateway audit verify` and the register read there."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.cli import main
from gateway.db import Database
from gateway.privacy import PersonalDataProtector
from gateway.seed import INSTITUTIONS, seed_demo_register
from gateway.services import cases
from gateway.services.context import ServiceContext
from gateway.settings import Settings
from gateway.wiring import personal_data_cipher
from tests.conftest import IN_CI, PG_ADMIN_DSN
from tests.services import builders
from tests.services.test_pii_binding import registered_transfer


async def _admin(sql: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return str(await conn.fetchval(sql) or "")
    finally:
        await conn.close()


@pytest.fixture
def restore_dsn(pg_dsn: str) -> Iterator[str]:
    """A second fresh database, to restore into (pg_dsn made sure PostgreSQL runs)."""
    name = f"gwrestore_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def client_tool(name: str) -> str:
    """pg_dump/pg_restore of the server's major version: a newer server's dump is refused by an older
    pg_dump, and Debian keeps each version's tools in /usr/lib/postgresql/<major>/bin."""
    major = int(asyncio.run(_admin("SHOW server_version_num"))) // 10000
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin/{name}"), shutil.which(name)):
        if candidate is None or not Path(candidate).exists():
            continue
        version = subprocess.run([str(candidate), "--version"], capture_output=True, text=True).stdout
        found = re.search(r"\) (\d+)", version)
        if found and int(found.group(1)) == major:
            return str(candidate)
    reason = f"no {name} of PostgreSQL {major} (the server's version) is installed"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def run_cases(settings: Settings) -> list[str]:
    """A transfer through review to the register, and a mortgage registration received."""

    async def run() -> list[str]:
        database = Database(settings.effective_database_url())
        ctx = ServiceContext(
            db=database,
            protector=PersonalDataProtector(personal_data_cipher(settings)),
            institutions=dict(INSTITUTIONS),
        )
        try:
            await seed_demo_register(ctx)
            transfer = await registered_transfer(ctx)
            mortgage = await cases.submit(
                ctx, "boc-dg", "松山湖支行", "clerk-01", builders.mortgage_registration()
            )
            return [transfer, mortgage.id]
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_a_restored_dump_verifies_and_reads_the_same_register(
    pg_dsn: str, restore_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pg_dump, pg_restore = client_tool("pg_dump"), client_tool("pg_restore")
    keys = {"pii_keys": {"2026a": secrets.token_hex(16)}, "pii_index_key": secrets.token_hex(32)}
    live = Settings(database_url=pg_dsn, data_dir=tmp_path / "var", **keys)
    restored = Settings(database_url=restore_dsn, data_dir=tmp_path / "var", **keys)

    assert main(["migrate"], settings=live) == 0
    case_ids = run_cases(live)
    assert main(["audit", "checkpoint"], settings=live) == 0
    assert main(["register", "export", str(tmp_path / "live.jsonl")], settings=live) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--full"], settings=live) == 0
    rows = re.search(r"audit chain OK: (\d+) rows", capsys.readouterr().out)
    assert rows and int(rows.group(1)) >= 8  # the cases, their reviews, 登簿 and the checkpoint

    dump = tmp_path / "gateway.dump"
    subprocess.run([pg_dump, "-Fc", "--no-owner", "-d", pg_dsn, "-f", str(dump)], check=True, timeout=120)
    subprocess.run(
        [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "-d", restore_dsn, str(dump)],
        check=True,
        timeout=120,
    )

    # The restored database: the same chain, its signed checkpoint, the same register and cases.
    assert main(["audit", "verify", "--full"], settings=restored) == 0
    out = capsys.readouterr().out
    assert f"audit chain OK: {rows.group(1)} rows" in out and "checkpoints OK: 1" in out
    assert main(["register", "export", str(tmp_path / "restored.jsonl")], settings=restored) == 0
    assert (tmp_path / "restored.jsonl").read_bytes() == (tmp_path / "live.jsonl").read_bytes()
    assert main(["migrate"], settings=restored) == 0  # already at the newest revision: nothing to do

    async def states(dsn: str) -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            query = "SELECT state FROM case_record WHERE id = ANY($1::text[]) ORDER BY id"
            return [row["state"] for row in await conn.fetch(query, case_ids)]
        finally:
            await conn.close()

    assert asyncio.run(states(restore_dsn)) == asyncio.run(states(pg_dsn)) and len(case_ids) == 2
