"""The main job as a test: the whole story over HTTP, on the embedded default and on PostgreSQL + Redis
with two gateway processes and two workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.seed import UNITS
from sandbox.stage import Stage, StageOptions
from sandbox.story import Outcome, walk

# The register after the story, unit by unit, as a lender reads it (owners masked):
# (owners, [(mortgagee, rank)], [pre-registration kinds], seizures, objections)
STORY_REGISTER: dict[str, tuple[list[str], list[tuple[str, int]], list[str], int, int]] = {
    UNITS.single_owner: (["张*"], [("psbc-dg", 1)], [], 0, 0),  # ① mortgaged to PSBC
    UNITS.mortgaged_to_dgb: (["孙*"], [], [], 0, 0),  # ② DGB's mortgage released
    UNITS.co_owned_mortgaged: (["刘*"], [("boc-dg", 1)], [], 0, 0),  # ③ sold, ICBC out, BOC in
    # ④ 陈静 owns her flat, CCB's 预抵押 is a mortgage, both pre-registrations are gone
    UNITS.presale: (["陈*"], [("ccb-dg", 1)], [], 0, 0),
    UNITS.for_sale: ([], [], [], 0, 0),  # ⑤ a filed contract, no right yet
    UNITS.seized: (["赵*"], [], [], 1, 0),  # ⑥ refused: still seized, nothing added
    UNITS.with_objection: (["黄*"], [], [], 0, 1),
    UNITS.pre_registered_sale: (["吴*"], [], ["purchase"], 0, 0),
}


async def read_register(
    stage: Stage,
) -> dict[str, tuple[list[str], list[tuple[str, int]], list[str], int, int]]:
    bank = stage.bank("psbc-dg")
    found = {}
    for unit_code in STORY_REGISTER:
        reply = await bank.get(f"/api/v1/units/{unit_code}")
        assert reply.status == 200, reply.body
        view = reply.json()
        found[unit_code] = (
            view["owners"],
            [(m["summary"]["mortgagee"]["code"], m["rank"]) for m in view["mortgages"]],
            [p["summary"]["pre_kind"] for p in view["pre_registrations"]],
            len(view["seizures"]),
            len(view["objections"]),
        )
    return found


async def check(outcomes: list[Outcome], stage: Stage) -> None:
    assert [o.state for o in outcomes] == [o.expected_state for o in outcomes], [
        (o.title, o.state) for o in outcomes
    ]
    numbers = [n for o in outcomes for n in o.certificates]
    assert len(numbers) == 5 and len(set(numbers)) == len(numbers), numbers
    transfer = next(o for o in outcomes if o.kind == "transfer")  # ③, with the utilities
    assert transfer.utilities == "4/4 已办结"
    # Each provider applied the transfer exactly once, however often it was delivered.
    books = stage.utilities.books()
    assert {code: book.applied_effects for code, book in books.items()} == {code: 1 for code in books}
    refused = next(o for o in outcomes if o.state == "refused")
    assert "查封" in refused.refusal
    for o in outcomes:
        if o.seconds_to_certificate is not None:
            assert o.within_one_hour
    assert await read_register(stage) == STORY_REGISTER


async def test_the_story_on_the_embedded_default(tmp_path: Path) -> None:
    stage = await Stage.start(StageOptions(data_dir=tmp_path / "demo"))
    try:
        await check(await walk(stage, progress=lambda _: None, patience=60), stage)
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
        await check(await walk(stage, progress=lambda _: None, patience=90), stage)
        assert sum(1 for c in stage.children if c.returncode is None) == 3, (
            "serve supervisor + 2 workers running"
        )
    finally:
        await stage.stop()
