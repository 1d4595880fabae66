"""What the API shows of cases, materials and the register: output models, with personal data masked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.domain.cases import CaseKind
from gateway.domain.identifiers import mask_id_number, mask_name, mask_phone
from gateway.domain.lapses import Lapse
from gateway.domain.materials import MaterialKind
from gateway.domain.register import Entry, EntryKind, RegisterView
from gateway.domain.workflow import Case, CaseState
from gateway.services.lender_view import co_ownership_zh, public_facts
from gateway.services.materials import MaterialRecord

ONE_HOUR = 3600.0


def masked_tree(tree: Any) -> Any:
    """The case input as a bank or examiner list may show it: ID numbers, names and phones masked."""
    if isinstance(tree, dict):
        out = {k: masked_tree(v) for k, v in tree.items()}
        if isinstance(tree.get("id_number"), str) and tree.get("id_type") != "credit_code":
            out["id_number"] = mask_id_number(tree["id_number"])
        if isinstance(tree.get("phone"), str):
            out["phone"] = mask_phone(tree["phone"])
        return out
    if isinstance(tree, list):
        return [masked_tree(v) for v in tree]
    return tree


class RuleView(BaseModel):
    name: str
    passed: bool
    reason_zh: str = ""
    reason_en: str = ""


class TrackView(BaseModel):
    status: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class TransitionView(BaseModel):
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str = ""


class MaterialView(BaseModel):
    id: str
    name: str
    kind: MaterialKind  # what a rule reads it as (other: not read by a rule)
    content_type: str
    size: int
    sm3: str
    round: int
    uploaded_at: datetime

    @classmethod
    def of(cls, record: MaterialRecord) -> MaterialView:
        return cls.model_validate(record.__dict__)


class CertificateRef(BaseModel):
    number: str
    kind: str  # ownership 不动产权证书 / proof 不动产登记证明
    status: str  # valid 有效 / cancelled 已注销 / void 已作废
    issued: bool  # the signed file exists (缮证 done)


class CaseView(BaseModel):
    """A case as its bank (or the back office) sees it."""

    id: str
    receipt_number: str | None = None  # 受理编号, as on the counter receipt and the certificate's 业务件号
    kind: CaseKind
    kind_zh: str
    state: CaseState
    state_zh: str
    unit_code: str
    branch: str
    clerk: str
    submitted_by: str
    assignee: str | None = None
    reason: str = ""
    # The mortgage's acceptance order number reserved at 受理; the 抵押顺位 on the register is its place
    # among the open mortgages (the unit view, the proof), which a withdrawn earlier case does not hole.
    rank: int | None = None
    received_at: datetime
    deadline_at: datetime
    deadline_provisional: bool
    approved_at: datetime | None = None
    registered_at: datetime | None = None
    certified_at: datetime | None = None
    completed_at: datetime | None = None
    seconds_to_certificate: float | None = None
    within_one_hour: bool | None = None
    tracks: dict[str, TrackView]
    rules: list[RuleView]
    input: dict[str, Any]
    history: list[TransitionView] = Field(default_factory=list)
    materials: list[MaterialView] = Field(default_factory=list)
    certificates: list[CertificateRef] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        case: Case,
        *,
        history: list[TransitionView] | None = None,
        materials: list[MaterialRecord] | None = None,
        certificates: list[dict[str, Any]] | None = None,
        reveal: bool = False,
    ) -> CaseView:
        seconds = (case.certified_at - case.received_at).total_seconds() if case.certified_at else None
        data = case.input.model_dump(mode="json")
        return cls(
            id=case.id,
            receipt_number=case.receipt_number,
            kind=case.kind,
            kind_zh=case.kind.label_zh,
            state=case.state,
            state_zh=case.state.label_zh,
            unit_code=case.unit_code,
            branch=case.branch,
            clerk=case.clerk,
            submitted_by=case.submitted_by,
            assignee=case.assignee,
            reason=case.reason,
            rank=case.rank,
            received_at=case.received_at,
            deadline_at=case.deadline_at,
            deadline_provisional=case.deadline_provisional,
            approved_at=case.approved_at,
            registered_at=case.registered_at,
            certified_at=case.certified_at,
            completed_at=case.completed_at,
            seconds_to_certificate=seconds,
            within_one_hour=None if seconds is None else seconds <= ONE_HOUR,
            tracks={k.value: TrackView.model_validate(v.model_dump()) for k, v in case.tracks.items()},
            rules=[RuleView.model_validate(r) for r in case.rule_results],
            input=data if reveal else masked_tree(data),
            history=history or [],
            materials=[MaterialView.of(m) for m in materials or []],
            certificates=[CertificateRef.model_validate(c) for c in certificates or []],
        )


class CaseList(BaseModel):
    cases: list[CaseView]
    next_cursor: str | None = None


class EntryView(BaseModel):
    """One open register entry as a lender may see it before lending: holders masked."""

    kind: EntryKind
    entry_id: str
    certificate_number: str | None
    rank: int | None  # 抵押顺位: the mortgage's place among the open mortgages
    opened_at: datetime
    summary: dict[str, Any]
    # Objections (15 days, 民法典 §220) and pre-registrations (90 days, §221): the last day in force, if a
    # period runs, and whether it has passed (a lapsed entry no longer blocks anything).
    lapses_on: date | None = None
    lapsed: bool = False

    @classmethod
    def of(cls, entry: Entry, *, rank: int | None = None, lapse: Lapse | None = None) -> EntryView:
        facts = entry.facts.model_dump(mode="json")
        return cls(
            kind=entry.kind,
            entry_id=entry.id,
            certificate_number=entry.certificate_number,
            rank=rank if rank is not None else entry.rank,
            opened_at=entry.opened_at,
            summary=public_facts(facts),
            lapses_on=lapse.lapses_on if lapse else None,
            lapsed=lapse.lapsed if lapse else False,
        )


class UnitStatusView(BaseModel):
    """A unit's register status before lending (查询登记状态): owner masked, encumbrances listed."""

    unit_code: str
    address: str
    floor_area: str
    first_registered: bool
    owners: list[str]
    co_ownership: str | None = (
        None  # 共有情况, shares as a certificate prints them: 按份共有：张*占三分之一，…
    )
    ownership_certificate: str | None
    mortgages: list[EntryView]
    seizures: list[EntryView]
    objections: list[EntryView]
    pre_registrations: list[EntryView]
    pending_cases: int

    @classmethod
    def of(cls, view: RegisterView, pending_cases: int, lapses: dict[str, Lapse]) -> UnitStatusView:
        ownership = view.ownership
        return cls(
            unit_code=view.unit.unit_code,
            address=view.unit.address,
            floor_area=f"{view.unit.floor_area}",
            first_registered=view.unit.first_registered,
            owners=[mask_name(p.name) for p in view.owners],
            co_ownership=co_ownership_zh(ownership.facts) if ownership else None,
            ownership_certificate=ownership.certificate_number if ownership else None,
            mortgages=[EntryView.of(e, rank=view.mortgage_rank(e)) for e in view.mortgages],
            seizures=[EntryView.of(e) for e in view.seizures],
            objections=[EntryView.of(e, lapse=lapses.get(e.id)) for e in view.objections],
            pre_registrations=[EntryView.of(e, lapse=lapses.get(e.id)) for e in view.pre_registrations],
            pending_cases=pending_cases,
        )
