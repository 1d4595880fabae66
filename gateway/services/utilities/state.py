"""The state of a utility job and what a change of it sets off: the audit record and the bank's notice.

Every writer (the delivery handler, a provider's fetch or acknowledgement) goes through `advance`: the job's
row is locked while it changes, and the "all done" check is serialised per case, so it is seen — and told
to the bank — exactly once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Subquery,
    Table,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from gateway.db.prepared import Prepared
from gateway.db.tables.cases import CaseRow
from gateway.db.tables.infra import OutboxArchiveRow, OutboxRow
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
ARCHIVE: Table = OutboxArchiveRow.__table__  # type: ignore[attr-defined]


def case_deliveries(case_id: ColumnElement[Any] | str) -> Subquery:
    """A case's utility-transfer deliveries, from the outbox and from its archive (rows delivered longer ago
    than the retention move there: gateway.db.retention), as one subquery with the outbox's columns."""
    # The job as a literal, not a parameter: PostgreSQL can then prove the outbox's partial index
    # ix_outbox_case (utility transfers only) applies, even in a prepared statement's generic plan.
    job: ColumnElement[str] = literal_column(f"'{effects.UTILITY_TRANSFER}'")
    parts = [
        select(*table.c).where(table.c.case_id == case_id, table.c.job == job) for table in (OUTBOX, ARCHIVE)
    ]
    return union_all(*parts).subquery("deliveries")


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

# Built once and run on the driver inside the caller's transaction (gateway.db.prepared): every answer of every
# job goes through `advance`. The INSERT and UPDATE write the columns they are given (compiled per set).
_FIRST_ANSWER = {
    "postgresql": Prepared(
        postgresql.insert(JOBS).on_conflict_do_nothing(index_elements=["id"]).returning(JOBS.c.id)
    ),
    "sqlite": Prepared(
        sqlite.insert(JOBS).on_conflict_do_nothing(index_elements=["id"]).returning(JOBS.c.id)
    ),
}
_LOCK_JOB = Prepared(select(JOBS.c.status).where(JOBS.c.id == bindparam("p_id")).with_for_update())
_MOVE_JOB = Prepared(update(JOBS).where(JOBS.c.id == bindparam("p_id")))
_LOCK_CASE = Prepared(select(func.pg_advisory_xact_lock(bindparam("p_ns"), bindparam("p_key"))))
_EXPECTED = select(func.count()).select_from(case_deliveries(bindparam("p_case"))).scalar_subquery()
_DONE = (
    select(func.count())
    .select_from(JOBS)
    .where(JOBS.c.case_id == bindparam("p_case"), JOBS.c.status == UtilityJobStatus.DONE.value)
    .scalar_subquery()
)
_COUNTS = Prepared(select(_EXPECTED.label("expected"), _DONE.label("done")))
_SERVICES = Prepared(select(JOBS.c.service).where(JOBS.c.case_id == bindparam("p_case")))
_BANK = Prepared(select(CASES.c.submitted_by).where(CASES.c.id == bindparam("p_case")))


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
    """Serialise the "is every job of the case done?" check (SQLite: BEGIN IMMEDIATE already does).

    Taken after the job's own row is written: whoever takes it second sees the first one's commit."""
    conn = uow.connection
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(case_id.encode()) - (1 << 31)  # into int4
        await _LOCK_CASE.fetch(conn, {"p_ns": _LOCK_NAMESPACE, "p_key": key})


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
    locked: UtilityJobStatus | None = None,
) -> Change:
    """Move `job` to `status` if that is forward; a final job refuses another final answer (Conflict).

    The first answer inserts the job's row; later ones lock it (FOR UPDATE) and move it on, so the handler
    and a provider's acknowledgement never both win. The caller commits: the bank's notice and its audit
    record go out in the same transaction as the state that caused them. `locked`: the status of the job's
    row, which the caller has already locked FOR UPDATE in this transaction (with the read that found it).
    """
    conn = uow.connection
    answer: dict[str, Any] = {"status": status.value, "updated_at": now}
    if attempts is not None:
        answer["attempts"] = attempts
    if fetched:
        answer["fetched_at"] = now
    if outcome is not None:
        answer.update(
            reason_code=outcome.reason.value if outcome.reason else None,
            provider_code=outcome.provider_code,
            message=outcome.message,
            provider_reference=outcome.provider_reference,
            answered_at=now,
        )
    before = locked
    if before is None:
        first = await _FIRST_ANSWER[conn.dialect.name].fetch(
            conn,
            {
                "id": job.id,
                "case_id": job.case_id,
                "provider": job.provider,
                "service": job.service.value,
                "unit_code": job.unit_code,
                "account_no": job.account_no,
                "created_at": now,
                "attempts": 0,
                "message": "",
                "provider_code": "",
                "provider_reference": "",
                **answer,
            },
        )
        if not first:  # answered before: lock its row and move it on
            before = UtilityJobStatus((await _LOCK_JOB.fetch(conn, {"p_id": job.id}))[0]["status"])
    if before is None:
        target = status
    else:
        if before.is_final:
            if status.is_final and status is not before:
                raise Conflict(
                    f"utility job {job.id} is already {before.value}; it cannot become {status.value}",
                    f"过户任务 {job.id} 已是 {before.value}，不能再改为 {status.value}",
                )
            return Change(before, changed=False)
        target = status if _RANK[status] > _RANK[before] else before
        if target is status:
            await _MOVE_JOB.execute(conn, {"p_id": job.id, **answer})
        elif attempts is not None or fetched:
            keep = {k: v for k, v in answer.items() if k in ("attempts", "fetched_at")}
            await _MOVE_JOB.execute(conn, {"p_id": job.id, **keep, "updated_at": now})
    changed = target is not before
    if changed and target.is_final:
        await _tell_bank(uow, job, target, outcome, actor)
    return Change(target, changed)


