"""Bank-counter use cases: submit a case (受理), withdraw it (撤回), answer a 补正 request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from gateway.db.ids import new_id
from gateway.domain import rules
from gateway.domain.cases import CaseInput, TransferInput
from gateway.domain.register import MortgageFacts, RegisterView
from gateway.domain.registration import mortgage_ranks_needed, next_mortgage_rank
from gateway.domain.workflow import (
    Case,
    CaseState,
    Track,
    TrackState,
    Transition,
    is_immediate_kind,
    receipt_number,
    required_tracks,
)
from gateway.domain.worklist import resumed_deadline
from gateway.errors import Conflict, RuleViolation
from gateway.ports.banks import CaseEvent
from gateway.services import effects, mortgagee_notices
from gateway.services.context import Finisher, ServiceContext
from gateway.services.materials import MaterialRecord, MaterialUpload
from gateway.services.registration import apply_registration, lapsed_entries, notify_bank

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork


async def submit(
    ctx: ServiceContext,
    party: str,
    branch: str,
    clerk: str,
    case_input: CaseInput,
    *,
    materials: Sequence[MaterialUpload] = (),
    finish: Finisher | None = None,
) -> Case:
    """受理: check every rule against the register; a 即办件 is registered at once, others go to review.

    A failing rule refuses the submission with every reason at once (一次性告知) and records nothing.
    """
    submitter = ctx.institution(party)
    now = ctx.clock()
    calendar = await ctx.current_calendar()
    async with ctx.unit_of_work() as (uow, store):
        ranks_needed = mortgage_ranks_needed(case_input)
        year = now.astimezone(calendar.tz).year
        # The unit locked, then its entries, the ranks live cases reserve and (PostgreSQL) the 受理编号, in
        # one round trip: a refused submission leaves a gap in the year's receipt numbers (allowed there).
        locked = await store.lock_unit_view(
            case_input.unit_code, ranks=ranks_needed, receipt_of=(ctx.registry.admin_code, year)
        )
        view, reserved = locked.view, locked.reserved_ranks
        kinds = frozenset(m.kind for m in materials)
        rule_ctx = rules.RuleContext(
            submitter=submitter, materials=kinds, lapsed=lapsed_entries(ctx, view, now)
        )
        results = rules.check(case_input, view, rule_ctx)
        failed = rules.failures(results)
        if failed:
            raise RuleViolation(failed)
        deadline = calendar.add_working_days(now, ctx.deadline_working_days)
        # 受理编号: the registry's yearly numbering (a sequence on PostgreSQL: unique, gaps allowed; on SQLite
        # the counter row, taken now that the rules pass).
        seq = locked.receipt or await store.next_receipt(ctx.registry.admin_code, year)
        case = Case(
            id=new_id(),
            kind=case_input.kind,
            state=CaseState.RECEIVED,
            unit_code=case_input.unit_code,
            receipt_number=receipt_number(year, ctx.registry.admin_code, seq),
            submitted_by=party,
            branch=branch,
            clerk=clerk,
            input=case_input,
            rule_results=[r.__dict__ for r in results],
            received_at=now,
            deadline_at=deadline.at,
            deadline_provisional=deadline.provisional,
        )
        actor = f"bank:{party}/{clerk}"
        case.new_transitions.append(
            Transition(from_state=None, to_state=CaseState.RECEIVED, actor=actor, at=now)
        )
        if ranks_needed:
            releasing = case_input.release_proof_numbers if isinstance(case_input, TransferInput) else []
            case.rank = next_mortgage_rank(view, reserved, releasing)
        uow.audit(
            actor=actor,
            action="case.submitted",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"kind": case.kind.value, "unit_code": case.unit_code, "branch": branch},
        )

        # A case that relies on a written consent or statement is read by an examiner, never rules alone.
        if is_immediate_kind(case.kind) and not any(k.is_statement for k in kinds):
            case.move(CaseState.APPROVED, actor="rules", at=now, reason="即办件：全部规则通过")
            await apply_registration(
                ctx, uow, store, case, view, submitter, actor="rules", at=now, materials=kinds
            )
        else:
            case.tracks = _start_tracks(case_input, view)
            case.move(CaseState.UNDER_REVIEW, actor=actor, at=now)
            _request_track_work(uow, case, view)
            mortgagee_notices.request_answers(uow, case, view, at=now)
            notify_bank(uow, case, CaseEvent.ACCEPTED)
        # One insert at the end: the case is born in the state it reached, with its whole history.
        await store.insert_case(case, now)
        for material in materials:
            await store.add_material(case.id, material, round_=0, at=now)
        if finish:
            await finish(uow, case)
    return case


def _start_tracks(case_input: CaseInput, view: RegisterView) -> dict[Track, TrackState]:
    tracks = {track: TrackState() for track in required_tracks(case_input)}
    if Track.BANK in tracks:
        tracks[Track.BANK].detail["awaiting"] = _bank_confirmations(case_input, view)
    return tracks


def _bank_confirmations(case_input: CaseInput, view: RegisterView) -> list[str]:
    """What the banks must confirm: the new loan's contracts, and each released mortgage's settlement."""
    awaiting: list[str] = []
    if not isinstance(case_input, TransferInput) or case_input.new_mortgage:
        awaiting.append("contracts")
    if isinstance(case_input, TransferInput):
        awaiting += [f"settlement:{proof}" for proof in case_input.release_proof_numbers]
    return awaiting


def _request_track_work(uow: UnitOfWork, case: Case, view: RegisterView) -> None:
    base = {"case_id": case.id}
    if Track.TAX in case.tracks:
        uow.outbox(job=effects.TAX_ASSESS, target="tax", payload=base, case_id=case.id)
    for item in case.tracks.get(Track.BANK, TrackState()).detail.get("awaiting", []):
        if item == "contracts":
            uow.outbox(
                job=effects.BANK_CONFIRM_CONTRACTS, target=case.submitted_by, payload=base, case_id=case.id
            )
        else:
            proof = item.split(":", 1)[1]
            entry = view.mortgage_by_proof(proof)
            assert entry is not None and isinstance(entry.facts, MortgageFacts)
            uow.outbox(
                job=effects.BANK_CONFIRM_SETTLEMENT,
                target=entry.facts.mortgagee.code,
                payload={**base, "proof_number": proof},
                case_id=case.id,
            )


def _bank_actor(party: str, by: str) -> str:
    """Who acted for the bank: the bank itself (its signed API), or one of its staff in the bank portal —
    `bank:<code>/<user name>`, as a submission names its clerk. The bank stays the party of record."""
    return f"bank:{party}/{by}" if by else f"bank:{party}"


def _where(branch: str) -> dict[str, str]:
    return {"branch": branch} if branch else {}


async def withdraw(
    ctx: ServiceContext,
    party: str,
    case_id: str,
    reason: str,
    *,
    by: str = "",
    branch: str = "",
    finish: Finisher | None = None,
) -> Case:
    """撤回: the submitting bank withdraws a case that is not yet registered (`by`, `branch`: the portal's
    user and their branch, recorded with the bank)."""
    now = ctx.clock()
    actor = _bank_actor(party, by)
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id, party=party)
        case.move(CaseState.WITHDRAWN, actor=actor, at=now, reason=reason or "申请人撤回")
        await store.save_case(case, now)
        uow.audit(
            actor=actor,
            action="case.withdrawn",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"reason": reason, **_where(branch)},
        )
        if finish:
            await finish(uow, case)
    return case


async def resubmit(
    ctx: ServiceContext,
    party: str,
    case_id: str,
    note: str = "",
    *,
    by: str = "",
    branch: str = "",
    finish: Finisher | None = None,
) -> Case:
    """补正 answered: the case returns to review, and the examiners review it again from 初审."""
    now = ctx.clock()
    actor = _bank_actor(party, by)
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id, party=party)
        if case.state is not CaseState.NEED_MORE_MATERIAL:
            raise Conflict("the case is not waiting for material", "该业务件不在待补正状态")
        case.tracks[Track.REVIEW] = TrackState()
        paused_at = await store.paused_since(case.id)
        if paused_at is not None:  # 补正 time does not count against the deadline
            case.deadline_at = resumed_deadline(ctx.calendar, case.deadline_at, paused_at, now)
        case.move(CaseState.UNDER_REVIEW, actor=actor, at=now, reason=note or "已补正")
        await store.save_case(case, now)
        uow.audit(
            actor=actor,
            action="case.resubmitted",
            subject=f"case:{case.id}",
            case_id=case.id,
            details=_where(branch) or None,
        )
        if finish:
            await finish(uow, case)
    return case


async def add_material(
    ctx: ServiceContext,
    party: str,
    case_id: str,
    material: MaterialUpload,
    *,
    by: str = "",
    branch: str = "",
    finish: Callable[[UnitOfWork, MaterialRecord], Awaitable[None]] | None = None,
) -> MaterialRecord:
    """Upload one more material (e.g. for 补正) to one's own case that is not yet decided."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        case = await store.load_case(case_id, party=party)
        if case.state.is_final or case.state in (CaseState.REGISTERED, CaseState.CERTIFIED):
            raise Conflict(
                "the case takes no more material", f"案件状态为“{case.state.label_zh}”，不再接收材料"
            )
        round_ = await store.material_round(case.id)
        record = await store.add_material(case.id, material, round_=round_, at=now)
        uow.audit(
            actor=_bank_actor(party, by),
            action="case.material_added",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"material_id": record.id, "sm3": record.sm3, "size": record.size, **_where(branch)},
        )
        if finish:
            await finish(uow, record)
    return record


async def get_case(ctx: ServiceContext, case_id: str, *, party: str | None = None) -> Case:
    async with ctx.reading() as store:
        return await store.load_case(case_id, party=party)
