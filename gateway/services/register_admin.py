"""Register entries made outside the five bank case kinds: a court's seizure, a building's first registration."""

from __future__ import annotations

from gateway.domain.parties import CoOwnership, Institution, Owner
from gateway.domain.register import OwnershipFacts, SeizureFacts
from gateway.domain.registration import NewEntry
from gateway.errors import Conflict
from gateway.services.context import ServiceContext


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
        await store.replace_unit_facts(unit.model_copy(update={"first_registered": True, "for_sale": False}))
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
