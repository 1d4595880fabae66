"""The work queue and the review fixes of issue 13, at the service layer the JSON API and the pages share."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain.workflow import CaseState
from gateway.domain.worklist import WorkStage
from gateway.errors import Conflict, Forbidden, InputError, RuleViolation
from gateway.security.roles import Role
from gateway.security.users import Actor, UserDirectory
from gateway.seed import UNITS
from gateway.services import cases, register_admin, review, tracks, worklist
from gateway.services.context import ServiceContext
from gateway.services.store_queue import QueueFilter
from tests.services import builders

PASSWORD = "Registry-pass-1"


async def staff(ctx: ServiceContext) -> dict[str, Actor]:
    users = UserDirectory(ctx.db)
    return {
        "examiner-a": await users.add("examiner-a", PASSWORD, [Role.EXAMINER], "甲初审"),
        "examiner-x": await users.add("examiner-x", PASSWORD, [Role.EXAMINER], "戊初审"),
        "senior-b": await users.add("senior-b", PASSWORD, [Role.SENIOR_EXAMINER], "乙复审"),
        "registrar-c": await users.add("registrar-c", PASSWORD, [Role.REGISTRAR], "丙登簿"),
        "supervisor-d": await users.add("supervisor-d", PASSWORD, [Role.SUPERVISOR], "丁主管"),
    }


async def submit(ctx: ServiceContext, n: int = 0) -> str:
    contract = f"BOC-DK-2026-{n:04d}"
    case = await cases.submit(
        ctx,
        "boc-dg",
        "松山湖支行",
        "clerk-01",
        builders.mortgage_registration(mortgage=builders.terms(contract)),
    )
    return case.id


async def approved(ctx: ServiceContext, people: dict[str, Actor]) -> str:
    case_id = await submit(ctx)
    await tracks.record_bank_result(ctx, case_id, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, people["examiner-a"].id, case_id, "first", "材料齐全")
    await review.review(ctx, people["senior-b"].id, case_id, "second", "同意")
    return case_id


async def test_the_queue_reaches_every_case_soonest_deadline_first(ctx: ServiceContext) -> None:
    people = await staff(ctx)
    start = ctx.clock()
    made = []
    for n in range(130):
        # A day apart, so deadlines differ and the oldest case is the most urgent.
        ctx.clock = lambda n=n: start + timedelta(days=n)  # type: ignore[misc]
        made.append(await submit(ctx, n))
    ctx.clock = lambda: start + timedelta(days=200)
    seen, cursor, pages = [], None, 0
    while True:
        page = await worklist.queue(ctx, people["examiner-a"], "team", QueueFilter(), limit=50, cursor=cursor)
        seen += page.items
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 130 and {i.case.id for i in seen} == set(made)
    order = [(i.case.deadline_at, i.case.id) for i in seen]
    assert order == sorted(order)  # soonest deadline first: the oldest case leads
    assert seen[0].case.id == made[0]
    assert seen[0].left.overdue and seen[0].left.working_hours < 0


async def test_an_assigned_case_reaches_the_assignees_own_queue(ctx: ServiceContext) -> None:
    people = await staff(ctx)
    case_id = await submit(ctx)
    mine = await worklist.queue(ctx, people["examiner-x"], "mine", QueueFilter())
    assert mine.items == []
    await review.assign(ctx, people["supervisor-d"].id, case_id, "examiner-x")
    mine = await worklist.queue(ctx, people["examiner-x"], "mine", QueueFilter())
    assert [i.case.id for i in mine.items] == [case_id]
    with pytest.raises(InputError) as unknown:
        await review.assign(ctx, people["supervisor-d"].id, case_id, "no-such-person")
    assert unknown.value.errors[0].field == "assignee"
    with pytest.raises(InputError):  # a registrar does not do 初审
        await review.assign(ctx, people["supervisor-d"].id, case_id, "registrar-c")


async def test_claiming_takes_a_case_of_ones_own_stage_once(ctx: ServiceContext) -> None:
    people = await staff(ctx)
    case_id = await submit(ctx)
    with pytest.raises(Forbidden):
        await worklist.claim(ctx, people["senior-b"], case_id)
    case = await worklist.claim(ctx, people["examiner-a"], case_id)
    assert case.assignee == "examiner-a"
    with pytest.raises(Conflict):
        await worklist.claim(ctx, people["examiner-x"], case_id)
    team = await worklist.queue(ctx, people["senior-b"], "team", QueueFilter())
    assert team.items == []
    await review.review(ctx, people["examiner-a"].id, case_id, "first", "材料齐全")
    team = await worklist.queue(ctx, people["senior-b"], "team", QueueFilter())
    assert [(i.case.id, i.stage) for i in team.items] == [(case_id, WorkStage.SECOND_REVIEW)]
    assert team.items[0].case.assignee is None  # back in the pool, for the next stage


async def test_the_first_review_and_its_opinion_are_in_the_history(ctx: ServiceContext) -> None:
    people = await staff(ctx)
    case_id = await submit(ctx)
    await review.review(ctx, people["examiner-a"].id, case_id, "first", "材料齐全，同意")
    async with ctx.reading() as store:
        history = await store.history(case_id)
    assert any(t.actor == people["examiner-a"].id and "初审通过：材料齐全，同意" in t.reason for t in history)
    await review.send_back(ctx, people["senior-b"].id, case_id, "抵押合同页码不全")
    async with ctx.reading() as store:
        history = await store.history(case_id)
    assert "退回初审：抵押合同页码不全" in history[-1].reason
    again = await worklist.queue(ctx, people["examiner-a"], "team", QueueFilter())
    assert [i.case.id for i in again.items] == [case_id]


async def test_a_rule_failing_at_registration_suspends_the_case_visibly(ctx: ServiceContext) -> None:
    people = await staff(ctx)
    case_id = await approved(ctx, people)
    await register_admin.record_seizure(
        ctx, "registrar-c", UNITS.single_owner, "东莞市第一人民法院", "(2026)粤1971执001号"
    )
    with pytest.raises(RuleViolation):
        await review.register(ctx, people["registrar-c"].id, case_id)
    case = await cases.get_case(ctx, case_id)
    assert case.state is CaseState.SUSPENDED and "查封" in case.reason
    seized = next(r for r in case.rule_results if r["name"] == "unit_not_seized")
    assert not seized["passed"] and "查封" in seized["reason_zh"]
    team = await worklist.queue(ctx, people["registrar-c"], "team", QueueFilter())
    assert [(i.case.id, i.stage) for i in team.items] == [(case_id, WorkStage.SUSPENDED)]
    case = await review.recheck(ctx, people["registrar-c"].id, case_id)
    assert case.state is CaseState.SUSPENDED  # still seized


def test_working_hours_over_long_spans_match_the_calendar() -> None:
    from datetime import UTC, datetime

    from gateway.domain.calendar import WorkingCalendar
    from gateway.domain.worklist import working_hours

    calendar = WorkingCalendar()
    a = datetime(2026, 1, 5, 3, 17, tzinfo=UTC)
    for days in (3, 8, 40, 200):
        b = a + timedelta(days=days, hours=5)
        assert working_hours(calendar, a, b) == pytest.approx(
            calendar.working_time_between(a, b) / timedelta(hours=1)
        )


async def test_correction_time_does_not_count_against_the_deadline(ctx: ServiceContext) -> None:
    from datetime import UTC, datetime

    people = await staff(ctx)
    wednesday_10 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Dongguan
    now = [wednesday_10]
    ctx.clock = lambda: now[0]
    case_id = await submit(ctx)
    case = await cases.get_case(ctx, case_id)
    assert case.deadline_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # Thursday 17:00
    now[0] = wednesday_10 + timedelta(hours=1)  # 11:00: 6 + 8 = 14 working hours left
    await review.request_material(ctx, people["examiner-a"].id, case_id, "缺少抵押合同签字页")
    now[0] = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # the bank answers on Monday 10:00
    case = await cases.resubmit(ctx, "boc-dg", case_id, "已补充签字页")
    # Monday 10:00–17:00 is 7 hours, then 7 more on Tuesday: 16:00.
    assert case.deadline_at == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    assert (await cases.get_case(ctx, case_id)).deadline_at == case.deadline_at
