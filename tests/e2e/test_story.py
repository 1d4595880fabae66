"""The main job as a test: the whole story over HTTP, on the embedded default and on PostgreSQL + Redis
with two gateway processes and two workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.stage import Stage, StageOptions
from sandbox.story import Outcome, walk


def check(outcomes: list[Outcome], stage: Stage) -> None:
    assert [o.state for o in outcomes] == [o.expected_state for o in outcomes], [
        (o.title, o.state) for o in outcomes
    ]
    numbers = [n for o in outcomes for n in o.certificates]
    assert len(numbers) == 4 and len(set(numbers)) == len(numbers), numbers
    transfer = next(o for o in outcomes if o.kind == "transfer")
    assert transfer.utilities == "4/4 已办结"
    # Each provider applied the transfer exactly once, however often it was delivered.
    books = stage.utilities.books()
    assert {code: book.applied_effects for code, book in books.items()} == {code: 1 for code in books}
    refused = next(o for o in outcomes if o.state == "refused")
    assert "查封" in refused.refusal
    for o in outcomes:
        if o.seconds_to_certificate is not None:
            assert o.within_one_hour


async def test_the_story_on_the_embedded_default(tmp_path: Path) -> None:
    stage = await Stage.start(StageOptions(data_dir=tmp_path / "demo"))
    try:
        check(await walk(stage, progress=lambda _: None, patience=60), stage)
    finally:
        await stage.stop()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
async def test_the_story_on_postgres_and_redis_with_two_processes_and_two_workers(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    stage = await Stage.start(
        StageOptions(data_dir=tmp_path / "demo", database_url=pg_url, redis_url=redis_url, processes=2)
    )
    try:
        check(await walk(stage, progress=lambda _: None, patience=90), stage)
        assert sum(1 for c in stage.children if c.returncode is None) == 3, (
            "serve supervisor + 2 workers running"
        )
    finally:
        await stage.stop()
