"""The work queue's reads (待办): cases by stage, assignee and filters, soonest deadline first, by keyset."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db.tables.api import BackofficeUser
from gateway.db.tables.cases import CaseRow, TransitionRow
from gateway.domain.cases import CaseKind
from gateway.domain.workflow import Case, CaseState
from gateway.domain.worklist import WorkStage
from gateway.errors import FieldReason, InputError

__all__ = [
    "BankCaseFilter",
    "QueueFilter",
    "QueueRecords",
    "StaffMember",
    "StaffRecords",
    "decode_cursor",
    "encode_cursor",
]

_CASE = cast(Table, CaseRow.__table__)  # type: ignore[attr-defined]
_USER = cast(Table, BackofficeUser.__table__)  # type: ignore[attr-defined]
_TRANSITION = cast(Table, TransitionRow.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class QueueFilter:
    """Which cases: by stage (empty: every open stage), assignee (a user name), and the page's filters."""

    stages: tuple[WorkStage, ...] = ()
    assignee: str | None = None
    states: tuple[CaseState, ...] = ()
    kind: CaseKind | None = None
    bank: str | None = None
    unit_code: str | None = None
    received_from: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive


@dataclass(frozen=True)
class BankCaseFilter:
    """A bank's own cases (the bank portal): of one bank, of one branch when given, and the page's filters.
    Every state, the closed ones too: the counter looks back at what it registered or withdrew."""

    bank: str
    branch: str | None = None
    state: CaseState | None = None
    kind: CaseKind | None = None
    unit_code: str | None = None
    receipt_number: str | None = None


def encode_cursor(deadline_at: datetime, case_id: str) -> str:
    return base64.urlsafe_b64encode(f"{deadline_at.isoformat()}|{case_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, case_id = text.partition("|")
        deadline = datetime.fromisoformat(at)
        if deadline.tzinfo is None or not case_id:
            raise ValueError(text)
    except ValueError as exc:
        raise InputError(
            "the cursor is not one this queue gave out",
            "翻页游标无效",
            [FieldReason("cursor", "翻页游标无效", "not a cursor from this queue")],
        ) from exc
    return deadline, case_id


class QueueRecords:
    """Part of `Store`: the queue's query, inside the caller's read transaction."""

    dialect: str

    @property
    def session(self) -> AsyncSession:  # Store's
        raise NotImplementedError

    def _case(self, row: CaseRow) -> Case:  # Store's
        raise NotImplementedError

    async def paused_since(self, case_id: str) -> datetime | None:
        """When the case last went to 补正 (NEED_MORE_MATERIAL), if it ever did."""
        found = await self.session.execute(
            select(func.max(_TRANSITION.c.at)).where(
                _TRANSITION.c.case_id == case_id, _TRANSITION.c.to_state == CaseState.NEED_MORE_MATERIAL.value
            )
        )
        return cast(datetime | None, found.scalar_one())

    async def work_queue(
        self, where: QueueFilter, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> tuple[list[Case], tuple[datetime, str] | None]:
        """Up to `limit` cases, soonest deadline first, after the keyset `after`; with the next keyset when
        more follow. Every case is reachable by following the keysets, however many there are."""
        c = _CASE.c
        conditions: list[Any] = []
        if where.assignee is not None:
            conditions.append(c.assignee == where.assignee)
        if where.states:
            conditions.append(c.state.in_([s.value for s in where.states]))
        if where.kind is not None:
            conditions.append(c.kind == where.kind.value)
        if where.bank:
            conditions.append(c.submitted_by == where.bank)
        if where.unit_code:
            conditions.append(c.unit_code == where.unit_code)
        if where.received_from is not None:
            conditions.append(c.received_at >= where.received_from)
        if where.received_before is not None:
            conditions.append(c.received_at < where.received_before)
        if after is not None:
            # Spelled out, not a row value, so the deadline binds through the column's UTC type.
            conditions.append(or_(c.deadline_at > after[0], and_(c.deadline_at == after[0], c.id > after[1])))
        stages = where.stages or tuple(s for s in WorkStage if s is not WorkStage.CLOSED)
        order = (c.deadline_at, c.id)
        if len(stages) == 1 or where.assignee is not None or where.unit_code or self.dialect != "postgresql":
            # One stage: one range of ix_case_record_stage_deadline (an assignee's or a unit's cases are
            # few, read through their own index; SQLite takes no parenthesised UNION members).
            stmt = select(CaseRow).where(c.stage.in_([s.value for s in stages]), *conditions)
        else:
            # Several stages: each stage's first page from its range of ix_case_record_stage_deadline,
            # merged (Merge Append), rather than every open case of those stages read and sorted (77 ms at
            # 10⁶ cases for all open stages).
            pages = union_all(
                *(
                    select(c.id, c.deadline_at)
                    .where(c.stage == s.value, *conditions)
                    .order_by(*order)
                    .limit(limit + 1)
                    for s in stages
                )
            ).subquery("pages")
            first = select(pages.c.id).order_by(pages.c.deadline_at, pages.c.id).limit(limit + 1)
            stmt = select(CaseRow).where(c.id.in_(first.scalar_subquery()))
        stmt = stmt.order_by(*order).limit(limit + 1)
        rows = list((await self.session.execute(stmt)).scalars())
        cases = [self._case(r) for r in rows[:limit]]
        more = len(rows) > limit
        return cases, ((cases[-1].deadline_at, cases[-1].id) if more and cases else None)

    async def bank_cases(
        self, where: BankCaseFilter, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> tuple[list[Case], tuple[datetime, str] | None]:
        """Up to `limit` of a bank's cases, newest first (ix_case_record_party_received), after the keyset
        `after` (received_at, id); with the next keyset when more follow. The bank (and branch) filter is in
        the query: another bank's case is never read."""
        c = _CASE.c
        stmt = (
            select(CaseRow)
            .where(c.submitted_by == where.bank)
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(limit + 1)
        )
        if where.branch is not None:
            stmt = stmt.where(c.branch == where.branch)
        if where.state is not None:
            stmt = stmt.where(c.state == where.state.value)
        if where.kind is not None:
            stmt = stmt.where(c.kind == where.kind.value)
        if where.unit_code:
            stmt = stmt.where(c.unit_code == where.unit_code)
        if where.receipt_number:
            stmt = stmt.where(c.receipt_number == where.receipt_number)
        if after is not None:
            stmt = stmt.where(or_(c.received_at < after[0], and_(c.received_at == after[0], c.id < after[1])))
        rows = list((await self.session.execute(stmt)).scalars())
        cases = [self._case(r) for r in rows[:limit]]
        more = len(rows) > limit
        return cases, ((cases[-1].received_at, cases[-1].id) if more and cases else None)


@dataclass(frozen=True)
class StaffMember:
    id: str
    username: str
    display_name: str
    roles: frozenset[str]
    active: bool


class StaffRecords:
    """Part of `Store`: the back-office staff as cases name them (assignees, deciders)."""

    @property
    def session(self) -> AsyncSession:  # Store's
        raise NotImplementedError

    async def staff_member(self, username: str) -> StaffMember | None:
        row = (await self.session.execute(select(_USER).where(_USER.c.username == username))).one_or_none()
        return None if row is None else _member(row)

    async def staff(self) -> list[StaffMember]:
        rows = await self.session.execute(select(_USER).order_by(_USER.c.username))
        return [_member(r) for r in rows]


def _member(row: Any) -> StaffMember:
    return StaffMember(row.id, row.username, row.display_name, frozenset(row.roles), bool(row.active))
