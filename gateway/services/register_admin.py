"""Register entries made outside the five bank case kinds: a court's seizure and its lifting, a building's
first registration, an objection (异议登记), the court's acceptance that keeps it and its cancellation, a
lapsed pre-registration closed, a correction of a unit's surveyed facts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from gateway.domain.lapses import lapses
from gateway.domain.parties import CoOwnership, Institution, Owner, Party
from gateway.domain.register import (
    Entry,
    EntryKind,
    ObjectionFacts,
    OwnershipFacts,
    RegisterView,
    SeizureFacts,
)
from gateway.domain.registration import NewEntry
from gateway.errors import Conflict, FieldReason, InputError, NotFound
from gateway.services.context import ServiceContext

PreRegistrationCloseReason = Literal["lapsed", "claim_extinguished"]


async def record_seizure(
    ctx: ServiceContext, actor: str, unit_code: str, authority: str, document_no: str
) -> str:
    """查封: a court's order recorded at once; it blocks transfers and mortgages not yet registered.

    On a unit already seized the order is a 轮候查封 (最高人民法院关于人民法院民事执行中查封、扣押、冻结财产的
    规定 第二十六条): recorded in the order received, it takes effect by itself when the seizures before it
    are lifted — the earliest open seizure entry is the one in effect, so no entry changes."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        view = await store.view(await store.lock_unit(unit_code))
        for entry in view.seizures:
            assert isinstance(entry.facts, SeizureFacts)
            if entry.facts.document_no.strip() == document_no.strip():
                # The same court order delivered twice (a resent fax, a second clerk): one seizure, not two.
                raise Conflict(
                    f"the seizure by document {document_no} is already recorded",
                    f"文书 {document_no} 的查封已登记，不能重复登记",
                )
        entry_id = await store.open_entry(
            unit_code,
            NewEntry(SeizureFacts(authority=authority, document_no=document_no)),
            case_id=None,
            at=now,
            certificate_number=None,
        )
        uow.audit(
            actor=actor,
            action="register.seized",
            subject=f"unit:{unit_code}",
            details={
                "entry_id": entry_id,
                "authority": authority,
                "document_no": document_no,
                "waiting": bool(view.seizures),  # 轮候查封
            },
        )
    return entry_id


async def record_first_registration(
    ctx: ServiceContext, actor: str, unit_code: str, developer: Institution
) -> str:
    """首次登记 of a new building's flat: the developer becomes owner, and pre-sale claims can convert."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        unit = await store.lock_unit(unit_code)
        if unit.first_registered:
            raise Conflict("the unit's first registration is already done", "该不动产单元已完成首次登记")
        registered_on = now.astimezone(ctx.calendar.tz).date()  # the 90 days of 民法典 §221 run from it
        await store.replace_unit_facts(
            unit.model_copy(
                update={"first_registered": True, "first_registered_on": registered_on, "for_sale": False}
            )
        )
        owner = OwnershipFacts(owners=[Owner(party=developer.as_party())], co_ownership=CoOwnership.SOLE)
        entry_id = await store.open_entry(
            unit_code, NewEntry(owner), case_id=None, at=now, certificate_number=None
        )
        uow.audit(
            actor=actor,
            action="register.first_registration",
            subject=f"unit:{unit_code}",
            details={"entry_id": entry_id, "developer": developer.code},
        )
    return entry_id


async def _close_open(
    ctx: ServiceContext,
    actor: str,
    unit_code: str,
    entry_id: str,
    kind: EntryKind,
    action: str,
    details: dict[str, str],
) -> None:
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        view = await store.view(await store.lock_unit(unit_code))
        if not any(e.id == entry_id for e in view.open_of(kind)):
            raise NotFound(
                f"no open {kind.value} entry {entry_id} on unit {unit_code}", "该不动产单元没有此项登记"
            )
        await store.close_entries([entry_id], case_id=None, at=now)
        uow.audit(
            actor=actor, action=action, subject=f"unit:{unit_code}", details={"entry_id": entry_id, **details}
        )


async def release_seizure(
    ctx: ServiceContext, actor: str, unit_code: str, entry_id: str, authority: str, document_no: str
) -> None:
    """解封: the court's order lifting a seizure closes its entry (民事诉讼法 第一百零六条 及 查封规定)."""
    await _close_open(
        ctx, actor, unit_code, entry_id, EntryKind.SEIZURE, "register.seizure_released",
        {"authority": authority, "document_no": document_no},
    )  # fmt: skip


