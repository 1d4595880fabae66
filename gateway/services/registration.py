"""登簿: re-check every rule, change the register, allocate certificate numbers, and write what follows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from e_license.numbers import CertificateKind, CertificateNumber, format_number
from gateway.db.ids import new_outbox_id
from gateway.db.tables.certificates import CertificateRow
from gateway.domain import rules
from gateway.domain.cases import TransferInput
from gateway.domain.identifiers import mask_name
from gateway.domain.lapses import lapses
from gateway.domain.materials import MaterialKind
from gateway.domain.parties import Institution, Party
from gateway.domain.register import EntryFacts, EntryKind, MortgageFacts, OwnershipFacts, RegisterView
from gateway.domain.registration import NewEntry, registration_change
from gateway.domain.workflow import Case, CaseState, Track, TrackStatus, issues_certificate
from gateway.errors import RuleViolation
from gateway.ports.banks import CaseEvent
from gateway.privacy import outbox_payload
from gateway.services import effects, mortgagee_notices
from gateway.services.context import ServiceContext
from gateway.services.store import Store

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

# What closing an entry does to the certificate that proved it.
_CLOSED_CERTIFICATE_STATUS = {EntryKind.OWNERSHIP: "void"}  # 已作废; every other kind: cancelled 已注销


def lapsed_entries(ctx: ServiceContext, view: RegisterView, now: datetime) -> frozenset[str]:
    """The objections and pre-registrations on the unit whose time ran out (民法典 §220, §221)."""
    found = lapses(view, now, ctx.calendar, ctx.calendar.tz)
    return frozenset(entry_id for entry_id, lapse in found.items() if lapse.lapsed)


def notify_bank(uow: UnitOfWork, case: Case, event: CaseEvent, **extra: Any) -> None:
    uow.outbox(
        job=effects.BANK_NOTIFY,
        target=case.submitted_by,
        payload={"case_id": case.id, "event": event.value, "reason": case.reason, **extra},
        case_id=case.id,
    )


async def apply_registration(
    ctx: ServiceContext,
    uow: UnitOfWork,
    store: Store,
    case: Case,
    view: RegisterView,
    submitter: Institution,
    *,
    actor: str,
    at: datetime,
    materials: frozenset[MaterialKind] | None = None,
) -> None:
    """Record the case in the register (the case is APPROVED and the unit locked by the caller).

    `materials` are the kinds of material on the case, read from the store when not given (a case
    registered at submission passes its uploads, not yet written)."""
    context = await registration_rule_context(ctx, store, case, view, at, submitter, materials)
    results = rules.check(case.input, view, context)
    failed = rules.failures(results)
    if failed:
        raise RuleViolation(failed)
    case.rule_results = [r.__dict__ for r in results]

    change = registration_change(case.input, view, submitter, case.rank)
    opened: list[dict[str, Any]] = []
    for new in change.opens:
        number = await _allocate_number(ctx, store, new, at) if new.certificate else None
        entry_id = await store.open_entry(
            case.unit_code, new, case_id=case.id, at=at, certificate_number=number
        )
        if new.certificate and number:
            await store.add_certificate(
                CertificateRow(
                    number=number,
                    kind=new.certificate,
                    entry_id=entry_id,
                    case_id=case.id,
                    unit_code=case.unit_code,
                    holder_masked=holders_masked(new.facts),
                    status="valid",
                )
            )
        opened.append({"entry_id": entry_id, "kind": new.facts.kind.value, "certificate_number": number})

    kinds = {e.id: e.kind for e in view.entries}
    await store.close_entries(change.closes, case_id=case.id, at=at)
    for kind in {kinds[i] for i in change.closes}:
        ids = [i for i in change.closes if kinds[i] is kind]
        await store.set_certificate_status(ids, _CLOSED_CERTIFICATE_STATUS.get(kind, "cancelled"), at)

    case.move(CaseState.REGISTERED, actor=actor, at=at)
    uow.audit(
        actor=actor,
        action="case.registered",
        subject=f"case:{case.id}",
        case_id=case.id,
        details={"opened": opened, "closed": change.closes},
    )
    numbers = [o["certificate_number"] for o in opened if o["certificate_number"]]
    notify_bank(uow, case, CaseEvent.REGISTERED, certificate_numbers=numbers)
    mortgagee_notices.tell_cancelled_mortgagees(uow, case, view, at=at)
    if any(isinstance(n.facts, MortgageFacts) for n in change.opens):
        uow.outbox(
            job=effects.BANK_RELEASE_LOAN,
            target=case.submitted_by,
            payload={"case_id": case.id, "registered_at": at.isoformat()},
            case_id=case.id,
        )
    if isinstance(case.input, TransferInput):
        ownership_number = next(
            (o["certificate_number"] for o in opened if o["kind"] == EntryKind.OWNERSHIP.value), None
        )
        _write_utility_jobs(ctx, uow, case, case.input, view, ownership_number, at)
    if issues_certificate(case.kind):
        uow.outbox(
            job=effects.CERTIFICATE_ISSUE,
            target=effects.REGISTRY,
            payload={"case_id": case.id},
            case_id=case.id,
        )
    else:
        case.move(CaseState.COMPLETED, actor=actor, at=at)


async def registration_rule_context(
    ctx: ServiceContext,
    store: Store,
    case: Case,
    view: RegisterView,
    at: datetime,
    submitter: Institution | None = None,
    materials: frozenset[MaterialKind] | None = None,
) -> rules.RuleContext:
    """The rules' context at 登簿 (and in its preview and recheck): the submitter, whether the tax bureau
    has confirmed payment, the written statements on the case (read from the store when not given: a case
    registered at submission passes its uploads, not yet written), what has lapsed on the unit, and which
    kept mortgages' banks have answered."""
    if materials is None:
        materials = await store.material_kinds(case.id)
    return rules.RuleContext(
        submitter=submitter or ctx.institution(case.submitted_by),
        at_registration=True,
        tax_cleared=Track.TAX in case.tracks and case.tracks[Track.TAX].status is TrackStatus.PASSED,
        materials=materials,
        lapsed=lapsed_entries(ctx, view, at),
        mortgagees_answered=mortgagee_notices.answered(case),
    )


