"""Banks on an 'open API' gateway: camelCase JSON wrapped in {"code": "0", "msg": …, "data": …}, always HTTP 200."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

import certs
from adapters.errors import UnexpectedStatus
from adapters.rest import JsonReply, RestPartyAdapter
from gateway.errors import PartyRejected, PartyUnavailable
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

CODE_OK = "0"
CODES_BUSY = frozenset({"9001", "9002"})  # 系统繁忙 / 流量控制: try later
# Keyed by CaseEvent value: the port may grow events, and the bank's code for each is added here.
EVENT_TYPES = {
    "accepted": "ACCEPTED",
    "need_more_material": "SUPPLEMENT_REQUIRED",
    "rejected": "REJECTED",
    "registered": "REGISTERED",
    "certificate_issued": "CERT_ISSUED",
    "utilities_done": "UTILITY_TRANSFER_DONE",
    "utility_needs_citizen": "UTILITY_TRANSFER_REFUSED",
    "mortgaged_unit_transferred": "MORTGAGED_PROPERTY_TRANSFER",
    "mortgage_cancelled": "MORTGAGE_CANCELLED",
}
PATHS = {
    "verify": "openapi/v1/mortgage/contract/verify",
    "notify": "openapi/v1/mortgage/registration/notify",
    "release": "openapi/v1/mortgage/loan/release-notify",
    "settlement": "openapi/v1/mortgage/loan/settlement-query",
}


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    msg: str | None = None
    data: dict[str, Any] | None = None


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contractStatus: str
    loanAmount: Decimal
    loanStartDate: date | None = None
    loanEndDate: date | None = None
    serialNo: str | None = None


class _Receipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    duplicated: bool
    serialNo: str | None = None


class _Settlement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    settleStatus: str
    settleDate: date | None = None
    serialNo: str | None = None


def _person(person: Person) -> dict[str, str]:
    return {"name": person.name, "idCardNo": person.id_number}


class EnvelopeRestBank(RestPartyAdapter):
    """A bank whose open-API gateway wraps every answer in a code/msg/data envelope."""

    def _data(self, reply: JsonReply) -> dict[str, Any]:
        if reply.status != 200:  # this API answers everything with 200; a signed 4xx means we erred
            raise UnexpectedStatus(reply.status)
        envelope = _Envelope.model_validate(reply.body)
        if envelope.code == CODE_OK:
            return envelope.data or {}
        if envelope.code in CODES_BUSY:
            raise PartyUnavailable(self.party, envelope.code, envelope.msg or "")
        raise PartyRejected(self.party, envelope.code, envelope.msg or "")

    async def confirm_contracts(self, check: ContractCheck) -> ContractConfirmation:
        def parse(reply: JsonReply) -> ContractConfirmation:
            data = _Contract.model_validate(self._data(reply))
            if data.contractStatus != "EFFECTIVE":
                raise PartyRejected(self.party, f"contractStatus={data.contractStatus}", "合同状态无效")
            return ContractConfirmation(
                loan_contract_number=check.loan_contract_number,
                mortgage_contract_number=check.mortgage_contract_number,
                amount=data.loanAmount,
                term_start=data.loanStartDate,
                term_end=data.loanEndDate,
                bank_reference=data.serialNo or "",
            )

        payload = {
            "caseNo": check.case_id,
            "loanContractNo": check.loan_contract_number,
            "mortgageContractNo": check.mortgage_contract_number,
            "borrower": _person(check.borrower),
            "mortgagors": [_person(m) for m in check.mortgagors],
            "loanAmount": f"{check.amount:.2f}",
            "unitNo": check.unit_code,
        }
        return await self.client.call(
            "POST", self.client.url(PATHS["verify"]), payload, parse, idempotent=True
        )

    def _receipt(self, delivery_id: str) -> Callable[[JsonReply], DeliveryReceipt]:
        def parse(reply: JsonReply) -> DeliveryReceipt:
            data = _Receipt.model_validate(self._data(reply))
            return DeliveryReceipt(
                delivery_id=delivery_id, duplicate=data.duplicated, party_reference=data.serialNo or ""
            )

        return parse

    async def notify(self, notification: CaseNotification) -> DeliveryReceipt:
        certificate = notification.certificate
        payload: dict[str, Any] = {
            "deliveryId": notification.delivery_id,
            "caseNo": notification.case_id,
            "eventType": EVENT_TYPES[notification.event.value],
            "eventTime": notification.occurred_at.isoformat(),
            "unitNo": notification.unit_code,
            "remark": notification.reason_zh or notification.reason_en,
        }
        if certificate is not None:
            payload["certificate"] = {
                "certNo": certificate.number,
                "fileBase64": base64.b64encode(certificate.file).decode(),
                "fileSm3": certs.sm3_hex(certificate.file),
                "mediaType": certificate.media_type,
            }
        url = self.client.url(PATHS["notify"])
        # The bank applies each deliveryId once, so resending is safe.
        return await self.client.call(
            "POST", url, payload, self._receipt(notification.delivery_id), idempotent=True
        )

    async def release_loan(self, notice: LoanReleaseNotice) -> DeliveryReceipt:
        payload = {
            "deliveryId": notice.delivery_id,
            "caseNo": notice.case_id,
            "loanContractNo": notice.loan_contract_number,
            "unitNo": notice.unit_code,
            "registeredAt": notice.registered_at.isoformat(),
            "proofNo": notice.proof_number,
        }
        url = self.client.url(PATHS["release"])
        return await self.client.call(
            "POST", url, payload, self._receipt(notice.delivery_id), idempotent=True
        )

    async def confirm_settlement(self, check: SettlementCheck) -> SettlementConfirmation:
        def parse(reply: JsonReply) -> SettlementConfirmation:
            data = _Settlement.model_validate(self._data(reply))
            if data.settleStatus != "SETTLED":
                raise PartyRejected(self.party, f"settleStatus={data.settleStatus}", "贷款未结清")
            return SettlementConfirmation(
                loan_contract_number=check.loan_contract_number,
                settled_on=data.settleDate,  # None is refused by the DTO's validation
                bank_reference=data.serialNo or "",
            )

        payload = {
            "caseNo": check.case_id,
            "loanContractNo": check.loan_contract_number,
            "mortgageContractNo": check.mortgage_contract_number,
            "unitNo": check.unit_code,
        }
        return await self.client.call(
            "POST", self.client.url(PATHS["settlement"]), payload, parse, idempotent=True
        )
