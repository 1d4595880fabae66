"""Everything the back office shows of one case: the case, the unit's register, materials, history, names.

Read in one read transaction. Revealing the ID numbers it masks needs a reason and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.db.tables.cases import TransitionRow
from gateway.domain import rules
from gateway.domain.register import Entry, RegisterView
from gateway.domain.registration import NewEntry, registration_change
from gateway.domain.rules import RuleResult
from gateway.domain.workflow import Case
from gateway.errors import FieldReason, InputError
from gateway.services.context import ServiceContext
from gateway.services.materials import MaterialRecord
from gateway.services.registration import registration_rule_context
from gateway.services.store_queue import QueueFilter
from gateway.services.utilities.views import UtilityJobView, case_utilities
from gateway.services.worklist import _names

__all__ = [
    "CaseFile",
    "RegistrationPreview",
    "UnitFile",
    "case_file",
    "preview_registration",
    "record_reveal",
    "unit_file",
]


@dataclass(frozen=True)
class CaseFile:
    case: Case
    history: list[TransitionRow]
    materials: list[MaterialRecord]
    certificates: list[dict[str, Any]]
    register: RegisterView | None  # None if the unit has left the register meanwhile
    other_cases: list[Case]  # other open cases on the same unit
    names: dict[str, str]  # display names by id, user name and `user:<name>`
    # 水电气网联动过户 after 登簿: each provider's job and its answer (done, or refused with reason and note)
    utilities: list[UtilityJobView] = field(default_factory=list)


async def case_file(ctx: ServiceContext, case_id: str) -> CaseFile:
    async with ctx.reading() as store:
        case = await store.load_case(case_id)
        history = await store.history(case.id)
        materials = await store.materials(case.id)
        certificates = await store.certificates_of(case.id)
        register = None
        if await store.unit_exists(case.unit_code):
            register = await store.view(await store.load_unit(case.unit_code))
        on_unit, _ = await store.work_queue(QueueFilter(unit_code=case.unit_code), limit=20)
        staff = await store.staff()
    jobs = (await case_utilities(ctx, None, case.id)).jobs if case.kind == "transfer" else []
    return CaseFile(
        case=case,
        utilities=jobs,
        history=history,
        materials=materials,
        certificates=certificates,
        register=register,
        other_cases=[c for c in on_unit if c.id != case.id],
        names=_names(staff),
    )


async def record_reveal(ctx: ServiceContext, actor: str, case_id: str, reason: str) -> None:
    """Audit that `actor` saw the case's full ID numbers, and why (a reason is required)."""
    if not reason.strip():
        raise InputError(
            "say why you need the full ID numbers",
            "须填写查看完整证件号码的理由",
            [FieldReason("reason", "须填写查看理由", "a reason is required")],
        )
    async with ctx.unit_of_work() as (uow, store):
        await store.load_case(case_id)  # 404 for an unknown case, before anything is recorded
        uow.audit(
            actor=actor,
            action="case.personal_data_revealed",
            subject=f"case:{case_id}",
            case_id=case_id,
            details={"reason": reason.strip()},
        )


@dataclass(frozen=True)
class RegistrationPreview:
    """What 登簿 would write now: entries opened (with the certificate each brings) and closed, and any
    rule that fails against the register as it is."""

    case: Case
    opens: list[NewEntry]
    closes: list[Entry]
    failures: list[RuleResult]


async def preview_registration(ctx: ServiceContext, case_id: str) -> RegistrationPreview:
    async with ctx.reading() as store:
        case = await store.load_case(case_id)
        view = await store.view(await store.load_unit(case.unit_code))
        submitter = ctx.institution(case.submitted_by)
        context = await registration_rule_context(ctx, store, case, view, ctx.clock(), submitter)
    results = rules.check(case.input, view, context)
    failures = [r for r in results if not r.passed]
    if failures:
        return RegistrationPreview(case, [], [], failures)
    change = registration_change(case.input, view, submitter, case.rank)
    closing = set(change.closes)
    return RegistrationPreview(case, change.opens, [e for e in view.entries if e.id in closing], [])


@dataclass(frozen=True)
class UnitFile:
    """A unit's page: its register as it stands, every entry ever (closed ones too), its open cases."""

    register: RegisterView
    entries: list[Entry]
    open_cases: list[Case]


async def unit_file(ctx: ServiceContext, unit_code: str) -> UnitFile:
    async with ctx.reading() as store:
        unit = await store.load_unit(unit_code)
        view = await store.view(unit)
        entries = await store.entries_of(unit_code)
        cases, _ = await store.work_queue(QueueFilter(unit_code=unit_code), limit=50)
    return UnitFile(view, entries, cases)
