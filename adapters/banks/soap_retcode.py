"""Banks on 'LoanContractService v1': SOAP 1.1, PascalCase fields, RetCode "0000" on success."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import certs
from adapters.soap import SoapPartyAdapter
from gateway.errors import PartyError, PartyRejected, PartyUnavailable
from gateway.ports import (
    CaseNotification,
    ContractCheck,
    ContractConfirmation,
    DeliveryReceipt,
    LoanReleaseNotice,
    Person,
    SettlementCheck,
    SettlementConfirmation,
)

NAMESPACE = "http://corebank.example.cn/mortgage/loan/v1"
RET_OK = "0000"
RET_BUSY = frozenset({"9998", "9999"})  # 日终批处理中 / 系统繁忙: the bank asks to try later
# Keyed by CaseEvent value: the port may grow events, and a bank's code for each is added here.
EVENT_TYPES = {
    "accepted": "ACCEPT",
    "need_more_material": "SUPPLEMENT",
    "rejected": "REJECT",
    "registered": "REGISTER",
    "certificate_issued": "CERTIFY",
    "utilities_done": "UTILITY_DONE",
    "utility_needs_citizen": "UTILITY_ACTION",
    "mortgaged_unit_transferred": "PLEDGE_TRANSFER",
    "mortgage_cancelled": "PLEDGE_CANCEL",
}


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RetCode: str
    RetMsg: str | None = None


class _ContractReply(_Reply):
    ContractStatus: str | None = None
    ApprovedAmount: Decimal | None = None
    LoanStartDate: date | None = None
    LoanEndDate: date | None = None
    BankSerialNo: str | None = None


class _DeliveryReply(_Reply):
    DupFlag: str | None = None
    BankSerialNo: str | None = None


class _SettlementReply(_Reply):
    SettleStatus: str | None = None
    SettleDate: date | None = None
    BankSerialNo: str | None = None


def _person(person: Person) -> dict[str, str]:
    return {"Name": person.name, "IdNo": person.id_number}


class RetCodeSoapBank(SoapPartyAdapter):
    """A bank whose core system speaks LoanContractService v1 (see the shipped WSDL)."""

    WSDL = Path(__file__).with_name("loan_contract_v1.wsdl")
    BINDING = f"{{{NAMESPACE}}}LoanContractSoapBinding"

    def _result(self, reply: _Reply) -> None:
        if reply.RetCode == RET_OK:
            return
        message = reply.RetMsg or ""
        if reply.RetCode in RET_BUSY:
            raise PartyUnavailable(self.party, reply.RetCode, message)
        raise PartyRejected(self.party, reply.RetCode, message)

    def fault_hook(self, code: str, message: str) -> PartyError | None:
        # This format reports overload as a SOAP fault "Server.Busy"; every other fault stays unmapped.
        if code.rpartition(":")[2] == "Server.Busy":
            return PartyUnavailable(self.party, code, message)
        return None

    async def confirm_contracts(self, check: ContractCheck) -> ContractConfirmation:
        def parse(raw: dict[str, Any]) -> ContractConfirmation:
            reply = _ContractReply.model_validate(raw)
            self._result(reply)
            if reply.ContractStatus != "VALID":
                raise PartyRejected(self.party, f"ContractStatus={reply.ContractStatus}", reply.RetMsg or "")
            return ContractConfirmation(
                loan_contract_number=check.loan_contract_number,
                mortgage_contract_number=check.mortgage_contract_number,
                amount=reply.ApprovedAmount,  # None is refused by the DTO's validation
                term_start=reply.LoanStartDate,
                term_end=reply.LoanEndDate,
                bank_reference=reply.BankSerialNo or "",
            )

        return await self.client.call(
            "QueryLoanContract",
            parse,
            idempotent=True,
            CaseNo=check.case_id,
            LoanContractNo=check.loan_contract_number,
            MortgageContractNo=check.mortgage_contract_number,
            Borrower=_person(check.borrower),
            Mortgagor=[_person(m) for m in check.mortgagors],
            LoanAmount=check.amount,
            UnitCode=check.unit_code,
        )

    def _receipt(self, delivery_id: str) -> Callable[[dict[str, Any]], DeliveryReceipt]:
        def parse(raw: dict[str, Any]) -> DeliveryReceipt:
            reply = _DeliveryReply.model_validate(raw)
            self._result(reply)
            return DeliveryReceipt(
                delivery_id=delivery_id,
                duplicate=reply.DupFlag == "Y",
                party_reference=reply.BankSerialNo or "",
            )

        return parse

    async def notify(self, notification: CaseNotification) -> DeliveryReceipt:
        certificate = notification.certificate
        reason = notification.reason_zh or notification.reason_en
        # The bank applies each MsgId once, so resending is safe: the call is idempotent.
        return await self.client.call(
            "PushRegistrationEvent",
            self._receipt(notification.delivery_id),
            idempotent=True,
            MsgId=notification.delivery_id,
            CaseNo=notification.case_id,
            EventType=EVENT_TYPES[notification.event.value],
            EventTime=notification.occurred_at,
            UnitCode=notification.unit_code,
            Remark=reason or None,
            CertNo=certificate.number if certificate else None,
            CertFile=certificate.file if certificate else None,
            CertFileSm3=certs.sm3_hex(certificate.file) if certificate else None,
        )

    async def release_loan(self, notice: LoanReleaseNotice) -> DeliveryReceipt:
        return await self.client.call(
            "NotifyLoanRelease",
            self._receipt(notice.delivery_id),
            idempotent=True,
            MsgId=notice.delivery_id,
            CaseNo=notice.case_id,
            LoanContractNo=notice.loan_contract_number,
            UnitCode=notice.unit_code,
            RegisterTime=notice.registered_at,
            ProofNo=notice.proof_number,
        )

    async def confirm_settlement(self, check: SettlementCheck) -> SettlementConfirmation:
        def parse(raw: dict[str, Any]) -> SettlementConfirmation:
            reply = _SettlementReply.model_validate(raw)
            self._result(reply)
            if reply.SettleStatus != "SETTLED":
                raise PartyRejected(self.party, f"SettleStatus={reply.SettleStatus}", reply.RetMsg or "")
            return SettlementConfirmation(
                loan_contract_number=check.loan_contract_number,
                settled_on=reply.SettleDate,  # None is refused by the DTO's validation
                bank_reference=reply.BankSerialNo or "",
            )

        return await self.client.call(
            "QueryLoanSettlement",
            parse,
            idempotent=True,
            CaseNo=check.case_id,
            LoanContractNo=check.loan_contract_number,
            MortgageContractNo=check.mortgage_contract_number,
            UnitCode=check.unit_code,
        )
