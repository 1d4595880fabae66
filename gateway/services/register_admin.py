"""Register entries made outside the five bank case kinds: a court's seizure, a building's first registration,
an objection (异议登记) and the court's acceptance that keeps it, a lapsed pre-registration closed."""

from __future__ import annotations

from datetime import date
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
from gateway.errors import Conflict, NotFound
from gateway.services.context import ServiceContext

PreRegistrationCloseReason = Literal["lapsed", "claim_extinguished"]


async def record_seizure(
    ctx: ServiceContext, actor: str, unit_code: str, authority: str, document_no: str
) -> str:
    """查封: a court's order recorded at once; it blocks transfers and mortgages not yet registered."""
    now = ctx.clock()
    async with ctx.unit_of_work() as (uow, store):
        await store.lock_unit(unit_code)
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
            details={"entry_id": entry_id, "authority": authority, "document_no": document_no},
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
