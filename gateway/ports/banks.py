"""The port to a bank's core banking system: what the case workflow asks of a bank and tells it."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime, Field, model_validator

from gateway.ports.common import DeliveryReceipt, Money, NonEmpty, Person, PortModel, PositiveMoney


class CaseEvent(StrEnum):
    """What happened to a case, as told to the bank that submitted it."""

    ACCEPTED = "accepted"  # 受理
    NEED_MORE_MATERIAL = "need_more_material"  # 补正（一次性告知）
    REJECTED = "rejected"  # 不予登记
    REGISTERED = "registered"  # 登簿
    CERTIFICATE_ISSUED = "certificate_issued"  # 缮证/发证, with the signed certificate file
    UTILITIES_DONE = "utilities_done"  # 水电气网联动过户全部办结
    UTILITY_NEEDS_CITIZEN = (
        "utility_needs_citizen"  # 水电气网过户被拒（户号不符/有欠费/需现场办理）: tell the citizen
    )
    # Told to the mortgagee of record, which need not be the submitting bank (the proof number is in the text):
    MORTGAGED_UNIT_TRANSFERRED = "mortgaged_unit_transferred"  # 抵押财产转让通知（民法典第四百零六条）
    MORTGAGE_CANCELLED = "mortgage_cancelled"  # its mortgage cancelled by a combined transfer (转移+注销)


class ContractCheck(PortModel):
    """Ask the bank to confirm a case's loan contract (主债权合同) and mortgage contract (抵押合同)."""

    case_id: NonEmpty
    unit_code: NonEmpty  # 不动产单元号
    loan_contract_number: NonEmpty
    mortgage_contract_number: NonEmpty
    borrower: Person  # 借款人
    mortgagors: tuple[Person, ...] = Field(min_length=1)  # 抵押人 (every co-owner)
    amount: PositiveMoney  # 被担保主债权数额 (最高债权数额 for a maximum-amount mortgage)


class ContractConfirmation(PortModel):
    """The bank confirms the contracts as its core system records them."""

    loan_contract_number: NonEmpty
    mortgage_contract_number: NonEmpty
    amount: Money
    term_start: date | None = None  # 债务履行期限 起
    term_end: date | None = None  # 债务履行期限 止
    bank_reference: str = ""


class IssuedCertificate(PortModel):
    """A signed electronic certificate handed to the bank (不动产登记证明 or 不动产权证书)."""

    number: NonEmpty  # e.g. 粤（2026）东莞市不动产证明第0000001号
    file: bytes = Field(repr=False, min_length=1)
    media_type: str = "application/pdf"


class CaseNotification(PortModel):
    """A case event for the bank; the bank applies each `delivery_id` once, however often it arrives."""

    delivery_id: NonEmpty
    case_id: NonEmpty
    event: CaseEvent
    occurred_at: AwareDatetime
    unit_code: NonEmpty
    reason_zh: str = ""  # why 补正 or 不予登记, as the registry wrote it
    reason_en: str = ""
    certificate: IssuedCertificate | None = None

    @model_validator(mode="after")
    def _certificate_only_when_issued(self) -> CaseNotification:
        issued = self.event is CaseEvent.CERTIFICATE_ISSUED
        if issued != (self.certificate is not None):
            raise ValueError("a certificate travels with, and only with, the certificate_issued event")
        return self


class LoanReleaseNotice(PortModel):
    """'Registered — the loan may be released' (当天放贷): the mortgage is in the register."""

    delivery_id: NonEmpty
    case_id: NonEmpty
    unit_code: NonEmpty
    loan_contract_number: NonEmpty
    registered_at: AwareDatetime  # 登簿 time: the mortgage takes effect then
    proof_number: NonEmpty  # 不动产登记证明号 of the mortgage


class SettlementCheck(PortModel):
    """For a mortgage release: ask the bank whether the secured loan is settled (结清)."""

    case_id: NonEmpty
    unit_code: NonEmpty
    loan_contract_number: NonEmpty
    mortgage_contract_number: NonEmpty


class SettlementConfirmation(PortModel):
    """The bank confirms the loan is settled."""

    loan_contract_number: NonEmpty
    settled_on: date
    bank_reference: str = ""


@runtime_checkable
class BankCoreSystem(Protocol):
    """A bank's core system. Refusals raise PartyRejected (the bank's own code); outages PartyUnavailable."""

    @property
    def party(self) -> str:
        """The bank's participant code, e.g. `icbc-dg`."""
        ...

    async def confirm_contracts(self, check: ContractCheck) -> ContractConfirmation: ...

    async def notify(self, notification: CaseNotification) -> DeliveryReceipt: ...

    async def release_loan(self, notice: LoanReleaseNotice) -> DeliveryReceipt: ...

    async def confirm_settlement(self, check: SettlementCheck) -> SettlementConfirmation: ...
