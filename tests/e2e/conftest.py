"""The whole gateway with every simulated party, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.jobs.retry import RetryPolicy
from sandbox.stage import Stage, StageOptions

FAST = RetryPolicy(schedule=(0, 0.3, 0.3, 0.5, 0.5, 1, 1, 1, 1, 2), jitter=0.1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def staged(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stage]:
    """A running stage on either database, with a short retry schedule."""
    database_url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    running = await Stage.start(
        StageOptions(data_dir=tmp_path / "stage", database_url=database_url, retry_policy=FAST)
    )
    try:
        yield running
    finally:
        await running.stop()
