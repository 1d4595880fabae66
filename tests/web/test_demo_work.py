"""`gateway demo --keep-running` leaves a case in each role's queue: the pages have work to show."""

from __future__ import annotations

from sandbox.backoffice_work import leave_work
from sandbox.stage import Stage


async def test_each_role_finds_a_case_waiting(stage: Stage) -> None:
    waiting = {w.waits_for: w for w in await leave_work(stage)}
    for who, state in (
        ("examiner-a", "under_review"),
        ("senior-b", "under_review"),
        ("registrar-c", "approved"),
    ):
        staff = await stage.staff(who)
        listed = (await staff.get(f"/backoffice/api/v1/cases?scope=team&state={state}")).json()["cases"]
        expected = next(w.case_id for w in waiting.values() if w.who == who)
        assert expected in {c["id"] for c in listed}, who
    supervisor = await stage.staff("supervisor-d")
    corrections = (await supervisor.get("/backoffice/api/v1/cases?state=need_more_material")).json()
    assert waiting["补正 (银行)"].case_id in {c["id"] for c in corrections["cases"]}
