"""A part of the stage that never stops is reported, with where it waits, instead of holding the run."""

from __future__ import annotations

import asyncio

import pytest

from sandbox import stage


async def never_stops(held: asyncio.Event) -> None:
    await held.wait()


async def test_a_part_that_hangs_is_named_with_the_line_each_pending_task_waits_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stage, "STOP_BOUND", 0.2)
    held = asyncio.Event()
    bystander = asyncio.create_task(never_stops(held), name="a delivery that ignores its stop")
    report = await stage._bounded("the gateway", never_stops(held))
    assert report is not None
    assert report.startswith("the gateway did not stop within 0.2 s")
    tasks = {line.split(":")[0].strip(): line for line in report.splitlines()[1:]}
    for name in ("task stopping the gateway", "task a delivery that ignores its stop"):
        # each with the coroutine it is suspended in and what that waits on inside
        assert "test_stage_stop.py" in tasks[name] and "never_stops" in tasks[name], report
        assert "locks.py" in tasks[name] and "wait" in tasks[name], report
    bystander.cancel()
    assert await stage._bounded("the gateway", asyncio.sleep(0)) is None


async def test_a_part_that_fails_to_stop_raises_its_own_error() -> None:
    async def refuses() -> None:
        raise OSError("port still bound")

    with pytest.raises(OSError, match="port still bound"):
        await stage._bounded("the banks", refuses())
