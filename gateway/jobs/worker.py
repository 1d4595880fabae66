"""The arq worker: one `deliver` function that runs an outbox row; retry state stays in the outbox.

arq pitfalls handled here (reliability.md A4): a job whose worker died is re-run by arq once its
in-progress lock expires, after `crash_recovery_seconds` (not arq's longest timeout + 10 s; JobSettings
says why it never runs twice at once), at most CRASH_RERUNS times before the sweeper re-queues its row as a
new attempt; a re-run still checks the row's claim. `keep_result=0` at worker level, so no result key
blocks an id, and job ids carry the attempt. `poll_delay` and `max_jobs` are raised from the defaults that
cap a worker near 200 jobs/s. SIGTERM lets running jobs finish (`job_completion_wait`).

arq's own worker ends at the first Redis error (python-arq/arq#300: it is not built for a Redis that goes
away): `create_pool` gives up after its few retries and any error in the poll loop ends `main()`. A worker
that exits leaves deliveries to a process supervisor; without one they stopped altogether. So
`DeliveryWorker` rides out an outage of any length: one warning when Redis goes, a wait with capped
exponential backoff, one warning when it is back, and the poll loop resumes. Jobs running meanwhile go on
(they need the database and the party, not Redis). The outbox keeps every delivery whatever Redis lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random
import signal
import warnings
from typing import Any

from arq import Worker
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.utils import poll, timestamp_ms
from arq.worker import func
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.db.database import Database
from gateway.db.outages import is_outage
from gateway.db.tables.infra import OutboxRow
from gateway.jobs.dispatch import DELIVER_FUNCTION, job_id
from gateway.jobs.runner import DeliveryRunner
from gateway.jobs.sweeper import JobProbe
from gateway.logging import get_logger
from gateway.settings import JobSettings

__all__ = ["DeliveryWorker", "arq_probe", "build_worker", "close_worker", "deliver", "worker_database"]

log = get_logger("gateway.worker")
RUNNER = "gateway_runner"
# After the runner's timeout, the time to settle the outbox row before arq cancels the job (settings.py:
# RECOVERY_MARGIN_SECONDS keeps the in-progress lock longer than both).
SETTLE_SECONDS = 1.0
# How often arq itself starts a job again whose worker died or was stopped mid-job (the row's claim still
# this job's); after that the job fails in arq, and the sweeper re-queues its row as a new attempt.
CRASH_RERUNS = 2
# arq's start of a job (its in-progress key set only if the key is absent and the job is queued and due), for
# each job of a poll in one script run: atomic per job as arq's WATCH/MULTI is, in one round trip instead of
# four per job. KEYS: the queue, then each job's in-progress key; ARGV: now (ms, the worker's clock, as arq),
# the key's expiry (ms), then the job ids. Returns per job its score, or 0 when it is not ours to start.
_START_JOBS = """
local started = {}
for i = 2, #KEYS do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i + 1])
    if score and tonumber(score) ~= 0 and tonumber(score) <= tonumber(ARGV[1])
            and redis.call('EXISTS', KEYS[i]) == 0 then
        redis.call('PSETEX', KEYS[i], ARGV[2], '1')
        started[i - 1] = score
    else
        started[i - 1] = 0
    end
end
return started
"""
# What a Redis that is down, restarting or unreachable raises (OSError: refused, reset, timed out).
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


async def deliver(ctx: dict[str, Any], row_id: str, attempt: int, claim: str) -> str:
    """arq job: run the outbox row if this job still holds its claim; returns the outcome (for logs)."""
    runner: DeliveryRunner = ctx[RUNNER]
    try:
        return str(await runner.run_claimed(row_id, attempt, claim))
    except Exception as exc:
        if not is_outage(exc):
            raise
        # The database went away under the attempt (or before it): the row stays in flight with this claim,
        # and once this job is gone the sweeper re-queues it. One line, not arq's traceback per queued job.
        log.warning(
            "delivery interrupted: database unavailable", delivery_id=row_id, error=type(exc).__name__
        )
        return "interrupted"


def worker_database(url: str) -> Database:
    """The worker process's database: every pooled connection kept, as many as the default pool opens at most
    (20 + 10 overflow). The jobs of a poll start together, so their statements come in bursts that draw more
    than 20 connections at once; overflow connections were closed after each burst and opened again for the
    next, a PostgreSQL backend fork each (~40 more connections per 2,400 jobs in bench_utilities)."""
    return Database(url, pool_size=30, max_overflow=0)


def arq_probe(pool: ArqRedis) -> JobProbe:
    """The sweeper's question for arq: is the row's job still queued or running?"""

    async def known(row: OutboxRow) -> bool:
        jid = job_id(row)
        return bool(await pool.exists(job_key_prefix + jid, in_progress_key_prefix + jid))

    return known


def build_worker(
    runner: DeliveryRunner,
    redis_settings: RedisSettings,
    jobs: JobSettings,
    *,
    burst: bool = False,
    handle_signals: bool = True,
) -> Worker:
    """An arq Worker for the delivery queue, with `runner` available to every job."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx[RUNNER] = runner

    worker = DeliveryWorker(
        # arq's timeout: the runner's own (job_timeout_seconds, on the party calls) plus 1 s to settle the row.
        functions=[
            func(
                deliver,
                name=DELIVER_FUNCTION,
                timeout=jobs.job_timeout_seconds + SETTLE_SECONDS,
                max_tries=CRASH_RERUNS + 1,
            )
        ],
        queue_name=jobs.arq_queue,
        redis_settings=redis_settings,
        on_startup=on_startup,
        max_jobs=jobs.arq_max_jobs,
        poll_delay=jobs.arq_poll_delay_seconds,
        keep_result=0,
        max_tries=CRASH_RERUNS + 1,
        job_completion_wait=math.ceil(jobs.job_timeout_seconds + SETTLE_SECONDS),
        handle_signals=handle_signals,
        burst=burst,
    )
    # arq derives the lock's expiry as the longest timeout + 10 s; ours is the setting (JobSettings explains
    # why it can never expire under a live attempt).
    worker.in_progress_timeout_s = jobs.recovery_seconds
    return worker


