"""The arq worker: one `deliver` function that runs an outbox row; retry state stays in the outbox.

arq pitfalls handled here (reliability.md A4): a killed job is not re-run by arq (`max_tries=1`); the
sweeper re-queues its row instead. `keep_result=0` at worker level, so no result key blocks an id, and
job ids carry the attempt. `poll_delay` and `max_jobs` are raised from the defaults that cap a worker
near 200 jobs/s. SIGTERM lets running jobs finish (`job_completion_wait`).
"""

from __future__ import annotations

import warnings
from typing import Any

from arq import Worker
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.worker import func

from gateway.db.tables.infra import OutboxRow
from gateway.jobs.dispatch import DELIVER_FUNCTION, job_id
from gateway.jobs.runner import DeliveryRunner
from gateway.jobs.sweeper import JobProbe
from gateway.settings import JobSettings

__all__ = ["arq_probe", "build_worker", "close_worker", "deliver"]

RUNNER = "gateway_runner"


async def deliver(ctx: dict[str, Any], row_id: str, attempt: int, claim: str) -> str:
    """arq job: run the outbox row if this job still holds its claim; returns the outcome (for logs)."""
    runner: DeliveryRunner = ctx[RUNNER]
    return str(await runner.run_claimed(row_id, attempt, claim))


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

    return Worker(
        functions=[func(deliver, name=DELIVER_FUNCTION, timeout=jobs.job_timeout_seconds, max_tries=1)],
        queue_name=jobs.arq_queue,
        redis_settings=redis_settings,
        on_startup=on_startup,
        max_jobs=jobs.arq_max_jobs,
        poll_delay=jobs.arq_poll_delay_seconds,
        keep_result=0,
        max_tries=1,
        job_completion_wait=int(jobs.job_timeout_seconds),
        handle_signals=handle_signals,
        burst=burst,
    )


async def close_worker(worker: Worker) -> None:
    """`Worker.close()`, without the deprecation warning of the redis-py `close()` that arq 0.28 still calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Call to deprecated close", category=DeprecationWarning)
        await worker.close()
