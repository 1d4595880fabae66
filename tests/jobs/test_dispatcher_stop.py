"""Stopping the dispatcher always ends its loop, even when a wake-up lands at the moment of the stop.

On Python 3.11 `asyncio.wait_for` returns the inner result when the task is cancelled just after the inner
wait finished: the cancellation is swallowed. The dispatcher waited for wake-ups that way, so a stop racing
a wake-up (an after-commit callback, a finishing delivery) left the loop running and `stop()` waiting for it
for ever: `gateway serve` did not exit, and a test's teardown hung.
"""

from __future__ import annotations

import asyncio

from gateway.db import Database
from gateway.jobs.dispatch import EmbeddedDispatcher
from gateway.jobs.runner import DeliveryRunner


async def test_stop_ends_the_loop_even_when_a_wake_up_lands_at_the_same_moment(database: Database) -> None:
    # Every interleaving of the wake-up with the loop's own steps: 0 to 5 loop turns between them.
    for turns in range(6):
        # The runner is never called (the outbox is empty); the poll is long, so only a wake-up moves it.
        idle_runner = DeliveryRunner.__new__(DeliveryRunner)
        dispatcher = EmbeddedDispatcher(database, idle_runner, poll_interval=30, sweeper=None)
        await dispatcher.start()
        await asyncio.sleep(0.2)  # one pass over the empty outbox, then waiting for a wake-up
        dispatcher.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        loop_task = dispatcher._task
        assert loop_task is not None
        stopping = asyncio.create_task(dispatcher.stop())
        # asyncio.wait, not wait_for: a stop that hangs must stay visible, not be cancelled into returning.
        await asyncio.wait({stopping}, timeout=5)
        try:
            assert stopping.done(), (
                f"stop() hangs: a wake-up {turns} loop turns before it kept the loop alive"
            )
            assert loop_task.done()
        finally:
            loop_task.cancel()
            await asyncio.wait({stopping})