class DeliveryWorker(Worker):
    """arq's Worker, riding out Redis outages instead of exiting (see the module docstring)."""

    # Waits between probes while Redis is away: doubling from the first to the last, with jitter so that
    # many workers do not reconnect in step.
    backoff_first_seconds = 0.1
    backoff_max_seconds = 5.0
    # The pool the start script is registered on, and the script (see `_mark_in_progress`).
    _start_script: tuple[ArqRedis, AsyncScript] | None = None

    async def main(self) -> None:
        while self._pool is None:
            try:
                # No retries inside create_pool (each logs and sleeps); an outage is handled below.
                settings = dataclasses.replace(self.redis_settings or RedisSettings(), conn_retries=0)
                self._pool = await create_pool(
                    settings,
                    job_serializer=self.job_serializer,
                    job_deserializer=self.job_deserializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_DOWN as exc:
                await self._ride_out(exc, connected=False)
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        async for _ in poll(self.poll_delay_s):
            try:
                await self._poll_iteration()
                if self.burst and await self._burst_done():
                    return
            except REDIS_DOWN as exc:
                await self._ride_out(exc, connected=True)

    async def _burst_done(self) -> bool:
        """arq's burst-mode end: the job budget spent, or the queue empty; running jobs finish first."""
        if 0 <= self.max_burst_jobs <= self._jobs_started() or await self.pool.zcard(self.queue_name) == 0:
            await asyncio.gather(*self.tasks.values())
            return True
        return False

    async def _ride_out(self, error: BaseException, *, connected: bool) -> None:
        """Wait until Redis answers again: one warning now, one when it is back."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        log.warning(
            "redis unavailable: waiting for it; running deliveries go on",
            error=f"{type(error).__name__}: {error}",
            queue=self.queue_name,
        )
        delay = self.backoff_first_seconds
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff_max_seconds)
            try:
                if connected:
                    await self.pool.ping()
                else:
                    settings = dataclasses.replace(self.redis_settings or RedisSettings(), conn_retries=0)
                    probe = await create_pool(settings)
                    await probe.aclose()
                break
            except REDIS_DOWN:
                continue
        log.warning(
            "redis available again: deliveries resume", outage_seconds=round(loop.time() - started, 1)
        )

    async def run_job(self, job_id: str, score: int) -> None:
        """arq's run_job; when Redis goes away around the job (arq could not read, start or finish it), that
        is the outage the poll loop reports, not a job error: the outbox row is settled by the runner or,
        its job lost, re-queued by the sweeper. Raised here, it surfaced from a later poll as a new outage."""
        try:
            await super().run_job(job_id, score)
        except REDIS_DOWN as exc:
            log.info("job bookkeeping in redis lost to the outage", job_id=job_id, error=type(exc).__name__)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's start_jobs, with the jobs of a poll marked in progress together (`_START_JOBS`, one round
        trip for the batch where arq spends four per job), and an error while marking them (Redis went away)
        giving back the job slots they took: arq's leaked them, and after `max_jobs` outages a worker ran
        nothing. As in arq, a job waits for a free slot, and a poll starts no more jobs than `max_jobs`."""
        pending = [job_id_b.decode() for job_id_b in job_ids]
        while pending:
            await self.sem.acquire()  # at least one slot: waits while `max_jobs` run, as arq does
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            batch = [pending.pop(0)]
            self.job_counter += 1
            # Every other slot free now, without waiting (acquiring an unlocked semaphore does not yield).
            while pending and not self.sem.locked() and self.job_counter < self.max_jobs:
                await self.sem.acquire()
                batch.append(pending.pop(0))
                self.job_counter += 1
            try:
                scores = await self._mark_in_progress(batch)
            except BaseException:
                for _ in batch:
                    self._release_sem_dec_counter_on_complete()
                raise
            for started, score in zip(batch, scores, strict=True):
                if score is None:  # running elsewhere, finished, or deferred
                    self._release_sem_dec_counter_on_complete()
                    continue
                task = self.loop.create_task(self.run_job(started, score))
                task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                self.tasks[started] = task

    async def _mark_in_progress(self, job_ids: list[str]) -> list[int | None]:
        """Set each job's in-progress key, atomically with checking that nobody runs it and it is due (as arq
        does with WATCH/MULTI); per job, its queue score, or None when it is not ours to start."""
        if self._start_script is None or self._start_script[0] is not self.pool:
            self._start_script = (self.pool, self.pool.register_script(_START_JOBS))
        keys = [self.queue_name, *(in_progress_key_prefix + job_id for job_id in job_ids)]
        args: list[str | int] = [timestamp_ms(), int(self.in_progress_timeout_s * 1000), *job_ids]
        scores = await self._start_script[1](keys=keys, args=args)
        return [int(float(score)) if score else None for score in scores]

    async def close(self) -> None:
        """arq's close, but an absent Redis does not turn a clean shutdown into a crash."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if self._pool is None:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose()
        self._pool = None


async def close_worker(worker: Worker) -> None:
    """`Worker.close()`, without the deprecation warning of the redis-py `close()` that arq 0.28 still calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Call to deprecated close", category=DeprecationWarning)
        await worker.close()
