"""What a provider does over the gateway's API: list its open jobs, fetch one, acknowledge it.

A provider sees only its own jobs: any other id is NotFound, exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import bindparam, select, text

from gateway.db.outbox import mark_delivered, row_of
from gateway.db.prepared import Prepared
from gateway.db.tables.infra import OUTBOX_OPEN_SQL, OutboxRow, OutboxStatus
from gateway.db.tables.utilities import UtilityJobStatus
from gateway.db.uow import UnitOfWork
from gateway.errors import NotFound
from gateway.ports.utilities import (
    OutcomeKind,
    RefusalReason,
    UtilityOutcome,
    UtilityService,
    UtilityTransferJob,
)
from gateway.services import effects
from gateway.services.context import ServiceContext
from gateway.services.utilities.delivery import provider_actor, transfer_job
from gateway.services.utilities.state import JOBS, OUTBOX, Change, JobRef, advance, status_of

# Open rows: written or parked (pending), or being delivered right now (in flight). In the words of the
# partial index ix_outbox_open_by_target, qualified (the job table has a status too).
_OPEN = text(f"outbox.{OUTBOX_OPEN_SQL}")
Finish = Callable[[UnitOfWork, "AcknowledgementResult"], Awaitable[None]]
# Built once and run on the driver (gateway.db.prepared): every poll lists, every fetch and ack reads its row.
# The page is chosen on narrow columns first; only its rows' payloads are then read for their service (JSON
# is parsed per row: reading it for every open row before the sort cost ~4 ms a poll at 1,000 open jobs).
_PAGE = (
    select(OUTBOX.c.id, OUTBOX.c.created_at, JOBS.c.status)
    .select_from(OUTBOX.outerjoin(JOBS, JOBS.c.id == OUTBOX.c.id))
    .where(OUTBOX.c.job == effects.UTILITY_TRANSFER, OUTBOX.c.target == bindparam("p_provider"), _OPEN)
    .order_by(OUTBOX.c.created_at, OUTBOX.c.id)
    .limit(bindparam("p_limit"))
    .offset(bindparam("p_offset"))
    .subquery("page")
)
_OPEN_JOBS = Prepared(
    select(
        _PAGE.c.id,
        OUTBOX.c.payload["service"].as_string().label("service"),
        _PAGE.c.created_at,
        _PAGE.c.status,
    )
    .select_from(_PAGE.join(OUTBOX, OUTBOX.c.id == _PAGE.c.id))
    .order_by(_PAGE.c.created_at, _PAGE.c.id)
)
_OWN = (
    OUTBOX.c.id == bindparam("p_id"),
    OUTBOX.c.job == effects.UTILITY_TRANSFER,
    OUTBOX.c.target == bindparam("p_provider"),
)
_OWN_ROW = Prepared(select(OUTBOX).where(*_OWN))
# An acknowledgement's job has its row as a rule (fetched, or accepted by a push): read the outbox row and
# lock the job's row in one statement. (SQLite has no row locks: its writers take turns on the database.)
_OWN_ROW_AND_JOB = Prepared(
    select(OUTBOX, JOBS.c.status.label("job_status"))
    .join(JOBS, JOBS.c.id == OUTBOX.c.id)
    .where(*_OWN)
    .with_for_update(of=JOBS)
)
_OUTBOX_COLUMNS = tuple(OUTBOX.c.keys())


class OpenJob(BaseModel):
    """One line of a provider's job list (no personal data: fetch the job for that)."""

    id: str
    service: UtilityService
    status: UtilityJobStatus
    created_at: datetime


class OpenJobs(BaseModel):
    items: list[OpenJob]
    limit: int
    offset: int


class FetchedJob(BaseModel):
    """A job as a pull provider receives it: the port's job and where it stands."""

    status: UtilityJobStatus
    job: UtilityTransferJob


