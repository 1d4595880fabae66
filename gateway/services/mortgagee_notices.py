"""带押过户 (民法典 第四百零六条): a transfer that keeps the seller's mortgage tells its mortgagee of record, and
takes that mortgagee's own consent where the parties agreed the transfer needs it; a combined transfer that
cancels a mortgage (转移+注销) tells its mortgagee too.

民法典 第四百零六条: "抵押期间，抵押人可以转让抵押财产。当事人另有约定的，按照其约定。抵押财产转让的，抵押权不受影响。
抵押人转让抵押财产的，应当及时通知抵押权人。"

What the case records, in its bank track's detail (`kept_mortgages`, by proof number): the mortgagee of record,
the basis (`consent`: its consent is needed, `notice`: being told is enough), the outbox delivery that carried
the registry's notice and when the mortgagee's system took it (`notice_delivery`, `notified_at`), and who
consented when (`consented_by`, `consented_at`, `via`: `callback` or `submission` when the submitting bank is
itself the mortgagee). The bank track waits for `consent:<proof>` or `notice:<proof>`; the rule
`mortgages_released_or_consented` checks the same record again at 登簿.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.domain.cases import TransferInput
from gateway.domain.register import Entry, MortgageFacts, RegisterView
from gateway.domain.workflow import Case, Track, TrackState, TrackStatus
from gateway.ports.banks import CaseEvent
from gateway.services import effects

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

__all__ = ["ARTICLE", "CANCELLED", "KEPT", "answered", "request_answers", "tell_cancelled_mortgagees"]

KEPT = "kept_mortgages"
CANCELLED = "cancelled_mortgages"
ARTICLE = "民法典第四百零六条"


def _kept(inp: TransferInput, view: RegisterView) -> list[tuple[Entry, MortgageFacts]]:
    released = set(inp.release_proof_numbers)
    kept = []
    for entry in view.mortgages:
        if entry.certificate_number not in released and isinstance(entry.facts, MortgageFacts):
            kept.append((entry, entry.facts))
    return kept


def request_answers(uow: UnitOfWork, case: Case, view: RegisterView, *, at: datetime) -> None:
    """At 受理, in its transaction: for each mortgage the transfer keeps, send its mortgagee of record the
    registry's §406 notice (an outbox delivery) and make the bank track wait for the notice to arrive or,
    where consent is needed, for the mortgagee's own consent."""
    inp = case.input
    if not isinstance(inp, TransferInput):
        return
    kept = _kept(inp, view)
    if not kept:
        return
    created = Track.BANK not in case.tracks
    track = case.tracks.setdefault(Track.BANK, TrackState())
    awaiting: list[str] = track.detail.setdefault("awaiting", [])
    record: dict[str, dict[str, Any]] = track.detail.setdefault(KEPT, {})
    basis = "consent" if inp.mortgagee_consent else "notice"
    for entry, facts in kept:
        proof = str(entry.certificate_number)
        mortgagee = facts.mortgagee.code
        answer: dict[str, Any] = {"mortgagee": mortgagee, "basis": basis}
        if basis == "consent" and mortgagee == case.submitted_by:
            # The mortgagee of record submitted the case itself, signed: its consent is in the submission.
            answer |= {
                "consented_by": f"bank:{mortgagee}",
                "consented_at": at.isoformat(),
                "via": "submission",
            }
        else:
            answer["notice_delivery"] = uow.outbox(
                job=effects.BANK_NOTIFY,
                target=mortgagee,
                payload={
                    "case_id": case.id,
                    "event": CaseEvent.MORTGAGED_UNIT_TRANSFERRED.value,
                    "reason": _transfer_notice(case, proof, basis),
                    "proof_number": proof,
                },
                case_id=case.id,
            )
            answer["notified_at"] = None
            awaiting.append(f"{basis}:{proof}")
        record[proof] = answer
    if created and not awaiting:
        track.status, track.decided_at, track.decided_by = TrackStatus.PASSED, at, case.submitted_by


def _transfer_notice(case: Case, proof: str, basis: str) -> str:
    text = (
        f"抵押财产转让通知（{ARTICLE}）：不动产单元 {case.unit_code} 已申请转移登记（业务件 {case.id}），"
        f"贵行抵押权（不动产登记证明 {proof}）不受影响，随抵押财产转让。"
    )
    if basis == "consent":
        text += "当事人约定转让须经抵押权人同意：请以 POST /callbacks/v1/banks/mortgage-transfer-consent 答复是否同意。"
    return text


def answered(case: Case) -> frozenset[str]:
    """Proof numbers whose mortgagee of record has answered as its basis needs: consented, or been told."""
    track = case.tracks.get(Track.BANK)
    record: dict[str, dict[str, Any]] = track.detail.get(KEPT, {}) if track else {}
    done = set()
    for proof, answer in record.items():
        if answer.get("consented_at") or (answer.get("basis") == "notice" and answer.get("notified_at")):
            done.add(proof)
    return frozenset(done)


def tell_cancelled_mortgagees(uow: UnitOfWork, case: Case, view: RegisterView, *, at: datetime) -> None:
    """At 登簿 of a combined transfer (转移+注销): tell each released mortgage's mortgagee of record that its
    mortgage is cancelled, and record the delivery on the case. The submitting bank may not be that bank."""
    inp = case.input
    if not isinstance(inp, TransferInput) or not inp.release_proof_numbers:
        return
    record: dict[str, dict[str, Any]] = {}
    for entry in view.mortgages:
        proof = str(entry.certificate_number)
        if proof not in inp.release_proof_numbers or not isinstance(entry.facts, MortgageFacts):
            continue
        mortgagee = entry.facts.mortgagee.code
        delivery = uow.outbox(
            job=effects.BANK_NOTIFY,
            target=mortgagee,
            payload={
                "case_id": case.id,
                "event": CaseEvent.MORTGAGE_CANCELLED.value,
                "reason": (
                    f"抵押权注销通知：贵行抵押权（不动产登记证明 {proof}）已随不动产单元 {case.unit_code} 的"
                    f"转移登记（业务件 {case.id}）注销，登簿时间 {at.isoformat()}。"
                ),
                "proof_number": proof,
            },
            case_id=case.id,
        )
        record[proof] = {"mortgagee": mortgagee, "notice_delivery": delivery}
    if record:
        track = case.tracks.setdefault(Track.BANK, TrackState(status=TrackStatus.PASSED))
        track.detail[CANCELLED] = record
