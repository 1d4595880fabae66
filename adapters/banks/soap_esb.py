"""Banks on an 'ESB mortgage service': SOAP 1.2, reqHeader/reqBody, lowerCamel, resultCode "AAAAAAA"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import certs
from adapters.base import AdapterContext, SoapSettings
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

NAMESPACE = "http://esb.examplebank.cn/service/mortgage"
RESULT_OK = "AAAAAAA"
# Keyed by CaseEvent value: the port may grow events, and the ESB's code for each is added here.
NOTICE_TYPES = {
    "accepted": "01",
    "need_more_material": "02",
    "rejected": "03",
    "registered": "04",
    "certificate_issued": "05",
    "utilities_done": "06",
    "utility_needs_citizen": "07",
    "mortgaged_unit_transferred": "08",
    "mortgage_cancelled": "09",
}
CERT_TYPE_RESIDENT_ID = "1"  # 居民身份证
CERT_TYPE_CREDIT_CODE = "8"  # 统一社会信用代码
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")


class _Header(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resultCode: str
    resultMsg: str | None = None
    rspSeqNo: str | None = None


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rspHeader: _Header
    rspBody: dict[str, Any] | None = None


class _ContractBody(BaseModel):
    checkResult: str
    loanSum: Decimal | None = None
    beginDate: date | None = None
    endDate: date | None = None
    contractSeqNo: str | None = None


class _NoticeBody(BaseModel):
    repeatFlag: bool


class _ClearanceBody(BaseModel):
    clearFlag: str
    clearDate: date | None = None
    contractSeqNo: str | None = None


def _customer(person: Person) -> dict[str, str]:
    kind = CERT_TYPE_RESIDENT_ID if _RESIDENT_ID.fullmatch(person.id_number) else CERT_TYPE_CREDIT_CODE
    return {"custName": person.name, "certType": kind, "certNo": person.id_number}


class EsbSoapBank(SoapPartyAdapter):
    """A bank whose core system sits behind an ESB mortgage service (see the shipped WSDL)."""

    WSDL = Path(__file__).with_name("esb_mortgage.wsdl")
    BINDING = f"{{{NAMESPACE}}}MortgageEsbSoap12Binding"

    class Settings(SoapSettings):
        channel_id: str = "BDCDJ"  # the channel code the bank assigned to the registry

    def __init__(self, party: str, settings: EsbSoapBank.Settings, context: AdapterContext) -> None:
        super().__init__(party, settings, context)
        self.esb_settings = settings

    def branch_no(self) -> str | None:
        """The bank branch the ESB routes to; None lets the ESB decide (a bank module may override)."""
        return None

    def _header(self) -> dict[str, Any]:
        return {
            "channelId": self.esb_settings.channel_id,
            "reqSeqNo": uuid.uuid4().hex,
            "reqTime": datetime.now(UTC),
            "branchNo": self.branch_no(),
        }

    def _body(self, raw: dict[str, Any]) -> dict[str, Any]:
        reply = _Reply.model_validate(raw)
        code, message = reply.rspHeader.resultCode, reply.rspHeader.resultMsg or ""
        if code == RESULT_OK and reply.rspBody is not None:
            return reply.rspBody
        if code == RESULT_OK:
            raise PartyRejected(self.party, "rspBody missing", message)  # unreachable for a sane bank
        if code.startswith("SYS"):  # SYS0001 系统繁忙 and friends: the ESB says try later
            raise PartyUnavailable(self.party, code, message)
        raise PartyRejected(self.party, code, message)

    def fault_hook(self, code: str, message: str) -> PartyError | None:
        # SOAP 1.2: a Receiver fault is the ESB's own trouble (back end down), worth retrying later.
        if code.rpartition(":")[2] == "Receiver":
            return PartyUnavailable(self.party, code, message)
        return None

    async def confirm_contracts(self, check: ContractCheck) -> ContractConfirmation:
        def parse(raw: dict[str, Any]) -> ContractConfirmation:
            body = _ContractBody.model_validate(self._body(raw))
            if body.checkResult != "1":
                raise PartyRejected(self.party, f"checkResult={body.checkResult}", "核验未通过")
            return ContractConfirmation(
                loan_contract_number=check.loan_contract_number,
                mortgage_contract_number=check.mortgage_contract_number,
                amount=body.loanSum,  # None is refused by the DTO's validation
                term_start=body.beginDate,
                term_end=body.endDate,
                bank_reference=body.contractSeqNo or "",
            )

        return await self.client.call(
            "verifyMortgageContract",
            parse,
            idempotent=True,
            reqHeader=self._header(),
            reqBody={
                "bizCaseId": check.case_id,
                "loanContractId": check.loan_contract_number,
                "pledgeContractId": check.mortgage_contract_number,
                "debtor": _customer(check.borrower),
                "pledgors": {"pledgor": [_customer(m) for m in check.mortgagors]},
                "loanSum": check.amount,
                "realEstateUnitNo": check.unit_code,
            },
        )

    def _receipt(self, delivery_id: str) -> Callable[[dict[str, Any]], DeliveryReceipt]:
        def parse(raw: dict[str, Any]) -> DeliveryReceipt:
            reply = _Reply.model_validate(raw)
            body = _NoticeBody.model_validate(self._body(raw))
            return DeliveryReceipt(
                delivery_id=delivery_id,
                duplicate=body.repeatFlag,
                party_reference=reply.rspHeader.rspSeqNo or "",
            )

        return parse

    async def notify(self, notification: CaseNotification) -> DeliveryReceipt:
        certificate = notification.certificate
        return await self.client.call(
            "receiveRegistrationNotice",
            self._receipt(notification.delivery_id),
            idempotent=True,  # the bank applies each noticeId once
            reqHeader=self._header(),
            reqBody={
                "noticeId": notification.delivery_id,
                "bizCaseId": notification.case_id,
                "noticeType": NOTICE_TYPES[notification.event.value],
                "noticeTime": notification.occurred_at,
                "realEstateUnitNo": notification.unit_code,
                "noticeText": notification.reason_zh or notification.reason_en or None,
                "certificateNo": certificate.number if certificate else None,
                "certificateFile": certificate.file if certificate else None,
                "certificateDigest": certs.sm3_hex(certificate.file) if certificate else None,
            },
        )

    async def release_loan(self, notice: LoanReleaseNotice) -> DeliveryReceipt:
        return await self.client.call(
            "receiveLendingNotice",
            self._receipt(notice.delivery_id),
            idempotent=True,
            reqHeader=self._header(),
            reqBody={
                "noticeId": notice.delivery_id,
                "bizCaseId": notice.case_id,
                "loanContractId": notice.loan_contract_number,
                "realEstateUnitNo": notice.unit_code,
                "registerTime": notice.registered_at,
                "proofNo": notice.proof_number,
            },
        )

    async def confirm_settlement(self, check: SettlementCheck) -> SettlementConfirmation:
        def parse(raw: dict[str, Any]) -> SettlementConfirmation:
            body = _ClearanceBody.model_validate(self._body(raw))
            if body.clearFlag != "1":
                raise PartyRejected(self.party, f"clearFlag={body.clearFlag}", "贷款未结清")
            return SettlementConfirmation(
                loan_contract_number=check.loan_contract_number,
                settled_on=body.clearDate,  # None is refused by the DTO's validation
                bank_reference=body.contractSeqNo or "",
            )

        return await self.client.call(
            "checkLoanClearance",
            parse,
            idempotent=True,
            reqHeader=self._header(),
            reqBody={
                "bizCaseId": check.case_id,
                "loanContractId": check.loan_contract_number,
                "pledgeContractId": check.mortgage_contract_number,
                "realEstateUnitNo": check.unit_code,
            },
        )
