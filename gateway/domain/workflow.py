"""The case workflow: states, the parallel tracks and their join, and who may move a case where.

```
RECEIVED ──► checks ──► immediate (即办件)? ──yes──► APPROVED ──► REGISTERED ──► CERTIFIED ──► COMPLETED
                  │no
                  ▼
   UNDER_REVIEW: parallel tracks, all must pass (join) → APPROVED
       review  初审 → 复审/核定 (two different people)
       tax     assessed → paid            (transfers only)
       bank    contracts confirmed by the bank's core system
side exits: NEED_MORE_MATERIAL (补正, resumable) · REJECTED (不予登记) · WITHDRAWN (撤回, before 登簿)
```
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.cases import CaseInput, CaseKind, TransferInput
from gateway.errors import Conflict, Forbidden


class CaseState(StrEnum):
    RECEIVED = "received"  # 受理
    UNDER_REVIEW = "under_review"  # 审核 (parallel tracks)
    NEED_MORE_MATERIAL = "need_more_material"  # 补正
    APPROVED = "approved"  # 核定 (all tracks passed)
    # 中止: at 登簿 a rule failed (the register changed since review); the reason says which. It waits for
    # the obstacle to go (back to APPROVED on a recheck), for 补正, or for 不予登记.
    SUSPENDED = "suspended"
    REGISTERED = "registered"  # 登簿
    CERTIFIED = "certified"  # 缮证/发证
    COMPLETED = "completed"  # 归档
    REJECTED = "rejected"  # 不予登记
    WITHDRAWN = "withdrawn"  # 撤回

    @property
    def label_zh(self) -> str:
        return _STATE_ZH[self]

    @property
    def is_final(self) -> bool:
        return self in (CaseState.COMPLETED, CaseState.REJECTED, CaseState.WITHDRAWN)


_STATE_ZH = {
    CaseState.RECEIVED: "已受理",
    CaseState.UNDER_REVIEW: "审核中",
    CaseState.NEED_MORE_MATERIAL: "待补正",
    CaseState.APPROVED: "已核定",
    CaseState.SUSPENDED: "已中止",
    CaseState.REGISTERED: "已登簿",
    CaseState.CERTIFIED: "已缮证",
    CaseState.COMPLETED: "已办结",
    CaseState.REJECTED: "不予登记",
    CaseState.WITHDRAWN: "已撤回",
}

ALLOWED: dict[CaseState, frozenset[CaseState]] = {
    CaseState.RECEIVED: frozenset(
        {CaseState.UNDER_REVIEW, CaseState.APPROVED, CaseState.REJECTED, CaseState.WITHDRAWN}
    ),
    CaseState.UNDER_REVIEW: frozenset(
        {CaseState.NEED_MORE_MATERIAL, CaseState.APPROVED, CaseState.REJECTED, CaseState.WITHDRAWN}
    ),
    CaseState.NEED_MORE_MATERIAL: frozenset(
        {CaseState.UNDER_REVIEW, CaseState.REJECTED, CaseState.WITHDRAWN}
    ),
    CaseState.APPROVED: frozenset(
        {
            CaseState.REGISTERED,
            CaseState.SUSPENDED,
            CaseState.NEED_MORE_MATERIAL,
            CaseState.REJECTED,
            CaseState.WITHDRAWN,
        }
    ),
    CaseState.SUSPENDED: frozenset(
        {CaseState.APPROVED, CaseState.NEED_MORE_MATERIAL, CaseState.REJECTED, CaseState.WITHDRAWN}
    ),
    # After 登簿 the register has changed: no withdrawal, no rejection.
    CaseState.REGISTERED: frozenset({CaseState.CERTIFIED, CaseState.COMPLETED}),
    CaseState.CERTIFIED: frozenset({CaseState.COMPLETED}),
    CaseState.COMPLETED: frozenset(),
    CaseState.REJECTED: frozenset(),
    CaseState.WITHDRAWN: frozenset(),
}


class Track(StrEnum):
    REVIEW = "review"  # registry examiners: 初审 then 复审/核定
    TAX = "tax"  # tax bureau: assessed then paid
    BANK = "bank"  # the bank's core system confirms the contracts (and settlements)


class TrackStatus(StrEnum):
    PENDING = "pending"
    FIRST_REVIEWED = "first_reviewed"  # review track: 初审 done, waiting for 复审
    ASSESSED = "assessed"  # tax track: assessed, waiting for payment
    PASSED = "passed"
    FAILED = "failed"


class TrackState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TrackStatus = TrackStatus.PENDING
    first_reviewer: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Transition(BaseModel):
    """Who moved the case from where to where, when and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_state: CaseState | None
    to_state: CaseState
    actor: str
    at: datetime
    reason: str = ""


