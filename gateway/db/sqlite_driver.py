"""The SQLite engine's driver connections: aiosqlite's own, with `stop()` safe to call twice.

aiosqlite (0.22) runs each connection on a worker thread; `stop()` queues a "close, then end" item for it and
returns a future the thread resolves. Each call queues another such item, but the thread ends at the first,
so a second call's future is never resolved. `close()` calls `stop()` last and awaits that future.

SQLAlchemy calls both on one connection when a task is cancelled twice while it holds the connection:
- the first cancel, mid-statement, invalidates the connection, and SQLAlchemy closes it in a shielded task
  (`close()`), waiting for it;
- the second cancel ends that wait, and SQLAlchemy forces the close (`stop()`) instead.
The shielded `close()` then reaches its own `stop()` after the thread has ended, and waits for ever; so does
whatever cancels or awaits it. asyncio's teardown of a loop hung on it (a CI run sat out pytest's 300 s in a
test's teardown), and a gateway stopping with deliveries in flight could too.

Here a later `stop()` follows the first one's future instead of queuing behind a thread that has ended.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.engine import URL


class _Connection(aiosqlite.Connection):
    _stopped = False
    _first_stop: asyncio.Future[Any] | None = None

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._stopped:
            self._stopped = True
            self._first_stop = super().stop()
            return self._first_stop
        first = self._first_stop
        if first is None:  # the first stop came without an event loop: nothing to wait on then either
            return None
        follower: asyncio.Future[Any] = first.get_loop().create_future()

        def follow(_: asyncio.Future[Any]) -> None:
            if not follower.done():
                follower.set_result(None)

        first.add_done_callback(follow)
        return follower


def connection_factory(url: URL) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """For `create_async_engine(url, async_creator=…)`: connections as aiosqlite.connect makes them for `url`,
    with the arguments SQLAlchemy's own dialect would pass."""
    args, kwargs = url.get_dialect()().create_connect_args(url)

    async def connect() -> aiosqlite.Connection:
        connection = _Connection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
        # As SQLAlchemy does with aiosqlite's own connect: a connection never closed does not hold up the
        # process's exit (aiosqlite 0.22 made its threads non-daemon).
        connection._thread.daemon = True
        return await connection

    return connect
