"""A simulated bank speaking LoanContractService v1 (SOAP 1.1, RetCode "0000"), serving its WSDL."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from aiohttp import web

import certs
from sandbox.banks.base import BankPartyServer
from sandbox.banks.ledger import Problem
from sandbox.common import Reply
from sandbox.faults import Fault, FaultKind
from sandbox.soap_xml import (
    CONTENT_TYPES,
    SOAP11,
    BadSoapRequest,
    parse_soap_request,
    soap_envelope,
    soap_fault,
)

SERVICE_PATH = "/services/LoanContractService"
RET_CODES = {
    Problem.CONTRACT_NOT_FOUND: ("E101", "借款合同不存在"),
    Problem.MORTGAGE_CONTRACT_MISMATCH: ("E102", "抵押合同号与借款合同不符"),
    Problem.BORROWER_MISMATCH: ("E103", "借款人信息不符"),
    Problem.MORTGAGOR_MISMATCH: ("E104", "抵押人信息不符"),
    Problem.AMOUNT_MISMATCH: ("E105", "贷款金额不符"),
    Problem.UNIT_MISMATCH: ("E106", "抵押物不动产单元号不符"),
    Problem.LOAN_OUTSTANDING: ("E201", "贷款尚未结清"),
}
# The bank's own vocabulary (deliberately not imported from the adapter: the simulator is the spec).
NAMESPACE = "http://corebank.example.cn/mortgage/loan/v1"
KNOWN_EVENTS = frozenset(
    {
        "ACCEPT",
        "SUPPLEMENT",
        "REJECT",
        "REGISTER",
        "CERTIFY",
        "UTILITY_DONE",
        "UTILITY_ACTION",
        "PLEDGE_TRANSFER",
        "PLEDGE_CANCEL",
    }
)
WSDL = (
    files("adapters.banks") / "loan_contract_v1.wsdl"
)  # the WSDL the bank publishes (shipped with its adapter)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class RetCodeSoapBankServer(BankPartyServer):
    """Answers QueryLoanContract, PushRegistrationEvent, NotifyLoanRelease, QueryLoanSettlement."""

    wsdl: Traversable = WSDL

    @property
    def endpoint(self) -> str:
        return self.base_url + SERVICE_PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_get(SERVICE_PATH, self._wsdl)
        app.router.add_post(SERVICE_PATH, self.operation(self._dispatch))

    async def _wsdl(self, request: web.Request) -> web.Response:
        return web.Response(body=self.wsdl.read_bytes(), content_type="text/xml", charset="utf-8")

    def _reply(self, soap_ns: str, element: str, fields: dict[str, Any]) -> Reply:
        return Reply(200, soap_envelope(soap_ns, NAMESPACE, element, fields), CONTENT_TYPES[soap_ns])

    async def _dispatch(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        try:
            soap_ns, operation, data = parse_soap_request(body)
        except BadSoapRequest as exc:
            return Reply(500, soap_fault(SOAP11, "Client", str(exc)), CONTENT_TYPES[SOAP11])
        if fault is not None and fault.kind is FaultKind.SOAP_FAULT:
            return Reply(500, soap_fault(soap_ns, fault.code, "injected fault"), CONTENT_TYPES[soap_ns])
        if fault is not None and fault.kind is FaultKind.BUSY:
            response = operation.removesuffix("Request") + "Response"
            return self._reply(soap_ns, response, {"RetCode": "9999", "RetMsg": "系统繁忙，请稍后再试"})
        handlers = {
            "QueryLoanContractRequest": self._query_contract,
            "PushRegistrationEventRequest": self._push_event,
            "NotifyLoanReleaseRequest": self._loan_release,
            "QueryLoanSettlementRequest": self._settlement,
        }
        handler = handlers.get(operation)
        if handler is None:
            return Reply(
                500, soap_fault(soap_ns, "Client", f"unknown operation {operation}"), CONTENT_TYPES[soap_ns]
            )
        try:
            return self._reply(soap_ns, *handler(data))
        except (KeyError, TypeError, InvalidOperation) as exc:
            return Reply(500, soap_fault(soap_ns, "Client", f"bad request: {exc!r}"), CONTENT_TYPES[soap_ns])

    def _query_contract(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        contract, problem = self.ledger.check_contract(
            data["LoanContractNo"],
            data["MortgageContractNo"],
            data["Borrower"]["IdNo"],
            [m["IdNo"] for m in _list(data["Mortgagor"])],
            Decimal(data["LoanAmount"]),
            data["UnitCode"],
        )
        element = "QueryLoanContractResponse"
        if problem is not None or contract is None:
            code, message = RET_CODES[problem or Problem.CONTRACT_NOT_FOUND]
            return element, {"RetCode": code, "RetMsg": message}
        return element, {
            "RetCode": "0000",
            "RetMsg": "交易成功",
            "ContractStatus": "VALID",
            "ApprovedAmount": contract.amount,
            "LoanStartDate": contract.term_start,
            "LoanEndDate": contract.term_end,
            "BankSerialNo": contract.reference,
        }

    def _push_event(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        element = "PushRegistrationEventResponse"
        if data["EventType"] not in KNOWN_EVENTS:
            return element, {"RetCode": "E301", "RetMsg": "事件类型不支持"}
        if data.get("CertFile"):
            content = base64.b64decode(data["CertFile"])
            if certs.sm3_hex(content) != data.get("CertFileSm3"):
                return element, {"RetCode": "E302", "RetMsg": "证照文件摘要不符"}
            data = {**data, "CertFile": content}
        duplicate = self.ledger.receive(data["MsgId"], "notification", data)
        return element, {"RetCode": "0000", "RetMsg": "接收成功", "DupFlag": "Y" if duplicate else "N"}

    def _loan_release(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        element = "NotifyLoanReleaseResponse"
        if data["LoanContractNo"] not in self.ledger.contracts:
            code, message = RET_CODES[Problem.CONTRACT_NOT_FOUND]
            return element, {"RetCode": code, "RetMsg": message}
        duplicate = self.ledger.receive(data["MsgId"], "loan_release", data)
        return element, {"RetCode": "0000", "RetMsg": "接收成功", "DupFlag": "Y" if duplicate else "N"}

    def _settlement(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        contract, problem = self.ledger.check_settlement(data["LoanContractNo"], data["MortgageContractNo"])
        element = "QueryLoanSettlementResponse"
        if problem is not None or contract is None:
            code, message = RET_CODES[problem or Problem.CONTRACT_NOT_FOUND]
            return element, {"RetCode": code, "RetMsg": message}
        settled_on: date = contract.settled_on  # type: ignore[assignment]  # checked by check_settlement
        return element, {
            "RetCode": "0000",
            "SettleStatus": "SETTLED",
            "SettleDate": settled_on,
            "BankSerialNo": contract.reference,
        }
