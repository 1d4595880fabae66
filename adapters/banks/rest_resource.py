"""Banks with a resource-style REST API: snake_case JSON, HTTP status semantics, PUT by delivery id."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

import certs
from adapters.errors import UnexpectedStatus
from adapters.rest import JsonReply, RestPartyAdapter
from gateway.errors import PartyRejected
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

# Statuses this API uses for a business refusal, with {"error": {"code", "message"}} in the body.
REFUSAL_STATUSES = frozenset({404, 409, 422})


class _Error(BaseModel):
    code: str
    message: str = ""


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error: _Error


class _Term(BaseModel):
    start: date
    end: date


class _Contract(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loan_contract_number: str
    status: str
    principal: Decimal
    term: _Term | None = None
    reference: str = ""


class _Receipt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    reference: str = ""


class _Settlement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    settled: bool
    settled_on: date | None = None
    reference: str = ""


def _person(person: Person) -> dict[str, str]:
    return {"name": person.name, "id_number": person.id_number}


def _segment(value: str) -> str:
    return quote(value, safe="")


class ResourceRestBank(RestPartyAdapter):
    """A bank whose API names resources in the path and answers with HTTP statuses."""

    def _ok(self, reply: JsonReply, *expected: int) -> Any:
        if reply.status in expected:
            return reply.body
        if reply.status in REFUSAL_STATUSES:
            error = _ErrorBody.model_validate(reply.body).error
            raise PartyRejected(self.party, error.code, error.message)
        raise UnexpectedStatus(reply.status)

    async def confirm_contracts(self, check: ContractCheck) -> ContractConfirmation:
        def parse(reply: JsonReply) -> ContractConfirmation:
            data = _Contract.model_validate(self._ok(reply, 200))
            if data.status != "active":
                raise PartyRejected(self.party, f"status={data.status}", "贷款合同非有效状态")
            return ContractConfirmation(
                loan_contract_number=data.loan_contract_number,
                mortgage_contract_number=check.mortgage_contract_number,
                amount=data.principal,
                term_start=data.term.start if data.term else None,
                term_end=data.term.end if data.term else None,
                bank_reference=data.reference,
            )

        url = self.client.url(f"v2/loan-contracts/{_segment(check.loan_contract_number)}/verifications")
        payload = {
            "case_id": check.case_id,
            "mortgage_contract_number": check.mortgage_contract_number,
            "borrower": _person(check.borrower),
            "mortgagors": [_person(m) for m in check.mortgagors],
            "amount": f"{check.amount:.2f}",
            "unit_code": check.unit_code,
        }
        # A verification creates nothing at the bank: repeating it is harmless.
        return await self.client.call("POST", url, payload, parse, idempotent=True)

    def _receipt(self, delivery_id: str) -> Callable[[JsonReply], DeliveryReceipt]:
        def parse(reply: JsonReply) -> DeliveryReceipt:
            data = _Receipt.model_validate(self._ok(reply, 200, 201))
            # 201: created now; 200: this id was already applied (PUT is idempotent by the URL).
            return DeliveryReceipt(
                delivery_id=delivery_id, duplicate=reply.status == 200, party_reference=data.reference
            )

        return parse

    async def notify(self, notification: CaseNotification) -> DeliveryReceipt:
        certificate = notification.certificate
        payload: dict[str, Any] = {
            "case_id": notification.case_id,
            "event": notification.event.value,
            "occurred_at": notification.occurred_at.isoformat(),
            "unit_code": notification.unit_code,
            "reason": notification.reason_zh or notification.reason_en or None,
            "certificate": None,
        }
        if certificate is not None:
            payload["certificate"] = {
                "number": certificate.number,
                "media_type": certificate.media_type,
                "content_base64": base64.b64encode(certificate.file).decode(),
                "sm3": certs.sm3_hex(certificate.file),
            }
        url = self.client.url(f"v2/registration-events/{_segment(notification.delivery_id)}")
        return await self.client.call(
            "PUT", url, payload, self._receipt(notification.delivery_id), idempotent=True
        )

    async def release_loan(self, notice: LoanReleaseNotice) -> DeliveryReceipt:
        payload = {
            "case_id": notice.case_id,
            "loan_contract_number": notice.loan_contract_number,
            "unit_code": notice.unit_code,
            "registered_at": notice.registered_at.isoformat(),
            "proof_number": notice.proof_number,
        }
        url = self.client.url(f"v2/loan-releases/{_segment(notice.delivery_id)}")
        return await self.client.call("PUT", url, payload, self._receipt(notice.delivery_id), idempotent=True)

    async def confirm_settlement(self, check: SettlementCheck) -> SettlementConfirmation:
        def parse(reply: JsonReply) -> SettlementConfirmation:
            data = _Settlement.model_validate(self._ok(reply, 200))
            if not data.settled:
                raise PartyRejected(self.party, "settled=false", "贷款未结清")
            return SettlementConfirmation(
                loan_contract_number=check.loan_contract_number,
                settled_on=data.settled_on,  # None is refused by the DTO's validation
                bank_reference=data.reference,
            )

        url = self.client.url(
            f"v2/loan-contracts/{_segment(check.loan_contract_number)}/settlement",
            {"mortgage_contract_number": check.mortgage_contract_number, "case_id": check.case_id},
        )
        return await self.client.call("GET", url, None, parse, idempotent=True)
