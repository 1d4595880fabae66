"""What a loop's tasks are waiting on: for reports of a hang (a stop that overruns, a test that times out)."""

from __future__ import annotations

import asyncio


def pending_tasks(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """Every task of the running loop but the caller's, each with the chain of awaits it is suspended in."""
    lines = []
    current = asyncio.current_task(loop)
    for task in asyncio.all_tasks(loop):
        if task is not current and not task.done():
            lines.append(f"  task {task.get_name()}: " + " -> ".join(_awaits(task.get_coro())))
    return "\n".join(lines) or "  (no other task)"


def _awaits(awaitable: object) -> list[str]:
    """Outermost first: each coroutine's file:line, then what the innermost waits on (a future, usually).
    Task.get_stack shows only the outermost frame of a suspended coroutine, not where it waits."""
    chain: list[str] = []
    while awaitable is not None and len(chain) < 40:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            chain.append(repr(awaitable)[:200])
            break
        chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return chain
