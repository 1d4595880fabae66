"""Dispatchers: claim due outbox rows and run them in-process (embedded) or hand them to arq (Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import uuid
from typing import TYPE_CHECKING, Protocol

from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from gateway.db import Database
from gateway.db.outages import is_outage
from gateway.db.outbox import claim_due
from gateway.db.tables.infra import OutboxRow
from gateway.jobs.runner import DeliveryRunner
from gateway.jobs.sweeper import Sweeper
from gateway.logging import get_logger

if TYPE_CHECKING:
    from arq.connections import ArqRedis

__all__ = ["DELIVER_FUNCTION", "ArqDispatcher", "Dispatcher", "EmbeddedDispatcher", "job_id"]

log = get_logger("gateway.jobs.dispatch")
# The one arq function name; the outbox row's `job` picks the handler inside it.
DELIVER_FUNCTION = "deliver"

# `ArqRedis.enqueue_job` for a whole claimed batch in one round trip: for each job, exactly what arq does
# (skip an id whose job or result key exists; else the pickled job with its expiry, and the id in the queue at
# its score), atomically per script run where arq uses WATCH/MULTI. KEYS: the queue, then each job's job and
# result keys; ARGV: the expiry (ms), then each job's id, score and serialised job. Returns the refused ids.
_ENQUEUE_BATCH = """
local refused = {}
for i = 1, (#KEYS - 1) / 2 do
    local id, score, job = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
    if redis.call('EXISTS', KEYS[2 * i], KEYS[2 * i + 1]) == 0 then
        redis.call('PSETEX', KEYS[2 * i], ARGV[1], job)
        redis.call('ZADD', KEYS[1], score, id)
    else
        refused[#refused + 1] = id
    end
end
return refused
"""


def job_id(row: OutboxRow) -> str:
    """arq job id: row id and attempt, so a new attempt is never blocked by a finished one's keys."""
    return f"{row.id}:{row.attempts}"


class Dispatcher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def wake(self) -> None:
        """Look for due rows now (pass to `uow.after_commit` after writing an outbox row)."""
        ...


class _Loop:
    """A background task that claims rows on wake-ups and every `poll_interval`, and sweeps now and then."""

    def __init__(self, db: Database, *, poll_interval: float, sweeper: Sweeper | None, sweep_interval: float):
        self.db = db
        self.poll_interval = poll_interval
        self.sweeper = sweeper
        self.sweep_interval = sweep_interval
        # Unique per claim batch, so a settle or a stale job can tell this claim from a later one.
        self._id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._batches = itertools.count(1)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def claim_token(self) -> str:
        return f"{self._id}:{next(self._batches)}"

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._forever(), name=type(self).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            # asyncio.wait: the loop's CancelledError is not ours, and a cancel of our caller still reaches it.
            await asyncio.wait({self._task})
            self._task = None

    async def _forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        outage_since: float | None = None
        # The flag as well as the cancel: a cancel can be lost in library code awaited inside a pass (Python
        # 3.11's wait_for returns a result that was ready instead of raising), and the loop must still end.
        while not self._stopping:
            self._wake.clear()
            try:
                if self.sweeper is not None and loop.time() >= next_sweep:
                    next_sweep = loop.time() + self.sweep_interval
                    await self.sweeper.sweep()
                more = await self.dispatch_once()
            except Exception as exc:
                more = False
                if not is_outage(exc):
                    log.exception("dispatch pass failed")
                elif outage_since is None:
                    # The database or Redis is down: the outbox keeps the work. One line for the whole outage,
                    # not a traceback per pass.
                    outage_since = loop.time()
                    log.warning("dispatch paused: database or Redis unavailable", error=type(exc).__name__)
            else:
                if outage_since is not None:
                    log.warning("dispatch resumed", outage_seconds=round(loop.time() - outage_since, 1))
                    outage_since = None
                    # Sweep now: a Redis that restarted empty lost the queued jobs of claimed rows.
                    next_sweep = loop.time()
                    more = True
            if more:
                continue
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives just as a wake-up
            # lands, and then stop() waited for ever (tests/jobs/test_dispatcher_stop.py).
            with contextlib.suppress(TimeoutError):
                wait = self.poll_interval if outage_since is None else max(self.poll_interval, 0.5)
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def dispatch_once(self) -> bool:
        """Claim and hand over due rows; True when there may be more due right now."""
        raise NotImplementedError


class EmbeddedDispatcher(_Loop):
    """Runs deliveries as tasks of this process, at most `concurrency` at once (the embedded mode)."""

    def __init__(
        self,
        db: Database,
        runner: DeliveryRunner,
        *,
        concurrency: int = 16,
        poll_interval: float = 1.0,
        sweeper: Sweeper | None = None,
        sweep_interval: float = 15.0,
    ) -> None:
        super().__init__(db, poll_interval=poll_interval, sweeper=sweeper, sweep_interval=sweep_interval)
        self.runner = runner
        self.concurrency = concurrency
        self._running: set[asyncio.Task[object]] = set()

    async def dispatch_once(self) -> bool:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return False  # a finishing delivery wakes the loop
        rows = await claim_due(self.db, self.claim_token(), free)
        for row in rows:
            task = asyncio.create_task(self.runner.run(row), name=f"deliver {row.id}")
            self._running.add(task)
            task.add_done_callback(self._finished)
        return len(rows) == free

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task crashed", error=repr(task.exception()))
        self.wake()

    async def stop(self) -> None:
        await super().stop()
        # Running deliveries stay in flight in the outbox; the sweeper re-queues them after `stale_after`.
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def drain(self) -> None:
        """Wait for the deliveries running now (tests and graceful shutdown)."""
        await asyncio.gather(*list(self._running), return_exceptions=True)


class ArqDispatcher(_Loop):
    """Enqueues due rows to arq with `_job_id = "<row id>:<attempt>"`; arq only triggers and executes."""

    def __init__(
        self,
        db: Database,
        pool: ArqRedis,
        *,
        queue_name: str,
        max_queued: int = 200,
        poll_interval: float = 1.0,
        sweeper: Sweeper | None = None,
        sweep_interval: float = 15.0,
    ) -> None:
        super().__init__(db, poll_interval=poll_interval, sweeper=sweeper, sweep_interval=sweep_interval)
        self.pool = pool
        self.queue_name = queue_name
        # Back-pressure: rows stay pending in the database rather than queued in Redis, so `claimed_at`
        # stays close to when a worker starts them and the sweeper's stale rule stays meaningful.
        self.max_queued = max_queued
        self._script = pool.register_script(_ENQUEUE_BATCH)

    async def dispatch_once(self) -> bool:
        room = self.max_queued - int(await self.pool.zcard(self.queue_name))
        if room <= 0:
            return False
        rows = await claim_due(self.db, self.claim_token(), room)
        if rows:
            await self._enqueue(rows)
        return len(rows) == room

    async def _enqueue(self, rows: list[OutboxRow]) -> None:
        """Enqueue the claimed rows as arq jobs, as `enqueue_job` would one by one, in one round trip."""
        now = timestamp_ms()
        keys: list[str] = [self.queue_name]
        args: list[str | int | bytes] = [self.pool.expires_extra_ms]
        for row in rows:
            jid = job_id(row)
            job = serialize_job(
                DELIVER_FUNCTION,
                (row.id, row.attempts, row.claimed_by),
                {},
                None,
                now,
                serializer=self.pool.job_serializer,
            )
            keys += [job_key_prefix + jid, result_key_prefix + jid]
            args += [jid, now, job]
        refused = await self._script(keys=keys, args=args)
        for refused_id in refused:
            jid = refused_id.decode() if isinstance(refused_id, bytes) else str(refused_id)
            # arq refused the id: a job for this very attempt already exists, so it is queued. Fine.
            log.warning("arq job already exists", delivery_id=jid.partition(":")[0], job_id=jid)