async def record_objection(
    ctx: ServiceContext, actor: str, unit_code: str, applicant: Party, matter: str
) -> str:
    """异议登记 (民法典 §220): recorded at once; it lapses unless the applicant's suit is accepted within 15 days."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_unit(unit_code)
        entry_id = await store.open_entry(
            unit_code,
            NewEntry(ObjectionFacts(applicant=applicant, matter=matter)),
            case_id=None,
            at=now,
            certificate_number=None,
        )
        uow.audit(
            actor=actor,
            action="register.objection",
            subject=f"unit:{unit_code}",
            details={"entry_id": entry_id, "matter": matter},
        )
    return entry_id


def _open_entry(view: RegisterView, entry_id: str, kind: EntryKind) -> Entry:
    found = next((e for e in view.open_of(kind) if e.id == entry_id), None)
    if found is None:
        raise NotFound(
            f"no open {kind.value} entry {entry_id} on unit {view.unit.unit_code}",
            f"该不动产单元没有现行记载 {entry_id}",
        )
    return found


async def record_court_acceptance(
    ctx: ServiceContext,
    actor: str,
    unit_code: str,
    entry_id: str,
    *,
    court: str,
    case_no: str,
    accepted_on: date,
) -> str:
    """The court accepted the objection applicant's suit (民法典 §220: 自异议登记之日起十五日内提起诉讼): the
    objection stays in force. The entry is not edited: it is closed and succeeded by one that records the
    court's acceptance and keeps the original day of registration. Returns the successor's id."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        unit = await store.lock_unit(unit_code)
        view = await store.view(unit)
        entry = _open_entry(view, entry_id, EntryKind.OBJECTION)
        facts = entry.facts
        assert isinstance(facts, ObjectionFacts)
        lapse = lapses(view, now, ctx.calendar, ctx.calendar.tz)[entry.id]
        if lapse.lapses_on is not None and accepted_on > lapse.lapses_on:
            raise Conflict(
                f"the objection lapsed on {lapse.lapses_on}: no suit was accepted within 15 days",
                f"异议登记已于{lapse.lapses_on}失效（十五日内未提起诉讼）",
            )
        successor = facts.model_copy(
            update={
                "registered_on": facts.registered_on or entry.opened_at.astimezone(ctx.calendar.tz).date(),
                "court": court,
                "court_case_no": case_no,
                "court_accepted_on": accepted_on,
            }
        )
        await store.close_entries([entry.id], case_id=None, at=now)
        new_id = await store.open_entry(
            unit_code, NewEntry(successor), case_id=None, at=now, certificate_number=None
        )
        uow.audit(
            actor=actor,
            action="register.objection_court_accepted",
            subject=f"unit:{unit_code}",
            details={"entry_id": entry.id, "successor": new_id, "court": court, "case_no": case_no},
        )
    return new_id


async def close_pre_registration(
    ctx: ServiceContext, actor: str, unit_code: str, entry_id: str, reason: PreRegistrationCloseReason
) -> None:
    """Close a 预告登记 or 预抵押 that has no effect any more (民法典 §221): its 90 days ran out, or the claim it
    protects is extinguished. A 'lapsed' close before the lapse date is refused."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        unit = await store.lock_unit(unit_code)
        view = await store.view(unit)
        entry = _open_entry(view, entry_id, EntryKind.PRE_REGISTRATION)
        lapse = lapses(view, now, ctx.calendar, ctx.calendar.tz)[entry.id]
        if reason == "lapsed" and not lapse.lapsed:
            until = f"{lapse.lapses_on}" if lapse.lapses_on else "能够进行不动产登记之日起九十日"
            raise Conflict(
                f"the pre-registration has not lapsed: it is in force until {until}",
                f"预告登记尚未失效，有效期至{until}",
            )
        await store.close_entries([entry.id], case_id=None, at=now)
        uow.audit(
            actor=actor,
            action="register.pre_registration_closed",
            subject=f"unit:{unit_code}",
            details={"entry_id": entry.id, "reason": reason, "lapses_on": str(lapse.lapses_on)},
        )


async def cancel_objection(
    ctx: ServiceContext, actor: str, unit_code: str, entry_id: str, reason: str
) -> None:
    """异议登记 cancelled: withdrawn, or lapsed when no suit followed within 15 days (民法典 第二百二十条)."""
    await _close_open(
        ctx,
        actor,
        unit_code,
        entry_id,
        EntryKind.OBJECTION,
        "register.objection_cancelled",
        {"reason": reason},
    )


async def correct_unit(
    ctx: ServiceContext, actor: str, unit_code: str, address: str, floor_area: Decimal, reason: str
) -> None:
    """更正登记 of a unit's surveyed facts (坐落, 建筑面积) found wrong on the register (不动产登记暂行条例
    实施细则 第七十九条、第八十条): the old and new values and the reason go to the audit log."""
    if not reason.strip():
        raise InputError(
            "a reason is required",
            "须填写更正依据",
            [FieldReason("reason", "须填写更正依据", "a reason is required")],
        )
    if floor_area <= 0:
        raise InputError(
            "the floor area must be positive",
            "建筑面积须大于零",
            [FieldReason("floor_area", "建筑面积须大于零", "must be positive")],
        )
    async with ctx.unit_of_work() as (uow, store):
        unit = await store.lock_unit(unit_code)
        update: dict[str, object] = {"address": address.strip(), "floor_area": floor_area}
        if unit.exclusive_area is not None and unit.shared_area is not None:
            # The form corrects 建筑面积 as surveyed; the exclusive part stands and the shared part (分摊) is
            # what remains, so the unit's areas still add up.
            if floor_area <= unit.exclusive_area:
                raise InputError(
                    "the floor area must exceed the exclusive area",
                    f"建筑面积须大于专有建筑面积 {unit.exclusive_area} m²",
                    [
                        FieldReason(
                            "floor_area",
                            f"须大于专有建筑面积 {unit.exclusive_area}",
                            "must exceed the exclusive area",
                        )
                    ],
                )
            update["shared_area"] = floor_area - unit.exclusive_area
        corrected = unit.model_copy(update=update)
        await store.replace_unit_facts(corrected)
        uow.audit(
            actor=actor,
            action="register.unit_corrected",
            subject=f"unit:{unit_code}",
            details={
                "reason": reason,
                "before": {"address": unit.address, "floor_area": unit.floor_area},
                "after": {"address": corrected.address, "floor_area": corrected.floor_area},
            },
        )
