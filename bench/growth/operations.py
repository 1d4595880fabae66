"""The reads and claims whose cost must stay flat as the register grows, each through the code that serves
it (the same services the API handlers call): the growth benchmark times them, the plan test EXPLAINs the SQL
they run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.db.audit_walk import walk_pages
from gateway.db.outbox import claim_due
from gateway.db.retention import archive_delivered_outbox
from gateway.db.tables.infra import OutboxStatus
from gateway.domain.workflow import CaseState
from gateway.domain.worklist import WorkStage
from gateway.jobs.deadletters import list_deliveries
from gateway.security.idempotency import IdempotencyStore
from gateway.security.nonces import DatabaseNonceStore
from gateway.services.certificate_lookup import find_by_identifier, find_by_token
from gateway.services.context import ServiceContext
from gateway.services.dashboard import dashboard
from gateway.services.store_queue import QueueFilter
from gateway.services.utilities.providers import open_jobs
from growth.fill import BANKS, PROVIDERS, Filled

__all__ = ["OPERATIONS", "Operation"]

Run = Callable[[ServiceContext, Filled], Awaitable[object]]


@dataclass(frozen=True)
class Operation:
    name: str
    run: Run
    changes_data: bool = False  # a claim or a purge: timed a few times only


# The back office's work queue (gateway.services.worklist.queue reads it so), one page each.
async def _queue(ctx: ServiceContext, filled: Filled) -> object:
    where = QueueFilter(stages=(WorkStage.RECEIVED,), states=(CaseState.RECEIVED,), bank=BANKS[0])
    async with ctx.reading() as store:
        return await store.work_queue(where, limit=50)


async def _queue_stage(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.reading() as store:
        return await store.work_queue(QueueFilter(stages=(WorkStage.REGISTER,)), limit=50)


async def _queue_open(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.reading() as store:  # every open stage: a supervisor's 全部待办
        return await store.work_queue(QueueFilter(), limit=50)


async def _case_page(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.reading() as store:  # as GET /api/v1/cases/{id} does
        case = await store.load_case(filled.sample_case, party=BANKS[0])
        return (
            case,
            await store.history(case.id),
            await store.materials(case.id),
            await store.certificates_of(case.id),
        )


async def _unit_status(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.reading() as store:  # as GET /backoffice/api/v1/units/{code} does
        unit = await store.lock_unit(filled.sample_unit)
        return await store.view(unit), await store.count_live_cases(filled.sample_unit)


async def _bank_cases(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.reading() as store:
        return await store.list_cases(party=BANKS[1], state=None, limit=50)


async def _provider_jobs(ctx: ServiceContext, filled: Filled) -> object:
    return await open_jobs(ctx, PROVIDERS[1], limit=50)


async def _verify_token(ctx: ServiceContext, filled: Filled) -> object:
    return await find_by_token(ctx.db, ctx.registry, filled.sample_token)


async def _verify_identifier(ctx: ServiceContext, filled: Filled) -> object:
    return await find_by_identifier(ctx.db, ctx.registry, filled.sample_identifier)


async def _outbox_claim(ctx: ServiceContext, filled: Filled) -> object:
    return await claim_due(ctx.db, "growth-bench", 100)


async def _outbox_claim_small(ctx: ServiceContext, filled: Filled) -> object:
    return await claim_due(ctx.db, "growth-bench", 16)  # the embedded runner's batch (its concurrency)


async def _dashboard(ctx: ServiceContext, filled: Filled) -> object:
    return await dashboard(ctx)  # the supervisor's 统计 page: the last 7 days, the backlog, the workload


async def _delivered_list(ctx: ServiceContext, filled: Filled) -> object:
    # GET /backoffice/api/v1/deliveries?status=delivered: the newest page of the ten years' deliveries.
    return await list_deliveries(ctx.db, OutboxStatus.DELIVERED, limit=50)


async def _dead_letters(ctx: ServiceContext, filled: Filled) -> object:
    return await list_deliveries(ctx.db, OutboxStatus.DEAD, limit=100)  # the back office's 死信 page


async def _audit_tail(ctx: ServiceContext, filled: Filled) -> object:
    async with ctx.db.session() as session:  # one page of an incremental verify, near the head
        conn = await session.connection()
        async for page in walk_pages(conn, ctx.db.dialect, max(0, filled.cases * 3 - 1000), 1000):
            return page
    return None


async def _retention(ctx: ServiceContext, filled: Filled) -> object:
    await IdempotencyStore(ctx.db).purge_expired()
    await DatabaseNonceStore(ctx.db).purge_expired()
    # The pick of the archiving pass (nothing in the generated outbox is older than ten years).
    return await archive_delivered_outbox(ctx.db, datetime.now(UTC) - timedelta(days=3650), max_batches=1)


OPERATIONS = (
    Operation("back-office queue (stage + state + bank, by deadline)", _queue),
    Operation("back-office queue (stage, by deadline)", _queue_stage),
    Operation("back-office queue (every open stage, by deadline)", _queue_open),
    Operation("case page", _case_page),
    Operation("unit register status", _unit_status),
    Operation("bank's case list", _bank_cases),
    Operation("provider's job list", _provider_jobs),
    Operation("public look-up by QR token", _verify_token),
    Operation("public look-up by identifier", _verify_identifier),
    Operation("supervisor's dashboard (7 days)", _dashboard),
    Operation("deliveries list (delivered, newest first)", _delivered_list),
    Operation("dead letters list", _dead_letters),
    Operation("audit verify page (1000 rows)", _audit_tail),
    Operation("outbox claim (16 due rows)", _outbox_claim_small, changes_data=True),
    Operation("outbox claim (100 due rows)", _outbox_claim, changes_data=True),
    Operation("retention pass", _retention, changes_data=True),
)
