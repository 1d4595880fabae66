"""A bank's view of a unit before it lends (查询登记状态): the facts it needs, its own loans' details only.

A lender must know who owns the unit, whether it is seized, objected to or pre-registered, and which
mortgages rank before its own. It must not learn another bank's loan: the contract numbers, the amount
and the term of a mortgage (or 预抵押) are shown to the mortgagee of record alone. People are masked.

One function serves the signed API (GET /api/v1/units/{unit_code}) and the bank portal alike, and every
look-up is audited with the bank (and, from the portal, the clerk who looked).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from gateway.domain.identifiers import mask_name, validate_unit_code
from gateway.domain.lapses import Lapse, lapses
from gateway.domain.parties import CoOwnership
from gateway.domain.register import (
    Entry,
    EntryKind,
    MortgageFacts,
    OwnershipFacts,
    PreRegistrationFacts,
    RegisterView,
)
from gateway.domain.shares import share_zh
from gateway.errors import InputError, NotFound
from gateway.services.certificate_lookup import find_by_number
from gateway.services.context import ServiceContext

__all__ = [
    "LenderEntry",
    "LenderUnitView",
    "co_ownership_zh",
    "find_unit_code",
    "lender_view",
    "public_facts",
]

# What a mortgage (or 预抵押) shows a bank that is not its mortgagee: whose it is and of what kind.
_OTHERS_MORTGAGE = ("kind", "mortgagee", "mortgage_kind")
_OTHERS_PRE_REGISTRATION = ("kind", "pre_kind", "buyers", "mortgagee", "registrable_on")


class LenderEntry(BaseModel):
    """One open register entry as a lender may see it: holders masked, other banks' loans reduced."""

    kind: EntryKind
    entry_id: str
    certificate_number: str | None
    rank: int | None  # 抵押顺位: the mortgage's place among the open mortgages
    opened_at: datetime
    # A mortgage or 预抵押: whether the asking bank is its mortgagee (only then are the details shown).
    own: bool | None = None
    summary: dict[str, Any]
    lapses_on: date | None = None  # objections (15 days) and pre-registrations (90 days): last day in force
    lapsed: bool = False


class LenderUnitView(BaseModel):
    """A unit's register status before lending (查询登记状态)."""

    unit_code: str
    address: str
    floor_area: str
    first_registered: bool
    owners: list[str]
    co_ownership: str | None = None  # 共有情况 as a certificate prints it: 按份共有：张*占三分之一，…
    ownership_certificate: str | None
    mortgages: list[LenderEntry]
    seizures: list[LenderEntry]
    objections: list[LenderEntry]
    pre_registrations: list[LenderEntry]
    pending_cases: int


def public_facts(tree: Any) -> Any:
    """Facts with people reduced to masked names; institutions keep their names."""
    if isinstance(tree, dict):
        if "id_number" in tree and tree.get("id_type") != "credit_code":
            return {"name": mask_name(str(tree.get("name", "")))}
        return {k: public_facts(v) for k, v in tree.items() if k not in ("phone",)}
    if isinstance(tree, list):
        return [public_facts(v) for v in tree]
    return tree


def co_ownership_zh(facts: object) -> str | None:
    if not isinstance(facts, OwnershipFacts):
        return None
    label = facts.co_ownership.label_zh
    if facts.co_ownership is not CoOwnership.SHARES:
        return label
    parts = "，".join(f"{mask_name(o.party.name)}占{share_zh(o.share)}" for o in facts.owners if o.share)
    return f"{label}：{parts}"


def _entry(entry: Entry, party: str, *, rank: int | None = None, lapse: Lapse | None = None) -> LenderEntry:
    facts = entry.facts
    summary = public_facts(facts.model_dump(mode="json"))
    own: bool | None = None
    if isinstance(facts, MortgageFacts | PreRegistrationFacts) and (
        isinstance(facts, MortgageFacts) or facts.mortgagee is not None
    ):
        own = facts.mortgagee is not None and facts.mortgagee.code == party
        if not own:
            keep = _OTHERS_MORTGAGE if isinstance(facts, MortgageFacts) else _OTHERS_PRE_REGISTRATION
            summary = {k: v for k, v in summary.items() if k in keep}
    elif isinstance(facts, PreRegistrationFacts):  # a buyer's 预告登记: the sale contract is the parties'
        summary = {k: v for k, v in summary.items() if k in _OTHERS_PRE_REGISTRATION}
    return LenderEntry(
        kind=entry.kind,
        entry_id=entry.id,
        certificate_number=entry.certificate_number,
        rank=rank if rank is not None else entry.rank,
        opened_at=entry.opened_at,
        own=own,
        summary=summary,
        lapses_on=lapse.lapses_on if lapse else None,
        lapsed=lapse.lapsed if lapse else False,
    )


def view_for(party: str, view: RegisterView, pending: int, found: dict[str, Lapse]) -> LenderUnitView:
    ownership = view.ownership
    return LenderUnitView(
        unit_code=view.unit.unit_code,
        address=view.unit.address,
        floor_area=f"{view.unit.floor_area}",
        first_registered=view.unit.first_registered,
        owners=[mask_name(p.name) for p in view.owners],
        co_ownership=co_ownership_zh(ownership.facts) if ownership else None,
        ownership_certificate=ownership.certificate_number if ownership else None,
        mortgages=[_entry(e, party, rank=view.mortgage_rank(e)) for e in view.mortgages],
        seizures=[_entry(e, party) for e in view.seizures],
        objections=[_entry(e, party, lapse=found.get(e.id)) for e in view.objections],
        pre_registrations=[_entry(e, party, lapse=found.get(e.id)) for e in view.pre_registrations],
        pending_cases=pending,
    )


async def lender_view(ctx: ServiceContext, party: str, unit_code: str, *, clerk: str = "") -> LenderUnitView:
    """The unit as bank `party` may see it; audited (`clerk`: the portal user who looked). NotFound when
    the unit is not on the register."""
    unit_code = validate_unit_code(unit_code)
    async with ctx.unit_of_work() as (uow, store):
        try:
            unit = await store.load_unit(unit_code)
        except InputError:
            raise NotFound(
                f"unit {unit_code} is not on the register", f"登记簿中没有不动产单元 {unit_code}"
            ) from None
        view = await store.view(unit)
        pending = await store.count_live_cases(unit_code)
        uow.audit(
            actor=f"bank:{party}/{clerk}" if clerk else f"bank:{party}",
            action="register.viewed_by_bank",
            subject=f"unit:{unit_code}",
            details={"unit_code": unit_code, "bank": party, "clerk": clerk},
        )
    return view_for(party, view, pending, lapses(view, ctx.clock(), ctx.calendar, ctx.calendar.tz))


async def find_unit_code(ctx: ServiceContext, given: str) -> str | None:
    """A unit code as typed, or the unit of a certificate number (不动产权证书号 / 不动产登记证明号, either
    bracket width); None when it is neither."""
    given = given.strip()
    if not given:
        return None
    try:
        return validate_unit_code(given)
    except InputError:
        pass
    try:
        record = await find_by_number(ctx.db, ctx.registry, given)
    except InputError:
        return None
    return record.unit_code if record is not None else None
