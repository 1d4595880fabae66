"""What a provider's staff see in the portal: all its jobs by state, one job in full, the list exported.

The portal's four states are the job's statuses as a person names them: new (not yet opened or collected),
seen (opened in the portal, fetched over the API, or accepted for later), done, refused. Answers go through
`providers.acknowledge` and looks through `providers.fetch_job`, exactly as the pull API's, with the member of
staff as the audited actor. A provider only ever reads its own jobs: another provider's id is NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, or_, select, union_all

from gateway.db.tables.infra import OutboxStatus
from gateway.db.tables.utilities import UtilityJobStatus
from gateway.domain.identifiers import mask_name
from gateway.errors import NotFound
from gateway.ports.utilities import RefusalReason, UtilityService, UtilityTransferJob
from gateway.services import effects
from gateway.services.context import ServiceContext
from gateway.services.utilities.delivery import transfer_job
from gateway.services.utilities.providers import fetch_job
from gateway.services.utilities.state import ARCHIVE, JOBS, OUTBOX

__all__ = ["EXPORT_LIMIT", "PortalJob", "PortalState", "portal_job", "portal_jobs"]

EXPORT_LIMIT = 10_000  # rows in one export: a provider's month of transfers many times over


class PortalState(StrEnum):
    NEW = "new"  # 新任务
    SEEN = "seen"  # 已查看
    DONE = "done"  # 已办结
    REFUSED = "refused"  # 已拒绝

    @classmethod
    def of(cls, status: UtilityJobStatus) -> PortalState:
        return _STATE_OF[status]


_STATE_OF = {
    UtilityJobStatus.PENDING: PortalState.NEW,
    UtilityJobStatus.DEAD: PortalState.NEW,
    UtilityJobStatus.DELIVERED: PortalState.SEEN,
    UtilityJobStatus.ACCEPTED: PortalState.SEEN,
    UtilityJobStatus.DONE: PortalState.DONE,
    UtilityJobStatus.REJECTED: PortalState.REFUSED,
}
# Without a row in utility_job the job has not been answered nor opened: it is new.
_WHERE: dict[PortalState, ColumnElement[bool]] = {
    PortalState.NEW: or_(JOBS.c.status.is_(None), JOBS.c.status == UtilityJobStatus.PENDING.value),
    PortalState.SEEN: JOBS.c.status.in_([UtilityJobStatus.DELIVERED.value, UtilityJobStatus.ACCEPTED.value]),
    PortalState.DONE: JOBS.c.status == UtilityJobStatus.DONE.value,
    PortalState.REFUSED: JOBS.c.status == UtilityJobStatus.REJECTED.value,
}


@dataclass(frozen=True)
class PortalJob:
    """One line of the list (and the head of the job page). `new_holder`: the buyers' names, masked."""

    id: str
    case_id: str
    service: UtilityService
    state: PortalState
    address: str
    account_no: str
    unit_code: str
    certificate_number: str
    new_holder: str
    created_at: datetime
    answered_at: datetime | None
    reason: RefusalReason | None
    note: str
    # Never collected within the retry schedule: dead-lettered for the registry's operators (who may replay
    # it), still answerable here — an answer settles it like any other.
    overdue: bool


def _deliveries(provider: str, job_id: str | None) -> Subquery:
    """The provider's utility jobs in the outbox and its archive (delivered rows move there: the done jobs)."""
    parts = []
    for table in (OUTBOX, ARCHIVE):
        part = select(*table.c).where(table.c.job == effects.UTILITY_TRANSFER, table.c.target == provider)
        if job_id is not None:
            part = part.where(table.c.id == job_id)
        parts.append(part)
    return union_all(*parts).subquery("deliveries")


def _select(provider: str, job_id: str | None = None) -> tuple[Select[Any], Subquery]:
    d = _deliveries(provider, job_id)
    stmt = select(
        d.c.id,
        d.c.case_id,
        d.c.payload,
        d.c.status.label("delivery"),
        d.c.created_at,
        JOBS.c.status,
        JOBS.c.reason_code,
        JOBS.c.message,
        JOBS.c.answered_at,
    ).select_from(d.outerjoin(JOBS, JOBS.c.id == d.c.id))
    return stmt, d


def _job(r: Any) -> PortalJob:
    payload = r.payload
    status = UtilityJobStatus(r.status or UtilityJobStatus.PENDING)
    return PortalJob(
        id=r.id,
        case_id=str(r.case_id),
        service=UtilityService(payload["service"]),
        state=PortalState.of(status),
        address=payload["address"],
        account_no=payload["account_no"],
        unit_code=payload["unit_code"],
        certificate_number=payload.get("certificate_number") or "",
        # Names are stored in clear (the providers need them); only their first character is shown here.
        new_holder="、".join(mask_name(p["name"]) for p in payload.get("buyers", [])),
        created_at=r.created_at,
        answered_at=r.answered_at,
        reason=RefusalReason(r.reason_code) if r.reason_code else None,
        note=r.message or "",
        overdue=r.delivery == OutboxStatus.DEAD.value and not status.is_final,
    )


async def portal_jobs(
    ctx: ServiceContext,
    provider: str,
    state: PortalState | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> list[PortalJob]:
    """The provider's jobs in `state` (all when None), newest first."""
    stmt, d = _select(provider)
    if state is not None:
        stmt = stmt.where(_WHERE[state])
    stmt = stmt.order_by(d.c.created_at.desc(), d.c.id).limit(limit).offset(offset)
    async with ctx.db.session() as session:
        rows = (await (await session.connection()).execute(stmt)).all()
    return [_job(r) for r in rows]


async def portal_job(
    ctx: ServiceContext, provider: str, job_id: str, *, staff: str
) -> tuple[PortalJob, UtilityTransferJob]:
    """One job of the provider with the people's details in full, for `staff` to act on: opening it marks
    it seen (as a fetch over the API does) and is audited with their name. NotFound for another's job."""
    stmt, _ = _select(provider, job_id)
    async with ctx.db.session() as session:
        found = (await (await session.connection()).execute(stmt)).first()
    if found is None:
        raise NotFound(f"utility job {job_id} not found", f"未找到过户任务 {job_id}")
    job = _job(found)
    if found.delivery == OutboxStatus.DELIVERED.value and job.state in (
        PortalState.DONE,
        PortalState.REFUSED,
    ):
        # Answered and settled (perhaps archived): nothing to mark; the look is still a look at people's data.
        await _audit_look(ctx, staff, provider, job)
        return job, transfer_job(ctx, found)
    fetched = await fetch_job(ctx, provider, job_id, staff=staff)
    stmt, _ = _select(provider, job_id)
    async with ctx.db.session() as session:
        again = (await (await session.connection()).execute(stmt)).one()
    return _job(again), fetched.job


async def _audit_look(ctx: ServiceContext, staff: str, provider: str, job: PortalJob) -> None:
    async with ctx.db.transaction() as uow:
        uow.audit(
            actor=staff,
            action="utility.job_viewed",
            subject=f"utility_job:{job.id}",
            case_id=job.case_id,
            details={"provider": provider, "service": job.service.value},
        )
