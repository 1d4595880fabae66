"""Alembic environment: migrates the URL handed over by `Database.migrate()` (or the settings' URL)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import AutoString

from gateway.db.database import Database
from gateway.db.tables import metadata
from gateway.db.types import UTCDateTime

config = context.config
if config.config_file_name is not None:  # the `alembic` command line with alembic.ini
    fileConfig(config.config_file_name)


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return str(url)
    from gateway.settings import Settings  # the `alembic` command line: the same settings as the gateway

    return Settings().effective_database_url()


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revision files use plain SQLAlchemy types, so they do not break when gateway/sqlmodel code moves.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _skip_empty(context_: Any, revision: Any, directives: list[Any]) -> None:
    # `python -m gateway.db.revision` asks not to write a revision that would change nothing.
    if config.attributes.get("skip_empty") and directives and directives[0].upgrade_ops.is_empty():
        directives[:] = []


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        # Our SQLite connections emit their own BEGIN, so DDL is transactional there too: a failed
        # migration leaves the schema as it was.
        transactional_ddl=True,
        render_item=_render_item,
        compare_type=True,
        process_revision_directives=_skip_empty,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    # Foreign keys off while migrating SQLite: batch mode drops and recreates tables.
    database = Database(_url(), pool_size=1, sqlite_foreign_keys=False)
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await database.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
asyncio.run(_run_online())
