"""Results of the parallel tracks that outside parties close: the bank's confirmations and the tax bureau's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain.workflow import Case, CaseState, Track, TrackStatus
from gateway.ports.banks import CaseEvent
from gateway.services.context import Finisher, ServiceContext
from gateway.services.registration import notify_bank
from gateway.services.review import join_tracks


async def record_bank_result(
    ctx: ServiceContext,
    case_id: str,
    item: str,
    *,
    confirmed: bool,
    actor: str,
    message: str = "",
    rules: Sequence[tuple[str, str, str]] = (),
    finish: Finisher | None = None,
) -> Case:
    """A bank confirmed (or refused) one awaited item: "contracts" or "settlement:<proof number>".

    A refusal sends the case to 补正 with the bank's own reason: the counter fixes the contract and resubmits.
    `rules` are the (name, zh, en) of the gateway's own comparisons that failed (e.g. `bank_term_matches`),
    kept on the bank track so the counter reads which fact differs, in both languages.
    Repeated results for an item already settled change nothing (callbacks and retries may repeat).
    The case is locked first: the parallel tracks' results arrive together and each must be recorded, not
    refused as a conflict (the delivery would wait for its retry schedule's next step, minutes later).
    """
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_case(case_id)
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.BANK)
        awaiting: list[str] = list(track.detail.get("awaiting", [])) if track else []
        if track is None or item not in awaiting or case.state is not CaseState.UNDER_REVIEW:
            if finish:
                await finish(uow, case)
            return case
        if confirmed:
            awaiting.remove(item)
            track.detail["awaiting"] = awaiting
            track.detail.setdefault("confirmed", []).append(item)
            if not awaiting:
                track.status = TrackStatus.PASSED
                track.decided_at = now
                track.decided_by = actor
        else:
            track.status = TrackStatus.FAILED
            if rules:
                track.detail["failed_rules"] = [
                    {"name": name, "reason_zh": zh, "reason_en": en} for name, zh, en in rules
                ]
            reason = f"银行核验未通过（{item}）：{message}"
            case.move(CaseState.NEED_MORE_MATERIAL, actor=actor, at=now, reason=reason)
            notify_bank(uow, case, CaseEvent.NEED_MORE_MATERIAL)
        uow.audit(
            actor=actor,
            action=f"case.bank.{'confirmed' if confirmed else 'refused'}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"item": item, "message": message, "rules": [name for name, _, _ in rules]},
        )
        join_tracks(case, now)
        await store.save_case(case, now)
        if finish:
            await finish(uow, case)
    return case


async def record_tax_assessment(
    ctx: ServiceContext, case_id: str, assessment: dict[str, Any], actor: str
) -> Case:
    """The bureau assessed the transfer's taxes; the tax track now waits for payment."""
    return await _tax_step(ctx, case_id, actor, TrackStatus.ASSESSED, assessment)


async def record_tax_cleared(
    ctx: ServiceContext,
    case_id: str,
    clearance: dict[str, Any],
    actor: str,
    *,
    finish: Finisher | None = None,
) -> Case:
    """The bureau confirmed payment (完税): the tax track passes, and 登簿 may follow (契税法 第11条)."""
    return await _tax_step(ctx, case_id, actor, TrackStatus.PASSED, clearance, finish)


async def _tax_step(
    ctx: ServiceContext,
    case_id: str,
    actor: str,
    status: TrackStatus,
    detail: dict[str, Any],
    finish: Finisher | None = None,
) -> Case:
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_case(case_id)  # beside the bank's results, as record_bank_result says
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.TAX)
        unchanged = (
            track is None
            or track.status is TrackStatus.PASSED
            or case.state.is_final
            or (status is TrackStatus.ASSESSED and track.status is not TrackStatus.PENDING)
        )
        if unchanged or track is None:
            if finish:
                await finish(uow, case)
            return case
        track.status = status
        track.detail.update({"assessment" if status is TrackStatus.ASSESSED else "clearance": detail})
        if status is TrackStatus.PASSED:
            track.decided_at, track.decided_by = now, actor
        uow.audit(
            actor=actor,
            action=f"case.tax.{status.value}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details=detail,
        )
        join_tracks(case, now)
        await store.save_case(case, now)
        if finish:
            await finish(uow, case)
    return case


async def certificate_delivered(ctx: ServiceContext, case_id: str, number: str) -> Case:
    """One certificate reached the bank (发证); the case is archived (COMPLETED) once all of its have.

    Deliveries of one case's certificates may finish at the same moment: the case is locked, so exactly
    one of them sees the last certificate delivered.
    """
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_case(case_id)
        case = await store.load_case(case_id)
        left = await store.certificate_delivered(case_id, number, now)
        if left == 0 and case.state is CaseState.CERTIFIED:
            case.move(CaseState.COMPLETED, actor="registry:发证", at=now)
            uow.audit(actor="registry", action="case.completed", subject=f"case:{case.id}", case_id=case.id)
            await store.save_case(case, now)
    return case
