"""The supervisor's dashboard counts what the rows say (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, insert

import certs
from gateway.db.tables.utilities import UtilityJobRow
from gateway.errors import RuleViolation
from gateway.seed import UNITS
from gateway.services import register_admin, review, tracks, worklist
from gateway.services.certification import Certification, RegistrySeal
from gateway.services.context import ServiceContext
from gateway.services.dashboard import dashboard
from tests.services.test_worklist import staff, submit

# Wednesday 2 December 2026, 10:00 in Dongguan: a working day.
T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def certification(ctx: ServiceContext) -> Certification:
    ca = certs.CertificateAuthority.create("Dashboard Test CA")
    key = certs.SM2PrivateKey.generate()
    return Certification(
        ctx, RegistrySeal(key, ca.issue(key.public_key, "registry", "registry"), "https://x")
    )


async def test_the_numbers_are_the_rows(ctx: ServiceContext, certification: Certification) -> None:
    people = await staff(ctx)
    now = [T0]
    ctx.clock = lambda: now[0]

    async def approve(case_id: str) -> None:
        await tracks.record_bank_result(ctx, case_id, "contracts", confirmed=True, actor="bank:boc-dg")
        await review.review(ctx, people["examiner-a"].id, case_id, "first", "同意")
        await review.review(ctx, people["senior-b"].id, case_id, "second", "同意")

    fast, slow = await submit(ctx, 1), await submit(ctx, 2)
    for case_id, minutes in ((fast, 30), (slow, 180)):
        await approve(case_id)
        await review.register(ctx, people["registrar-c"].id, case_id)
        now[0] = T0 + timedelta(minutes=minutes)
        await certification.issue_case(case_id)
        now[0] = T0
    held = await submit(ctx, 3)
    await worklist.claim(ctx, people["examiner-x"], held)
    stopped = await submit(ctx, 4)
    await approve(stopped)
    await register_admin.record_seizure(
        ctx, "registrar-c", UNITS.single_owner, "东莞市第一人民法院", "(2026)粤1971执9号"
    )
    with pytest.raises(RuleViolation):
        await review.register(ctx, people["registrar-c"].id, stopped)

    now[0] = T0 + timedelta(days=2)  # Friday: the two open cases are past Thursday's deadline
    board = await dashboard(ctx)
    [timing] = board.timing
    assert (timing.kind, timing.certified, timing.within_hour, timing.within_day) == (
        "mortgage_registration", 2, 1, 2,
    )  # fmt: skip
    assert timing.bands == {"≤10min": 0, "≤1h": 1, "≤1d": 1, ">1d": 0}
    assert board.volumes == {("boc-dg", "mortgage_registration"): 4}
    assert {state: sum(b.values()) for state, b in board.backlog.items()} == {
        "under_review": 1,
        "suspended": 1,
    }
    assert board.overdue_count == 2 and {c["id"] for c in board.overdue} == {held, stopped}
    assert board.refusals == {"unit_not_seized": 1}
    assert board.workload["examiner-x"]["held"] == 1
    assert board.workload["examiner-a"]["decided"] == 3  # three 初审, each in the history
    assert board.dead_letters == 0


async def test_closed_history_stays_out_of_the_counts(ctx: ServiceContext) -> None:
    """Refusals and finished utility jobs are counted in the window; what is open is counted however old
    (after ten years the closed cases and finished jobs are millions of rows, read on every view)."""
    people = await staff(ctx)
    now = [T0]
    ctx.clock = lambda: now[0]
    refused = await submit(ctx, 1)
    await tracks.record_bank_result(ctx, refused, "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, people["examiner-a"].id, refused, "first", "同意")
    await review.review(ctx, people["senior-b"].id, refused, "second", "同意")
    await register_admin.record_seizure(
        ctx, "registrar-c", UNITS.single_owner, "东莞市第一人民法院", "(2026)粤1971执9号"
    )
    with pytest.raises(RuleViolation):
        await review.register(ctx, people["registrar-c"].id, refused)
    await review.reject(ctx, people["registrar-c"].id, refused, "不动产已被查封")

    def job(n: int, provider: str, status: str, updated: datetime) -> dict[str, object]:
        row = UtilityJobRow(
            id=f"{n:032x}", case_id=refused, provider=provider, service="water", unit_code=UNITS.single_owner,
            account_no="0001", status=status, created_at=T0, updated_at=updated,
        )  # fmt: skip
        return row.model_dump()

    async with ctx.db.transaction() as uow:
        await uow.connection.execute(
            insert(cast(Table, UtilityJobRow.__table__)),  # type: ignore[attr-defined]
            [
                job(1, "dg-water", "done", T0),  # finished 8 days before the view
                job(2, "dg-water", "accepted", T0),  # still waiting for the provider after 8 days
                job(3, "dg-gas", "done", T0 + timedelta(days=7)),
                job(4, "dg-gas", "rejected", T0 + timedelta(days=7)),
                job(5, "dg-power", "dead", T0),  # a dead letter waits for an operator, however old
            ],
        )

    now[0] = T0 + timedelta(days=1)
    assert (await dashboard(ctx)).refusals == {"unit_not_seized": 1}
    now[0] = T0 + timedelta(days=8)
    board = await dashboard(ctx)
    assert board.refusals == {}  # refused 8 days ago: outside the 7 days
    assert board.utility_jobs == {
        ("dg-water", "accepted"): 1,
        ("dg-gas", "done"): 1,
        ("dg-gas", "rejected"): 1,
        ("dg-power", "dead"): 1,
    }


async def test_the_most_overdue_come_first_whatever_their_state(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = await staff(ctx)
    now = [T0]
    ctx.clock = lambda: now[0]
    made = []
    for day in range(3):  # received a day apart: the first is the most overdue
        now[0] = T0 + timedelta(days=day)
        made.append(await submit(ctx, day))
    now[0] = T0 + timedelta(days=1)
    await tracks.record_bank_result(ctx, made[1], "contracts", confirmed=True, actor="bank:boc-dg")
    await review.review(ctx, people["examiner-a"].id, made[1], "first", "同意")
    await review.review(ctx, people["senior-b"].id, made[1], "second", "同意")

    now[0] = T0 + timedelta(days=20)
    board = await dashboard(ctx)
    assert [c["state"] for c in board.overdue] == ["under_review", "approved", "under_review"]
    assert [c["id"] for c in board.overdue] == made and board.overdue_count == 3
    monkeypatch.setattr("gateway.services.dashboard.OVERDUE_SHOWN", 2)
    assert [c["id"] for c in (await dashboard(ctx)).overdue] == made[:2]  # the page shows the first few
