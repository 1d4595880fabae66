"""The async database façade: one engine for SQLite (aiosqlite) or PostgreSQL (asyncpg), same code for both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db import sqlite_driver
from gateway.db.outages import is_outage
from gateway.db.uow import UnitOfWork
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from certs import FieldCipher

__all__ = ["Database"]

# How long a SQLite writer waits for the write lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option marking the read-only engine, whose SQLite transactions start DEFERRED.
_READ_ONLY = "gateway_read_only"
_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}", "数据库地址格式错误") from exc
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(
            f"unsupported database {backend!r}: use sqlite+aiosqlite:///path or postgresql+asyncpg://…",
            f"不支持的数据库 {backend}：请使用 SQLite 或 PostgreSQL",
        )
    if parsed.get_driver_name() != _DRIVERS[backend]:
        # `sqlite:///x.db` and `postgresql://…` are what people type; the async drivers are implied.
        parsed = parsed.set(drivername=f"{backend}+{_DRIVERS[backend]}")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(
            "SQLite needs a file: every connection of an in-memory database would see its own empty database",
            "SQLite 须使用数据库文件（内存数据库在每个连接中各自为空）",
        )
    return parsed


class Database:
    """The gateway's database. Nothing connects until first use; `dispose()` closes the pool."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int | None = None,
        sqlite_foreign_keys: bool = True,
    ) -> None:
        self.url = _normalise_url(url)
        self.dialect: Literal["sqlite", "postgresql"] = (
            "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        )
        # `pool_size` connections stay open. Beyond them the pool opens overflow connections and closes each
        # as it is returned, and on PostgreSQL every new one costs a backend fork and asyncpg's type set-up
        # (a few ms of CPU on both sides): at ~16 requests in flight per process a pool of 10 churned dozens a
        # second. So the kept pool covers the usual concurrency, and the overflow (by default half as many)
        # only bursts; a process whose load comes in bursts keeps them all instead (`max_overflow=0`).
        kwargs: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": pool_size // 2 if max_overflow is None else max_overflow,
            "json_serializer": _json_text,
        }
        if self.dialect == "postgresql":
            kwargs["connect_args"] = {"server_settings": {"timezone": "UTC", "application_name": "gateway"}}
        else:
            kwargs["async_creator"] = sqlite_driver.connection_factory(self.url)  # see that module
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _install_sqlite_transactions(self.engine, foreign_keys=sqlite_foreign_keys)
        else:
            _refuse_closed_connections(self.engine)
        self._read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @property
    def url_string(self) -> str:
        """The URL with its password, for handing to a migration run in another thread."""
        return self.url.render_as_string(hide_password=False)

    def session(self) -> AsyncSession:
        """A session for reading. On SQLite its transactions are DEFERRED, so readers never wait for writers;
        do not write through it (a write there could fail to upgrade its lock): use `transaction()`."""
        return AsyncSession(self._read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work: commit on success (audit records and outbox rows included), roll back on any
        exception, then run the after-commit callbacks."""
        if self.dialect == "postgresql":
            async with self._driver_transaction() as uow:
                yield uow
            await uow._after_commit_callbacks()
            return
        async with self.engine.connect() as conn:
            transaction = await conn.begin()
            uow = UnitOfWork(conn, self.dialect)
            try:
                yield uow
                await uow._before_commit()
                await transaction.commit()
            except BaseException:
                if transaction.is_active:  # a failed ORM flush has already rolled it back
                    await transaction.rollback()
                raise
            finally:
                await uow._close()
        await uow._after_commit_callbacks()

    @asynccontextmanager
    async def _driver_transaction(self) -> AsyncIterator[UnitOfWork]:
        """PostgreSQL: the transaction is asyncpg's own, on a connection SQLAlchemy holds in autocommit.

        SQLAlchemy's asyncpg adapter begins lazily, inside the first statement it runs; so the hot paths'
        statements, which run on the driver once a transaction is open (gateway.db.prepared), found none and
        went through SQLAlchemy (~0.1 ms more each transaction), and begin/commit took greenlet hops. Here
        asyncpg sends BEGIN and COMMIT; SQLAlchemy, in autocommit, never starts or ends a transaction of its
        own on this connection, so whatever runs through it (Core statements, the ORM session) runs inside
        this one. The context manager rolls back on any exception, cancellation included."""
        async with self._autocommit_engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            uow = UnitOfWork(conn, self.dialect)
            try:
                async with driver.transaction():
                    yield uow
                    await uow._before_commit()
            except Exception as exc:
                if is_outage(exc):  # BEGIN, COMMIT or ROLLBACK met a broken connection: never pool it again
                    await conn.invalidate(exc)
                raise
            finally:
                await uow._close()

    async def migrate(self, field_cipher: FieldCipher | None = None, blob_dir: Path | None = None) -> None:
        """`alembic upgrade head`, in a thread (Alembic is synchronous and runs its own event loop).

        `field_cipher`: the PII keys, for revisions that re-encrypt stored ID numbers (0011); `blob_dir`: the
        blob store, for the revision that moves materials and certificate files there (0015)."""
        from gateway.db.migrate import upgrade  # Alembic is only imported by whoever migrates

        if self.dialect == "sqlite" and self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, self.url_string, "head", field_cipher, blob_dir)

    async def require_current_schema(self) -> None:
        """Refuse to serve a database that `gateway migrate` has not brought to this code's revision: every
        request would otherwise fail on a missing table or column, each with a traceback."""
        from gateway.db.migrate import known_revisions

        async with self.engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            current = (
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
                if "alembic_version" in tables
                else None
            )
        head, *older = known_revisions()
        # A revision this code does not know is newer (migrated ahead of a rolling deployment): served.
        if current is None or current in older:
            raise ConfigError(
                f"the database is at revision {current or 'none'}, this gateway needs {head}: run `gateway migrate`",
                f"数据库版本为 {current or '无'}，本网关需要 {head}：请先运行 `gateway migrate`",
            )

    async def dispose(self) -> None:
        await self.engine.dispose()


def _json_text(value: Any) -> str:
    """JSON columns' text: orjson, ~7x faster than json.dumps here (the JSON of a submission's rows was ~4%
    of its CPU). Compact, UTF-8 kept as is, like json.dumps(ensure_ascii=False, separators=(",", ":")).
    Values reach it as plain JSON (json_ready, model_dump(mode="json")); non-string keys become strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _refuse_closed_connections(engine: AsyncEngine) -> None:
    """PostgreSQL: never hand out a pooled connection the server has already closed.

    Statements on the hot paths run on the asyncpg connection itself (gateway.db.prepared), so when one fails
    because PostgreSQL restarted, SQLAlchemy never sees the error and never invalidates the connection; and
    a restart closes the idle pooled connections too. Without this, such dead connections went back to the
    pool and every request that drew one failed ("connection is closed") long after PostgreSQL was back.
    asyncpg knows locally that its socket is gone (`is_closed()`: no round trip, unlike pool_pre_ping), and
    DisconnectionError at checkout makes the pool discard the connection and open a fresh one."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # SQLAlchemy counts an error as a disconnect only if asyncpg has marked the socket closed by then; a
        # terminated session's FATAL error (57P01) arrives before that, and the connection went back to the
        # pool half-dead. Every outage form (gateway.db.outages) invalidates the connection instead.
        if not context.is_disconnect and is_outage(context.original_exception):
            context.is_disconnect = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


def _install_sqlite_transactions(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    """SQLAlchemy's recipe for SQLite transactions we control: the driver's own BEGIN handling is switched
    off on connect, and we emit BEGIN ourselves — IMMEDIATE for writers, so a writer takes the write lock at
    its start and waits (busy_timeout) instead of failing later when it upgrades a read lock."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
