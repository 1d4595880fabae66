"""Outbox job handlers: carry each effect to its party through the ports, and record what the party answered.

Each handler may run more than once for the same row (at-least-once delivery): parties dedupe on the
delivery id (the outbox row id), and recording an answer twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gateway.db.tables.certificates import CertificateRow
from gateway.domain.cases import (
    MortgageRegistrationInput,
    MortgageTerms,
    PresaleMortgageConversionInput,
    TransferInput,
    TransferType,
)
from gateway.domain.confirmations import loan_matches_application
from gateway.domain.parties import Party
from gateway.domain.register import EntryKind, MortgageFacts
from gateway.domain.workflow import Case
from gateway.errors import ConfigError, PartyRejected
from gateway.ports.banks import (
    BankCoreSystem,
    CaseEvent,
    CaseNotification,
    ContractCheck,
    IssuedCertificate,
    LoanReleaseNotice,
    SettlementCheck,
)
from gateway.ports.common import Person
from gateway.ports.tax import HomeCount, TaxBureau, TransactionKind, TransferAssessmentRequest
from gateway.services import cases, effects, kept_mortgages, tracks
from gateway.services.context import ServiceContext

if TYPE_CHECKING:
    from gateway.db.tables.infra import OutboxRow

Handler = Callable[[Any, "OutboxRow"], Awaitable[None]]
_HOMES = {1: HomeCount.FIRST, 2: HomeCount.SECOND, 3: HomeCount.OTHER}


def person(p: Party) -> Person:
    return Person(name=p.name, id_number=p.id_number)


@dataclass
class Deliveries:
    """The handlers of the bank and tax jobs, bound to the services and the configured parties."""

    services: ServiceContext
    banks: Mapping[str, BankCoreSystem]
    tax: TaxBureau | None = None
    extra: dict[str, Handler] = field(default_factory=dict)

    def handlers(self) -> dict[str, Handler]:
        return {
            effects.BANK_NOTIFY: self.bank_notify,
            effects.BANK_CONFIRM_CONTRACTS: self.bank_confirm_contracts,
            effects.BANK_CONFIRM_SETTLEMENT: self.bank_confirm_settlement,
            effects.BANK_RELEASE_LOAN: self.bank_release_loan,
            effects.TAX_ASSESS: self.tax_assess,
            **self.extra,
        }

    def bank(self, code: str) -> BankCoreSystem:
        found = self.banks.get(code)
        if found is None:
            raise ConfigError(f"no bank adapter is configured for {code}", f"未配置银行 {code} 的接口")
        return found

    async def bank_notify(self, _ctx: Any, row: OutboxRow) -> None:
        case = await cases.get_case(self.services, str(row.case_id))
        event = CaseEvent(row.payload["event"])
        certificate = None
        if event is CaseEvent.CERTIFICATE_ISSUED:
            certificate = await self._certificate_file(row.payload["certificate_number"])
        await self.bank(row.target).notify(
            CaseNotification(
                delivery_id=row.id,
                case_id=case.id,
                event=event,
                occurred_at=row.created_at,
                unit_code=case.unit_code,
                reason_zh=row.payload.get("reason", ""),
                certificate=certificate,
            )
        )
        if event is CaseEvent.CERTIFICATE_ISSUED:
            await tracks.certificate_delivered(self.services, case.id, row.payload["certificate_number"])
        if event is CaseEvent.MORTGAGED_UNIT_TRANSFERRED:
            await kept_mortgages.notice_delivered(self.services, case.id, row.payload["proof_number"], row.id)

    async def _certificate_file(self, number: str) -> IssuedCertificate:
        async with self.services.db.session() as s:
            ref = (
                await s.execute(select(CertificateRow.pdf_ref).where(CertificateRow.number == number))  # type: ignore[call-overload]
            ).scalar_one()
        pdf = await self.services.blobs.get(ref) if ref is not None else None
        return IssuedCertificate(number=number, file=pdf)

    async def bank_confirm_contracts(self, _ctx: Any, row: OutboxRow) -> None:
        case = await cases.get_case(self.services, str(row.case_id))
        terms, borrowers = _loan_of(case)
        check = ContractCheck(
            case_id=case.id,
            unit_code=case.unit_code,
            loan_contract_number=terms.loan_contract_no,
            mortgage_contract_number=terms.mortgage_contract_no,
            borrower=person(borrowers[0]),
            mortgagors=tuple(person(p) for p in borrowers),
            amount=terms.amount,
        )
        try:
            confirmation = await self.bank(row.target).confirm_contracts(check)
        except PartyRejected as refusal:
            await self._bank_result(
                case, "contracts", False, row.target, refusal.party_message or refusal.message_zh
            )
            return
        results = loan_matches_application(
            terms, confirmation.amount, confirmation.term_start, confirmation.term_end
        )
        failed = [r for r in results if not r.passed]
        if failed:
            await tracks.record_bank_result(
                self.services,
                case.id,
                "contracts",
                confirmed=False,
                actor=f"bank:{row.target}",
                message="；".join(r.reason_zh for r in failed),
                rules=[(r.name, r.reason_zh, r.reason_en) for r in failed],
            )
            return
        await self._bank_result(case, "contracts", True, row.target)

    async def bank_confirm_settlement(self, _ctx: Any, row: OutboxRow) -> None:
        case = await cases.get_case(self.services, str(row.case_id))
        proof = row.payload["proof_number"]
        mortgage = await self._mortgage(case.unit_code, lambda e: e.certificate_number == proof)
        check = SettlementCheck(
            case_id=case.id,
            unit_code=case.unit_code,
            loan_contract_number=mortgage.loan_contract_no,
            mortgage_contract_number=mortgage.mortgage_contract_no or mortgage.loan_contract_no,
        )
        item = f"settlement:{proof}"
        try:
            await self.bank(row.target).confirm_settlement(check)
        except PartyRejected as refusal:
            await self._bank_result(
                case, item, False, row.target, refusal.party_message or refusal.message_zh
            )
            return
        await self._bank_result(case, item, True, row.target)

    async def _bank_result(self, case: Case, item: str, ok: bool, bank: str, message: str = "") -> None:
        await tracks.record_bank_result(
            self.services, case.id, item, confirmed=ok, actor=f"bank:{bank}", message=message
        )

    async def bank_release_loan(self, _ctx: Any, row: OutboxRow) -> None:
        case = await cases.get_case(self.services, str(row.case_id))
        terms, _ = _loan_of(case)
        async with self.services.reading() as store:
            entry = next(
                e
                for e in await store.entries_of(case.unit_code)
                if e.opened_by_case == case.id and e.kind is EntryKind.MORTGAGE
            )
        await self.bank(row.target).release_loan(
            LoanReleaseNotice(
                delivery_id=row.id,
                case_id=case.id,
                unit_code=case.unit_code,
                loan_contract_number=terms.loan_contract_no,
                registered_at=case.registered_at or row.created_at,
                proof_number=entry.certificate_number or "",
            )
        )

    async def tax_assess(self, _ctx: Any, row: OutboxRow) -> None:
        if self.tax is None:
            raise ConfigError("no tax bureau adapter is configured", "未配置税务接口")
        case = await cases.get_case(self.services, str(row.case_id))
        transfer = case.input
        assert isinstance(transfer, TransferInput)
        async with self.services.reading() as store:
            unit = await store.lock_unit(case.unit_code)
        new_home = transfer.transfer_type is TransferType.NEW_HOME
        # A new home's seller is the developer: the buyer's deed tax is all that is collected before 登簿,
        # so no seller's holding period, sole home or original value is declared for it.
        assessment = await self.tax.assess(
            TransferAssessmentRequest(
                case_id=case.id,
                transaction=TransactionKind.NEW_HOME if new_home else TransactionKind.SECOND_HAND,
                unit_code=case.unit_code,
                contract_date=transfer.contract_date,
                price=transfer.price,
                area_m2=unit.floor_area,
                buyers=tuple(person(o.party) for o in transfer.buyers),
                sellers=tuple(person(p) for p in transfer.sellers),
                buyer_home_count=_HOMES[transfer.buyer_home_count],
                seller_acquired_on=None if new_home else transfer.seller_acquired_on,
                seller_sole_home=False if new_home else transfer.seller_only_home,
                original_value=None if new_home else transfer.seller_original_value,
            )
        )
        await tracks.record_tax_assessment(
            self.services, case.id, assessment.model_dump(mode="json"), actor=f"tax:{self.tax.party}"
        )

    async def _mortgage(self, unit_code: str, match: Callable[[Any], bool]) -> MortgageFacts:
        async with self.services.reading() as store:
            entry = next(
                e for e in await store.entries_of(unit_code) if e.kind is EntryKind.MORTGAGE and match(e)
            )
        assert isinstance(entry.facts, MortgageFacts)
        return entry.facts


def _loan_of(case: Case) -> tuple[MortgageTerms, list[Party]]:
    """The new loan of a case and its borrowers (the mortgagors)."""
    inp = case.input
    if isinstance(inp, MortgageRegistrationInput):
        return inp.mortgage, list(inp.mortgagors)
    if isinstance(inp, PresaleMortgageConversionInput):
        return inp.mortgage, list(inp.buyers)
    if isinstance(inp, TransferInput) and inp.new_mortgage:
        return inp.new_mortgage, [o.party for o in inp.buyers]
    raise ConfigError(f"case {case.id} carries no loan", f"业务件 {case.id} 不含贷款")
