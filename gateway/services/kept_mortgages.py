"""带押过户 (民法典 第四百零六条): the kept mortgage's mortgagee answers — its consent, its system taking the notice.

What is recorded where, and why: gateway.services.mortgagee_notices.
"""

from __future__ import annotations

from datetime import datetime

from gateway.domain.workflow import Case, CaseState, Track, TrackState, TrackStatus
from gateway.ports.banks import CaseEvent
from gateway.services.context import Finisher, ServiceContext
from gateway.services.mortgagee_notices import ARTICLE, KEPT
from gateway.services.registration import notify_bank
from gateway.services.review import join_tracks

__all__ = ["notice_delivered", "record_consent"]


def _close_item(track: TrackState, item: str, actor: str, at: datetime) -> None:
    awaiting: list[str] = track.detail.get("awaiting", [])
    if item not in awaiting:
        return
    awaiting.remove(item)
    track.detail.setdefault("confirmed", []).append(item)
    if not awaiting and track.status is TrackStatus.PENDING:
        track.status, track.decided_at, track.decided_by = TrackStatus.PASSED, at, actor


_OPEN = (CaseState.UNDER_REVIEW, CaseState.NEED_MORE_MATERIAL)


async def record_consent(
    ctx: ServiceContext,
    case_id: str,
    proof: str,
    *,
    consented: bool,
    actor: str,
    message: str = "",
    finish: Finisher | None = None,
) -> Case:
    """The mortgagee of record answered (its signed callback): it consents to the transfer, or not.

    A refusal where consent is needed sends the case to 补正 with the mortgagee's reason (release the
    mortgage in the case, or settle with the bank); where notice is enough it is recorded and changes
    nothing else. A repeated answer changes nothing."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_case(case_id)
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.BANK)
        answer = track.detail.get(KEPT, {}).get(proof) if track else None
        settled = answer is None or "consented_at" in answer or "refused_at" in answer
        if track is None or answer is None or settled or case.state not in _OPEN:
            if finish:
                await finish(uow, case)
            return case
        if consented:
            answer |= {"consented_by": actor, "consented_at": now.isoformat(), "via": "callback"}
            _close_item(track, f"consent:{proof}", actor, now)
        else:
            answer |= {"refused_by": actor, "refused_at": now.isoformat(), "message": message}
            if answer["basis"] == "consent" and case.state is CaseState.UNDER_REVIEW:
                track.status = TrackStatus.FAILED
                reason = f"抵押权人不同意带押转让（{ARTICLE}，当事人约定须经同意）：{message}"
                case.move(CaseState.NEED_MORE_MATERIAL, actor=actor, at=now, reason=reason)
                notify_bank(uow, case, CaseEvent.NEED_MORE_MATERIAL)
        uow.audit(
            actor=actor,
            action=f"case.mortgagee.{'consented' if consented else 'refused'}",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"proof_number": proof, "basis": answer["basis"], "message": message},
        )
        join_tracks(case, now)
        await store.save_case(case, now)
        if finish:
            await finish(uow, case)
    return case


async def notice_delivered(ctx: ServiceContext, case_id: str, proof: str, delivery_id: str) -> Case:
    """The mortgagee's system took the registry's §406 notice: record when, by that delivery."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_case(case_id)
        case = await store.load_case(case_id)
        track = case.tracks.get(Track.BANK)
        answer = track.detail.get(KEPT, {}).get(proof) if track else None
        if track is None or answer is None or answer.get("notice_delivery") != delivery_id:
            return case
        if answer.get("notified_at"):
            return case  # delivered again (at least once): already recorded
        answer["notified_at"] = now.isoformat()
        if answer["basis"] == "notice" and case.state in _OPEN:
            _close_item(track, f"notice:{proof}", f"bank:{answer['mortgagee']}", now)
        uow.audit(
            actor=f"bank:{answer['mortgagee']}",
            action="case.mortgagee.notified",
            subject=f"case:{case.id}",
            case_id=case.id,
            details={"proof_number": proof, "delivery_id": delivery_id},
        )
        join_tracks(case, now)
        await store.save_case(case, now)
    return case
