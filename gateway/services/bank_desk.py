"""What the bank portal (银行端) reads of a bank's cases, with the same ownership as the signed API.

A case belongs to the bank that submitted it (`submitted_by`); in the portal a clerk and a branch supervisor
see their branch's cases, a bank administrator every case of the bank. Anything else is NotFound, the
API's answer, so that the existence of another bank's (or branch's) case does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.db.tables.cases import TransitionRow
from gateway.domain.register import EntryKind, MortgageFacts
from gateway.domain.workflow import Case
from gateway.domain.worklist import TimeLeft, WorkStage, time_left, work_stage
from gateway.errors import NotFound
from gateway.security.roles import Role
from gateway.security.users import Actor
from gateway.services.context import ServiceContext
from gateway.services.materials import MaterialRecord
from gateway.services.store_queue import BankCaseFilter, decode_cursor, encode_cursor

__all__ = [
    "BankCaseFile",
    "BankCasePage",
    "BankSeat",
    "LoanNotice",
    "case_file",
    "cases",
    "certificate_file",
    "own_case",
    "seat_of",
]


@dataclass(frozen=True)
class BankSeat:
    """Where a portal user sits: their bank, their branch (None: the whole bank), their user name."""

    bank: str
    branch: str | None
    username: str

    def holds(self, case: Case) -> bool:
        return case.submitted_by == self.bank and (self.branch is None or case.branch == self.branch)


def seat_of(actor: Actor) -> BankSeat:
    """A bank administrator sees the bank's cases; a clerk and a branch supervisor their branch's."""
    if actor.institution is None:  # not a bank user: the realm check keeps them out before this
        raise NotFound("not a bank's user", "非银行用户")
    branch = None if Role.BANK_ADMIN in actor.roles else (actor.branch or "")
    return BankSeat(actor.institution, branch, actor.username)


@dataclass(frozen=True)
class BankCaseItem:
    case: Case
    stage: WorkStage
    left: TimeLeft


@dataclass(frozen=True)
class BankCasePage:
    items: list[BankCaseItem]
    next_cursor: str | None


async def cases(
    ctx: ServiceContext, seat: BankSeat, where: BankCaseFilter, *, limit: int = 30, cursor: str | None = None
) -> BankCasePage:
    """The seat's cases, newest first, with the working time left on each (the back office's count)."""
    where = BankCaseFilter(
        bank=seat.bank,
        branch=seat.branch,
        state=where.state,
        kind=where.kind,
        unit_code=where.unit_code,
        receipt_number=where.receipt_number,
    )
    after = decode_cursor(cursor) if cursor else None
    async with ctx.reading() as store:
        found, more = await store.bank_cases(where, limit=limit, after=after)
    now = ctx.clock()
    items = [BankCaseItem(c, work_stage(c), time_left(ctx.calendar, c.deadline_at, now)) for c in found]
    return BankCasePage(items, encode_cursor(*more) if more else None)


async def own_case(ctx: ServiceContext, seat: BankSeat, case_id: str) -> Case:
    """The case if the seat may see it; NotFound otherwise (the bank filter is in the query)."""
    async with ctx.reading() as store:
        case = await store.load_case(case_id, party=seat.bank)
    if not seat.holds(case):
        raise NotFound(f"case {case_id} not found", f"未找到业务件 {case_id}")
    return case


@dataclass(frozen=True)
class LoanNotice:
    """当天放贷: the mortgage this case registered, so the bank may release the loan today."""

    registered_at: datetime
    proof_number: str  # 不动产登记证明号
    loan_contract_no: str
    amount: str
    rank: int | None


@dataclass(frozen=True)
class BankCaseFile:
    case: Case
    history: list[TransitionRow]
    materials: list[MaterialRecord]
    certificates: list[dict[str, Any]]
    loan: LoanNotice | None


async def case_file(ctx: ServiceContext, seat: BankSeat, case_id: str) -> BankCaseFile:
    """The case as the bank sees it: its history, its materials, certificates, and the 当天放贷 notice
    once registered (the mortgage the case opened — what the API's release_loan delivery tells)."""
    case = await own_case(ctx, seat, case_id)
    async with ctx.reading() as store:
        history = await store.history(case.id)
        materials = await store.materials(case.id)
        certificates = await store.certificates_of(case.id)
        loan = None
        if case.registered_at is not None:
            opened = [
                e
                for e in await store.entries_of(case.unit_code)
                if e.opened_by_case == case.id and e.kind is EntryKind.MORTGAGE
            ]
            if opened and isinstance(opened[0].facts, MortgageFacts):
                facts = opened[0].facts
                loan = LoanNotice(
                    registered_at=case.registered_at,
                    proof_number=opened[0].certificate_number or "",
                    loan_contract_no=facts.loan_contract_no,
                    amount=str(facts.amount),
                    rank=opened[0].rank,
                )
    return BankCaseFile(case, history, materials, certificates, loan)


async def certificate_file(
    ctx: ServiceContext, seat: BankSeat, case_id: str, number: str, file_format: str = "pdf"
) -> bytes:
    """A certificate issued in one of the seat's cases (the API's download, with the branch's scope)."""
    await own_case(ctx, seat, case_id)
    async with ctx.reading() as store:
        data = await store.certificate_file(case_id, number, file_format)
    if data is None:
        raise NotFound("the certificate is not issued yet (in this format)", "证照尚未签发（该格式）")
    return data