def required_tracks(case_input: CaseInput) -> frozenset[Track]:
    """Which parallel tracks a non-immediate case must pass."""
    tracks = {Track.REVIEW}
    if isinstance(case_input, TransferInput):
        tracks.add(Track.TAX)
        if case_input.new_mortgage or case_input.release_proof_numbers:
            tracks.add(Track.BANK)
    elif case_input.kind is CaseKind.MORTGAGE_REGISTRATION:
        tracks.add(Track.BANK)
    return frozenset(tracks)


def is_immediate_kind(kind: CaseKind) -> bool:
    """即办件: decided by rules alone when every rule passes (DESIGN §4)."""
    return kind in (
        CaseKind.CONTRACT_FILING,
        CaseKind.MORTGAGE_RELEASE,
        CaseKind.PRESALE_MORTGAGE_CONVERSION,
    )


def issues_certificate(kind: CaseKind) -> bool:
    """Whether 登簿 is followed by 缮证 (a release and a filing end without a new certificate)."""
    return kind in (
        CaseKind.MORTGAGE_REGISTRATION,
        CaseKind.TRANSFER,
        CaseKind.PRESALE_MORTGAGE_CONVERSION,
    )


def check_transition(current: CaseState, target: CaseState) -> None:
    if target not in ALLOWED[current]:
        raise Conflict(
            f"a case that is {current.value} cannot become {target.value}",
            f"案件当前状态为“{current.label_zh}”，不能变为“{target.label_zh}”",
        )


def review(track: TrackState, *, actor: str, at: datetime, stage: str) -> None:
    """Record 初审 (stage "first") or 复审/核定 (stage "second"): two different people, in that order."""
    if stage == "first":
        if track.status is not TrackStatus.PENDING:
            raise Conflict("first review is already done", "初审已完成")
        track.status = TrackStatus.FIRST_REVIEWED
        track.first_reviewer = actor
        track.decided_at = at
        return
    if track.status is not TrackStatus.FIRST_REVIEWED:
        raise Conflict("second review needs the first review before it", "复审须在初审之后")
    if track.first_reviewer == actor:
        raise Forbidden(
            "the second review must be made by another examiner than the first",
            "复审/核定须由初审以外的审核人员办理",
        )
    track.status = TrackStatus.PASSED
    track.decided_by = actor
    track.decided_at = at


def all_passed(tracks: dict[Track, TrackState], required: frozenset[Track]) -> bool:
    return all(tracks.get(t, TrackState()).status is TrackStatus.PASSED for t in required)


RECEIPT_COUNTER = "receipt"  # the counter kind beside the certificate kinds (per registry and year)


def receipt_number(year: int, registry_code: str, seq: int) -> str:
    """受理编号, e.g. 2026-441900-000123: year, the registry's administrative code, a yearly sequence."""
    return f"{year}-{registry_code}-{seq:06d}"


class Case(BaseModel):
    """A case as the workflow sees it; services load it, change it through `move`, and save it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: CaseKind
    state: CaseState
    unit_code: str
    # 受理编号: the registry's number on the counter receipt and the certificate's 业务件号 (None: a case
    # accepted before numbering began)
    receipt_number: str | None = None
    submitted_by: str  # participant code of the submitting bank
    branch: str
    clerk: str
    input: CaseInput
    tracks: dict[Track, TrackState] = Field(default_factory=dict)
    rule_results: list[dict[str, Any]] = Field(default_factory=list)
    reason: str = ""
    assignee: str | None = None  # the examiner the case is assigned to (reassignment by a supervisor)
    rank: int | None = None
    received_at: datetime
    deadline_at: datetime
    deadline_provisional: bool = False
    approved_at: datetime | None = None
    registered_at: datetime | None = None
    certified_at: datetime | None = None
    completed_at: datetime | None = None
    version: int = 1
    # Transitions made since the case was loaded; the repository appends them to the history table.
    new_transitions: list[Transition] = Field(default_factory=list, exclude=True)

    def move(self, target: CaseState, *, actor: str, at: datetime, reason: str = "") -> None:
        check_transition(self.state, target)
        self.new_transitions.append(
            Transition(from_state=self.state, to_state=target, actor=actor, at=at, reason=reason)
        )
        self.state = target
        stamp = {
            CaseState.APPROVED: "approved_at",
            CaseState.REGISTERED: "registered_at",
            CaseState.CERTIFIED: "certified_at",
        }.get(target)
        if stamp:
            setattr(self, stamp, at)
        if target.is_final:
            self.completed_at = at
        if reason:
            self.reason = reason

    @property
    def required_tracks(self) -> frozenset[Track]:
        return frozenset(self.tracks)

    def tracks_passed(self) -> bool:
        return all_passed(self.tracks, self.required_tracks)
