"""Small SQL helpers shared by the security stores: ON CONFLICT inserts and one-statement writes.

These run on every signed request, so statements are built once (compiled-cache friendly) and, on
PostgreSQL, a single-statement write runs in autocommit: one round trip instead of BEGIN/stmt/COMMIT.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite

from gateway.db import Database

__all__ = ["execute_alone", "insert_for"]


def insert_for(dialect: str, table: Table) -> Any:
    """`INSERT … ON CONFLICT` needs the dialect's own insert(); both expose the same on_conflict_* API."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def execute_alone(db: Database, statement: Executable, params: Mapping[str, Any]) -> CursorResult[Any]:
    """Run one statement as its own transaction (a single statement is atomic by itself)."""
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.execute(statement, dict(params))
    # SQLite: the Database's BEGIN IMMEDIATE discipline (writers queue for the lock instead of failing).
    async with db.engine.begin() as conn:
        return await conn.execute(statement, dict(params))
