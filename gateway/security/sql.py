"""Small SQL helper shared by the security stores: the dialect's INSERT for ON CONFLICT.

The stores' statements run on every signed request: they are built once and run alone through
`gateway.db.prepared.Prepared` (autocommit on PostgreSQL: one round trip instead of BEGIN/stmt/COMMIT).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_for"]


def insert_for(dialect: str, table: Table) -> Any:
    """`INSERT … ON CONFLICT` needs the dialect's own insert(); both expose the same on_conflict_* API."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
