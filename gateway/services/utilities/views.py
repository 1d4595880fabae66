"""What a bank reads: each provider's job on its case, and the accounts a unit's earlier transfers knew."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select

from gateway.db.tables.infra import OutboxStatus
from gateway.db.tables.utilities import UtilityJobStatus
from gateway.errors import NotFound
from gateway.ports.utilities import RefusalReason, UtilityService
from gateway.services.context import ServiceContext
from gateway.services.utilities.state import CASES, JOBS, case_deliveries


class Refusal(BaseModel):
    code: RefusalReason
    zh: str
    en: str


class UtilityJobView(BaseModel):
    """One provider's job on a case: where it stands, and why when it is stuck."""

    id: str  # the delivery id the provider knows it by
    provider: str
    service: UtilityService
    account_no: str
    status: UtilityJobStatus
    refusal: Refusal | None = None  # when rejected: what the citizen must do something about
    provider_code: str = ""
    message: str = ""  # the provider's own words
    attempts: int
    last_error: str | None = None  # why delivery has not succeeded yet (or was given up)
    created_at: datetime
    updated_at: datetime | None = None


class CaseUtilities(BaseModel):
    case_id: str
    jobs: list[UtilityJobView]
    all_done: bool  # 水电气网过户全部办结
    needs_citizen: list[UtilityService]  # refused: 户号不符 / 有欠费 / 需现场办理
    dead: list[UtilityService]  # delivery given up: the registry's operators are on it


class KnownAccount(BaseModel):
    provider: str
    service: UtilityService
    account_no: str
    transferred_at: datetime


class KnownAccounts(BaseModel):
    unit_code: str
    accounts: list[KnownAccount]


async def case_utilities(ctx: ServiceContext, party: str | None, case_id: str) -> CaseUtilities:
    """The case's utility jobs for the bank that submitted it (NotFound for any other participant); `party`
    None: the registry's own view (the back office's case page)."""
    async with ctx.db.session() as session:
        conn = await session.connection()
        owner = (await conn.execute(select(CASES.c.submitted_by).where(CASES.c.id == case_id))).scalar()
        if owner is None or (party is not None and owner != party):
            raise NotFound(f"case {case_id} not found", f"未找到业务件 {case_id}")
        deliveries = case_deliveries(case_id)
        rows = (
            await conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.target,
                    deliveries.c.payload,
                    deliveries.c.status.label("delivery"),
                    deliveries.c.attempts,
                    deliveries.c.last_error,
                    deliveries.c.created_at,
                    JOBS.c.status,
                    JOBS.c.reason_code,
                    JOBS.c.provider_code,
                    JOBS.c.message,
                    JOBS.c.updated_at,
                )
                .select_from(deliveries.outerjoin(JOBS, JOBS.c.id == deliveries.c.id))
                .order_by(deliveries.c.created_at, deliveries.c.id)
            )
        ).all()
    jobs: list[UtilityJobView] = []
    for r in rows:
        status = UtilityJobStatus(r.status or UtilityJobStatus.PENDING)
        if r.delivery == OutboxStatus.DEAD.value and not status.is_final:
            status = UtilityJobStatus.DEAD
        refusal = None
        if status is UtilityJobStatus.REJECTED and r.reason_code:
            reason = RefusalReason(r.reason_code)
            refusal = Refusal(code=reason, zh=reason.label_zh, en=reason.label_en)
        jobs.append(
            UtilityJobView(
                id=r.id,
                provider=r.target,
                service=r.payload["service"],
                account_no=r.payload["account_no"],
                status=status,
                refusal=refusal,
                provider_code=r.provider_code or "",
                message=r.message or "",
                attempts=r.attempts,
                last_error=None if status.is_final else r.last_error,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
        )
    return CaseUtilities(
        case_id=case_id,
        jobs=jobs,
        all_done=bool(jobs) and all(j.status is UtilityJobStatus.DONE for j in jobs),
        needs_citizen=[j.service for j in jobs if j.status is UtilityJobStatus.REJECTED],
        dead=[j.service for j in jobs if j.status is UtilityJobStatus.DEAD],
    )


async def known_accounts(ctx: ServiceContext, unit_code: str) -> KnownAccounts:
    """Accounts moved by earlier transfers of the unit, offered to the next transfer's clerk (newest first)."""
    latest = func.max(JOBS.c.answered_at).label("transferred_at")
    stmt = (
        select(JOBS.c.provider, JOBS.c.service, JOBS.c.account_no, latest)
        .where(JOBS.c.unit_code == unit_code, JOBS.c.status == UtilityJobStatus.DONE.value)
        .group_by(JOBS.c.provider, JOBS.c.service, JOBS.c.account_no)
        .order_by(latest.desc())
    )
    async with ctx.db.session() as session:
        rows = (await (await session.connection()).execute(stmt)).all()
    seen: set[str] = set()
    accounts = []
    for r in rows:
        if r.provider in seen:  # one account per provider: the most recently transferred one
            continue
        seen.add(r.provider)
        accounts.append(
            KnownAccount(
                provider=r.provider,
                service=r.service,
                account_no=r.account_no,
                transferred_at=r.transferred_at,
            )
        )
    return KnownAccounts(unit_code=unit_code, accounts=accounts)