async def _allocate_number(ctx: ServiceContext, store: Store, new: NewEntry, at: datetime) -> str:
    assert new.certificate is not None
    kind = CertificateKind(new.certificate)
    year = at.astimezone(ctx.calendar.tz).year
    seq = await store.next_number(ctx.registry.admin_code, year, kind.value)
    number = CertificateNumber(
        province=ctx.registry.province_abbr, year=year, area=ctx.registry.area_name, kind=kind, seq=seq
    )
    return format_number(number, ctx.registry.number_pattern)


def holders_masked(facts: EntryFacts) -> str:
    """Who a certificate names, as a public page may show it: owners masked, a mortgagee bank by name."""
    if isinstance(facts, OwnershipFacts):
        return "、".join(mask_name(p.name) for p in facts.parties)
    if isinstance(facts, MortgageFacts):
        return facts.mortgagee.name
    return ""


def _person(p: Party) -> dict[str, Any]:
    return {"name": p.name, "id_type": p.id_type.value, "id_number": p.id_number, "phone": p.phone}


def _write_utility_jobs(
    ctx: ServiceContext,
    uow: UnitOfWork,
    case: Case,
    transfer: TransferInput,
    view: RegisterView,
    ownership_number: str | None,
    at: datetime,
) -> None:
    """One account-transfer job per provider, in the 登簿 transaction (never before 登簿).

    The payload carries what a provider needs and nothing more (domain.md §5); ID numbers in it are
    encrypted at rest like everywhere else and revealed only when the job is delivered.
    """
    for account in transfer.utilities:
        payload = {
            "case_id": case.id,
            "service": account.service,
            "account_no": account.account_no,
            "address": view.unit.address,
            "unit_code": case.unit_code,
            "certificate_number": ownership_number,
            "registered_at": at.isoformat(),
            "sellers": [_person(p) for p in transfer.sellers],
            "buyers": [_person(o.party) for o in transfer.buyers],
        }
        row_id = new_outbox_id()
        uow.outbox(
            job=effects.UTILITY_TRANSFER,
            target=account.provider,
            payload=ctx.protector.protect(payload, outbox_payload(row_id)),
            case_id=case.id,
            row_id=row_id,
        )
