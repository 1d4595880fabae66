"""Core statements compiled once and run on the asyncpg connection itself (PostgreSQL); SQLite uses SQLAlchemy.

On this machine SQLAlchemy's work around each execution (compiled-cache lookup, parameter and result
processing, the greenlet hop) costs ~0.15 ms of CPU, asyncpg's own ~0.04 ms; a submission runs a handful of
statements, so on its hot path the statement is compiled once here and its parameters are put in order and
converted with the same bind processors SQLAlchemy would use (JSON serialised, UTC datetimes checked).

Only public interfaces are used: the compiled SQL and its positional parameter names, each bind type's
dialect processor, and the driver connection (`driver_connection`). A statement runs on the driver only
inside a transaction already open on it (asyncpg's `is_in_transaction()`: a unit of work's, which
`Database.transaction` begins on the driver), or alone on a pooled connection that holds no transaction
(autocommit) — it never begins one itself. Otherwise it goes through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import ClauseElement, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from gateway.db.outages import is_outage

if TYPE_CHECKING:
    from gateway.db.database import Database

__all__ = ["Prepared"]

Row = Mapping[str, Any]
R = TypeVar("R")


async def _on_driver(conn: AsyncConnection, call: Awaitable[R]) -> R:
    """Await a statement sent on the asyncpg connection itself. SQLAlchemy does not see its errors, so when the
    connection broke under it (PostgreSQL restarting: the error can arrive before asyncpg marks the socket
    closed) the pooled connection is invalidated here; returned to the pool, it failed the next request
    that drew it ("another operation is in progress")."""
    try:
        return await call
    except Exception as exc:
        if is_outage(exc):
            await conn.invalidate(exc)
        raise


@dataclass(frozen=True)
class _Compiled:
    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


def _rowcount(status: str) -> int:
    """asyncpg's command status, e.g. "INSERT 0 1" or "UPDATE 3": the last number is the row count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class Prepared:
    """One statement; `fetch` its rows (mappings by column name) or `execute` it for its row count."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # By dialect instance (one per engine) and parameter names: an INSERT without .values() writes the
        # columns it is given, as SQLAlchemy compiles it.
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}

    def _for(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        found = self._compiled.get((id(dialect), keys))
        if found is None:
            compiled = cast(ClauseElement, self.statement).compile(dialect=dialect, column_keys=list(keys))
            assert isinstance(compiled, SQLCompiler)
            if "POSTCOMPILE" in compiled.string:
                raise ValueError("expanding parameters are not supported: use fixed binds")
            if compiled.insert_prefetch or compiled.update_prefetch:
                raise ValueError("columns with computed defaults are not supported: give their values")
            names = tuple(compiled.positiontup or ())
            processors = tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            )
            found = self._compiled[(id(dialect), keys)] = _Compiled(
                compiled.string, compiled, names, processors
            )
        return found

    def _arguments(self, dialect: Dialect, params: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        given = dict(params or {})
        compiled = self._for(dialect, tuple(given))
        values = compiled.compiled.construct_params(given)
        # As SQLAlchemy does: every value through its processor, None included (JSON decides what None is),
        # and a refused value (a naive datetime) raised as its StatementError.
        try:
            arguments = [
                values[name] if process is None else process(values[name])
                for name, process in zip(compiled.names, compiled.processors, strict=True)
            ]
        except (TypeError, ValueError) as exc:
            raise StatementError(str(exc), compiled.sql, given, exc) from exc
        return compiled.sql, arguments

    @staticmethod
    async def _driver(conn: AsyncConnection, *, in_transaction: bool) -> Any:
        """The asyncpg connection when it may be used directly here, else None."""
        if conn.dialect.name != "postgresql":
            return None
        driver = (await conn.get_raw_connection()).driver_connection
        return driver if driver is not None and driver.is_in_transaction() == in_transaction else None

    async def fetch(self, conn: AsyncConnection, params: Mapping[str, Any] | None = None) -> Sequence[Row]:
        """Rows of the statement in `conn`'s transaction."""
        driver = await self._driver(conn, in_transaction=True)
        if driver is None:
            return [cast(Row, row._mapping) for row in await conn.execute(self.statement, dict(params or {}))]
        sql, arguments = self._arguments(conn.dialect, params)
        return list(await _on_driver(conn, driver.fetch(sql, *arguments)))

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any] | None = None) -> int:
        """Run the statement in `conn`'s transaction; how many rows it changed (its main statement's)."""
        driver = await self._driver(conn, in_transaction=True)
        if driver is None:
            result = await conn.execute(self.statement, dict(params or {}))
            return int(result.rowcount)
        sql, arguments = self._arguments(conn.dialect, params)
        return _rowcount(await _on_driver(conn, driver.execute(sql, *arguments)))

    async def execute_alone(self, db: Database, params: Mapping[str, Any] | None = None) -> int:
        """Run the statement as its own transaction (one statement is atomic by itself); its row count.
        PostgreSQL: autocommit on a pooled connection, one round trip. SQLite: under BEGIN IMMEDIATE, so
        writers queue for the lock instead of failing."""
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                driver = await self._driver(conn, in_transaction=False)
                if driver is not None:
                    sql, arguments = self._arguments(conn.dialect, params)
                    return _rowcount(await _on_driver(conn, driver.execute(sql, *arguments)))
        async with db.engine.begin() as conn:
            result = await conn.execute(self.statement, dict(params or {}))
            return int(result.rowcount)

    async def fetch_alone(self, db: Database, params: Mapping[str, Any] | None = None) -> Sequence[Row]:
        """Rows of the statement run as its own transaction (see `execute_alone`)."""
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                driver = await self._driver(conn, in_transaction=False)
                if driver is not None:
                    sql, arguments = self._arguments(conn.dialect, params)
                    return list(await _on_driver(conn, driver.fetch(sql, *arguments)))
        async with db.engine.begin() as conn:
            return [cast(Row, row._mapping) for row in await conn.execute(self.statement, dict(params or {}))]
