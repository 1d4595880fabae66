"""Persistence: the async `Database` façade (SQLite or PostgreSQL), the unit of work, tables and migrations."""

from gateway.db.database import Database
from gateway.db.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork"]
