"""The state of a utility job and what a change of it sets off: the audit record and the bank's notice.

Every writer (the delivery handler, a provider's fetch or acknowledgement) goes through `advance`, inside
one transaction serialised per case, so "all done" is seen — and told to the bank — exactly once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update

from gateway.db.tables.cases import CaseRow
from gateway.db.tables.infra import OutboxRow
from gateway.db.tables.utilities import UtilityJobRow, UtilityJobStatus
from gateway.db.uow import UnitOfWork
from gateway.errors import Conflict
from gateway.logging import get_logger
from gateway.ports.banks import CaseEvent
from gateway.ports.utilities import OutcomeKind, UtilityOutcome, UtilityService
from gateway.services import effects

log = get_logger("gateway.utilities")
OUTBOX: Table = OutboxRow.__table__  # type: ignore[attr-defined]
JOBS: Table = UtilityJobRow.__table__  # type: ignore[attr-defined]
CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]

# Namespace of the per-case advisory lock (the two-int form; its key space is apart from the audit lock's).
_LOCK_NAMESPACE = 0x7574696C  # "util"
# Statuses only move forward; a late or repeated answer never takes a job back.
_RANK = {
    UtilityJobStatus.PENDING: 0,
    UtilityJobStatus.DELIVERED: 1,
    UtilityJobStatus.ACCEPTED: 2,
    UtilityJobStatus.DONE: 3,
    UtilityJobStatus.REJECTED: 3,
}


@dataclass(frozen=True)
class JobRef:
    """What identifies a job without its personal data: the outbox row's id, case, provider and account."""

    id: str
    case_id: str
    provider: str
    service: UtilityService
    unit_code: str
    account_no: str

    @classmethod
    def of(cls, row: OutboxRow | Any) -> JobRef:
        payload = row.payload
        return cls(
            id=row.id,
            case_id=str(row.case_id),
            provider=row.target,
            service=UtilityService(payload["service"]),
            unit_code=payload["unit_code"],
            account_no=payload["account_no"],
        )


@dataclass(frozen=True)
class Change:
    """The job's status after a write, and whether this write made it (False: repeated or out of order)."""

    status: UtilityJobStatus
    changed: bool


def status_of(outcome: UtilityOutcome, later: UtilityJobStatus) -> UtilityJobStatus:
    if outcome.kind is OutcomeKind.DONE:
        return UtilityJobStatus.DONE
    if outcome.kind is OutcomeKind.REJECTED:
        return UtilityJobStatus.REJECTED
    return later


async def lock_case(uow: UnitOfWork, case_id: str) -> None:
    """Serialise the writers of one case's utility jobs (SQLite: BEGIN IMMEDIATE already does)."""
    conn = await uow.session.connection()
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(case_id.encode()) - (1 << 31)  # into int4
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": _LOCK_NAMESPACE, "key": key}
        )


async def advance(
    uow: UnitOfWork,
    job: JobRef,
    status: UtilityJobStatus,
    *,
    actor: str,
    now: datetime,
    outcome: UtilityOutcome | None = None,
    attempts: int | None = None,
    fetched: bool = False,
) -> Change:
    """Move `job` to `status` if that is forward; a final job refuses another final answer (Conflict).

    The caller holds the case lock (`lock_case`) and commits: the audit record and any bank notice go out
    in the same transaction as the state.
    """
    conn = await uow.session.connection()
    current = (await conn.execute(select(JOBS).where(JOBS.c.id == job.id))).one_or_none()
    before = UtilityJobStatus(current.status) if current is not None else None
    if before is not None and before.is_final:
        if status.is_final and status is not before:
            raise Conflict(
                f"utility job {job.id} is already {before.value}; it cannot become {status.value}",
                f"过户任务 {job.id} 已是 {before.value}，不能再改为 {status.value}",
            )
        return Change(before, changed=False)
    target = status if before is None or _RANK[status] > _RANK[before] else before
    values: dict[str, Any] = {"status": target.value, "updated_at": now}
    if attempts is not None:
        values["attempts"] = attempts
    if fetched:
        values["fetched_at"] = now
    if outcome is not None and target is status:
        values.update(
            reason_code=outcome.reason.value if outcome.reason else None,
            provider_code=outcome.provider_code,
            message=outcome.message,
            provider_reference=outcome.provider_reference,
            answered_at=now,
        )
    if current is None:
        await conn.execute(
            insert(JOBS).values(
                id=job.id,
                case_id=job.case_id,
                provider=job.provider,
                service=job.service.value,
                unit_code=job.unit_code,
                account_no=job.account_no,
                created_at=now,
                **{"attempts": 0, "message": "", "provider_code": "", "provider_reference": "", **values},
            )
        )
    elif values:
        await conn.execute(update(JOBS).where(JOBS.c.id == job.id).values(**values))
    changed = target is not before
    if changed and target.is_final:
        uow.audit(
            actor=actor,
            action=f"utility.{target.value}",
            subject=f"utility_job:{job.id}",
            case_id=job.case_id,
            details={
                "provider": job.provider,
                "service": job.service.value,
                "reason": values.get("reason_code"),
                "provider_code": values.get("provider_code", ""),
            },
        )
        await _tell_bank(uow, job, target, outcome)
    return Change(target, changed)


async def _tell_bank(
    uow: UnitOfWork, job: JobRef, status: UtilityJobStatus, outcome: UtilityOutcome | None
) -> None:
    """A refusal needs the citizen: tell the bank now. The last job done: tell the bank all are done."""
    conn = await uow.session.connection()
    if status is UtilityJobStatus.REJECTED:
        reason = outcome.reason if outcome is not None else None
        zh = f"{job.service.label_zh}过户未能办理（{job.provider}）：{reason.label_zh if reason else '被拒绝'}，请告知申请人办理"
        en = f"{job.service.value} transfer refused by {job.provider}: {reason.label_en if reason else 'refused'}"
        await _notice(uow, job, CaseEvent.UTILITY_NEEDS_CITIZEN, zh, en)
        return
    expected = (
        await conn.execute(
            select(func.count())
            .select_from(OUTBOX)
            .where(OUTBOX.c.case_id == job.case_id, OUTBOX.c.job == effects.UTILITY_TRANSFER)
        )
    ).scalar_one()
    done = (
        await conn.execute(
            select(JOBS.c.service).where(
                JOBS.c.case_id == job.case_id, JOBS.c.status == UtilityJobStatus.DONE.value
            )
        )
    ).scalars()
    services = sorted(UtilityService(s) for s in done)
    if len(services) == expected:
        names_zh = "、".join(s.label_zh for s in services)
        await _notice(
            uow,
            job,
            CaseEvent.UTILITIES_DONE,
            f"水电气网联动过户已全部办结：{names_zh}",
            "every utility account transfer is done: " + ", ".join(s.value for s in services),
        )


async def _notice(uow: UnitOfWork, job: JobRef, event: CaseEvent, zh: str, en: str) -> None:
    conn = await uow.session.connection()
    bank = (await conn.execute(select(CASES.c.submitted_by).where(CASES.c.id == job.case_id))).scalar()
    if bank is None:
        log.warning("utility job of an unknown case: the bank cannot be told", case_id=job.case_id)
        return
    # A `bank.notify` row like the case's other events; its handler sends it through the bank's port.
    uow.outbox(
        job=effects.BANK_NOTIFY,
        target=bank,
        payload={"case_id": job.case_id, "event": event.value, "reason": zh, "reason_en": en},
        case_id=job.case_id,
    )
