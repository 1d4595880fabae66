"""Migrations: they build exactly the schema the tables describe, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from gateway.db import Database
from gateway.db.migrate import alembic_config
from gateway.db.tables import metadata


def test_the_revision_chain_is_linear() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1


async def test_autogenerate_finds_no_difference_between_tables_and_migrated_schema(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_downgrade_to_base_and_upgrade_again(db: Database) -> None:
    config = alembic_config(db.url_string)
    await asyncio.to_thread(command.downgrade, config, "base")

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    async with db.engine.connect() as conn:
        assert await conn.run_sync(tables) <= {"alembic_version"}
    await db.dispose()  # SQLite: the schema changed under the pooled connections
    await db.migrate()
    async with db.engine.connect() as conn:
        assert await conn.run_sync(tables) >= set(metadata.tables)