async def _tell_bank(
    uow: UnitOfWork, job: JobRef, status: UtilityJobStatus, outcome: UtilityOutcome | None, actor: str
) -> None:
    """A refusal needs the citizen: tell the bank now. The last job done: tell the bank all are done.

    These case-level facts are what the audit log records; each job's own answer stays in `utility_job`
    (and its delivery in the outbox), which keeps the one audit chain's lock off the per-job path.
    """
    if status is UtilityJobStatus.REJECTED:
        reason = outcome.reason if outcome is not None else None
        zh = f"{job.service.label_zh}过户未能办理（{job.provider}）：{reason.label_zh if reason else '被拒绝'}，请告知申请人办理"
        en = f"{job.service.value} transfer refused by {job.provider}: {reason.label_en if reason else 'refused'}"
        details = {
            "provider": job.provider,
            "service": job.service.value,
            "reason": reason.value if reason else None,
            "provider_code": outcome.provider_code if outcome else "",
        }
        await _notice(uow, job, CaseEvent.UTILITY_NEEDS_CITIZEN, zh, en, actor, details)
        return
    await lock_case(uow, job.case_id)
    conn = uow.connection
    # After the lock, in a statement of its own: it sees the commit of whoever held the lock before us.
    counted = (await _COUNTS.fetch(conn, {"p_case": job.case_id}))[0]
    if counted["expected"] != counted["done"]:
        return
    services = sorted(
        UtilityService(r["service"]) for r in await _SERVICES.fetch(conn, {"p_case": job.case_id})
    )
    names_zh = "、".join(s.label_zh for s in services)
    await _notice(
        uow,
        job,
        CaseEvent.UTILITIES_DONE,
        f"水电气网联动过户已全部办结：{names_zh}",
        "every utility account transfer is done: " + ", ".join(s.value for s in services),
        actor,
        {"services": [s.value for s in services]},
    )


async def _notice(
    uow: UnitOfWork, job: JobRef, event: CaseEvent, zh: str, en: str, actor: str, details: dict[str, Any]
) -> None:
    uow.audit(
        actor=actor,
        action=f"case.{event.value}",
        subject=f"case:{job.case_id}",
        case_id=job.case_id,
        details=details,
    )
    conn = uow.connection
    found = await _BANK.fetch(conn, {"p_case": job.case_id})
    bank = found[0]["submitted_by"] if found else None
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
