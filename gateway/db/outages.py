"""Which exceptions mean "a dependency (PostgreSQL, SQLite's lock, Redis) is unavailable right now".

The HTTP layer answers these 503 with Retry-After instead of 500, and the background loops wait and retry.
The drivers spell an outage many ways, and some reach us raw (statements run on the asyncpg connection
itself, gateway.db.prepared) while others come wrapped by SQLAlchemy:

```
PostgreSQL restarting / stopped / crashed        what arrives
────────────────────────────────────────────────────────────────────────────────────────────────────
sessions terminated (57P01), crash (57P02)       asyncpg AdminShutdownError / CrashShutdownError,
                                                 or SQLAlchemy DBAPIError wrapping them
starting up, shutting down (57P03)               asyncpg CannotConnectNowError (raw or as DBAPIError)
connection lost mid-statement (class 08)         asyncpg ConnectionDoesNotExistError and the other
                                                 PostgresConnectionError, raw or wrapped
a pooled connection already closed               asyncpg InterfaceError "connection is closed";
                                                 SQLAlchemy InterfaceError / DBAPIError with
                                                 connection_invalidated
a pooled connection left mid-operation           asyncpg InternalClientError "another operation is
                                                 in progress"
nobody listening, reset, unreachable             ConnectionError, OSError with a network errno
too many connections (53300)                     asyncpg TooManyConnectionsError
SQLite busy / locked; any OperationalError       SQLAlchemy OperationalError
pool exhausted (QueuePool timeout)               sqlalchemy.exc.TimeoutError
Redis down                                       redis ConnectionError / TimeoutError
```
A bug (a syntax error, a constraint violation) is none of these and stays a 500.
"""

from __future__ import annotations

import errno
import socket

import asyncpg  # type: ignore[import-untyped]  # no stubs; only exception classes are used
import redis.exceptions
from sqlalchemy import exc as sa

__all__ = ["is_outage"]

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    socket.gaierror,  # the host name does not resolve (DNS down)
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    sa.OperationalError,
    sa.InterfaceError,  # SQLAlchemy's: the driver reports a closed or broken connection
    sa.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


# A plain OSError is an outage only with a network errno: a missing file is a bug, not an outage.
_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT}
    | {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


def _is_outage_alone(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGE_TYPES):
        return True
    if isinstance(exc, OSError) and (
        exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions: [Errno")
    ):
        return True  # asyncio's create_connection joins its per-address failures into one bare OSError
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    # asyncpg's InterfaceError is also raised for misuse; only its closed-connection form is an outage.
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    # A pooled connection whose server session ended mid-operation (a restart) can be drawn before asyncpg
    # has noticed; its next statement then fails with "another operation is in progress". Under a restart
    # that is about 1 request in 500; the connection is discarded (gateway.db.prepared) and the client
    # retries. (The same message from two tasks sharing a connection would be a bug: the log names it.)
    return isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc)


def is_outage(exc: BaseException) -> bool:
    """True when `exc`, or what it wraps (SQLAlchemy's `.orig`, an explicit `raise … from`), says a database
    or Redis is unreachable, restarting or refusing connections."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _is_outage_alone(current):
            return True
        seen.add(id(current))
        orig = current.orig if isinstance(current, sa.DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False