class Acknowledgement(BaseModel):
    """A provider's answer to a job it collected (or accepted earlier): done, rejected with a reason, later."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["done", "rejected", "later"]
    reason: RefusalReason | None = None  # required with "rejected": 户号不符 / 有欠费 / 需现场办理
    provider_code: str = Field(default="", max_length=64)
    message: str = Field(default="", max_length=500)
    reference: str = Field(default="", max_length=100)

    @model_validator(mode="after")
    def _reason_with_rejection(self) -> Acknowledgement:
        if (self.result == "rejected") != (self.reason is not None):
            raise ValueError(
                "reason is required with, and only with, result=rejected / 仅当 result=rejected 时须填写 reason"
            )
        return self

    def outcome(self) -> UtilityOutcome:
        return UtilityOutcome(
            kind=OutcomeKind(self.result),
            reason=self.reason,
            provider_code=self.provider_code,
            message=self.message,
            provider_reference=self.reference,
        )


class AcknowledgementResult(BaseModel):
    id: str
    status: UtilityJobStatus
    duplicate: bool  # True: this answer was already recorded (a repeated acknowledgement changes nothing)


async def open_jobs(ctx: ServiceContext, provider: str, *, limit: int = 50, offset: int = 0) -> OpenJobs:
    """The provider's jobs still waiting for its answer, oldest first."""
    params = {"p_provider": provider, "p_limit": limit, "p_offset": offset}
    if ctx.db.dialect == "postgresql":
        rows = await _OPEN_JOBS.fetch_alone(ctx.db, params)  # one statement, one round trip
    else:  # SQLite: a read transaction (DEFERRED), never a writer's lock
        async with ctx.db.session() as session:
            rows = await _OPEN_JOBS.fetch(await session.connection(), params)
    items = [
        OpenJob(
            id=r["id"],
            service=r["service"],
            status=r["status"] or UtilityJobStatus.PENDING,
            created_at=r["created_at"],
        )
        for r in rows
        if not (r["status"] and UtilityJobStatus(r["status"]).is_final)
    ]
    return OpenJobs(items=items, limit=limit, offset=offset)


async def _own_row(uow: UnitOfWork, provider: str, job_id: str) -> OutboxRow:
    conn = uow.connection
    found = await _OWN_ROW.fetch(conn, {"p_id": job_id, "p_provider": provider})
    if not found:
        # Another provider's job answers exactly like a missing one: existence does not leak.
        raise NotFound(f"utility job {job_id} not found", f"未找到过户任务 {job_id}")
    return row_of(found[0])


async def fetch_job(
    ctx: ServiceContext, provider: str, job_id: str, *, staff: str | None = None
) -> FetchedJob:
    """The job with the people's details, for its own provider; the first fetch marks it delivered.

    `staff`: the provider's member of staff reading it in the portal (`user:<name>`): the people's details
    are shown to a person, so the look is audited with their name (a program's fetch is not)."""
    async with ctx.db.transaction() as uow:
        row = await _own_row(uow, provider, job_id)
        ref = JobRef.of(row)
        change = await advance(
            uow,
            ref,
            UtilityJobStatus.DELIVERED,
            actor=staff or provider_actor(provider),
            now=ctx.clock(),
            fetched=True,
        )
        if staff is not None:
            _audit_staff(uow, staff, ref, "utility.job_viewed", {})
    return FetchedJob(status=change.status, job=transfer_job(ctx, row))


def _audit_staff(
    uow: UnitOfWork, staff: str, ref: JobRef, action: str, details: Mapping[str, object]
) -> None:
    """A portal user's look or answer, in the audit log (people act at human pace: no lock contention)."""
    uow.audit(
        actor=staff,
        action=action,
        subject=f"utility_job:{ref.id}",
        case_id=ref.case_id,
        details={"provider": ref.provider, "service": ref.service.value, **details},
    )


async def acknowledge(
    ctx: ServiceContext,
    provider: str,
    job_id: str,
    answer: Acknowledgement,
    *,
    finish: Finish | None = None,
    staff: str | None = None,
) -> AcknowledgementResult:
    """Record the provider's answer. A final answer settles the outbox row as delivered in the same
    transaction (also a parked or dead-lettered one: the effect has happened). Repeats change nothing;
    a final answer contradicting an earlier one is a Conflict. `finish(uow, result)` runs inside the
    transaction (the HTTP layer stores its idempotent response there, next to the effect). `staff`: the
    member of staff answering in the portal; the answer and the bank's notice are audited with their name."""
    outcome = answer.outcome()
    async with ctx.db.transaction() as uow:
        found = await _OWN_ROW_AND_JOB.fetch(uow.connection, {"p_id": job_id, "p_provider": provider})
        if found:
            row = row_of({name: found[0][name] for name in _OUTBOX_COLUMNS})
            locked: UtilityJobStatus | None = UtilityJobStatus(found[0]["job_status"])
        else:  # not answered before (or not this provider's job: NotFound)
            row, locked = await _own_row(uow, provider, job_id), None
        ref = JobRef.of(row)
        change: Change = await advance(
            uow,
            ref,
            status_of(outcome, UtilityJobStatus.ACCEPTED),
            actor=staff or provider_actor(provider),
            now=ctx.clock(),
            outcome=outcome,
            locked=locked,
        )
        if staff is not None and change.changed:
            details = {"result": answer.result, "reason": answer.reason.value if answer.reason else None}
            _audit_staff(uow, staff, ref, "utility.job_answered", details | {"note": answer.message})
        if change.status.is_final and row.status != OutboxStatus.DELIVERED.value:
            await mark_delivered(uow, row, now=ctx.clock())
        result = AcknowledgementResult(id=job_id, status=change.status, duplicate=not change.changed)
        if finish is not None:
            await finish(uow, result)
    return result
