"""A simulated bank behind an ESB mortgage service (SOAP 1.2, resultCode "AAAAAAA"), serving its WSDL."""

from __future__ import annotations

import base64
import uuid
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
    SOAP12,
    BadSoapRequest,
    parse_soap_request,
    soap_envelope,
    soap_fault,
)

SERVICE_PATH = "/esb/MortgageService"
RESULT_CODES = {
    Problem.CONTRACT_NOT_FOUND: ("EMG0101", "贷款合同不存在"),
    Problem.MORTGAGE_CONTRACT_MISMATCH: ("EMG0102", "抵押合同与贷款合同不匹配"),
    Problem.BORROWER_MISMATCH: ("EMG0103", "借款人证件信息不一致"),
    Problem.MORTGAGOR_MISMATCH: ("EMG0104", "抵押人证件信息不一致"),
    Problem.AMOUNT_MISMATCH: ("EMG0105", "贷款金额不一致"),
    Problem.UNIT_MISMATCH: ("EMG0106", "押品不动产单元号不一致"),
    Problem.LOAN_OUTSTANDING: ("EMG0201", "贷款未结清"),
}
# The bank's own vocabulary (deliberately not imported from the adapter: the simulator is the spec).
NAMESPACE = "http://esb.examplebank.cn/service/mortgage"
KNOWN_NOTICES = frozenset({"01", "02", "03", "04", "05", "06", "07", "08", "09"})
WSDL = files("adapters.banks") / "esb_mortgage.wsdl"  # the WSDL the bank publishes (shipped with its adapter)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class EsbSoapBankServer(BankPartyServer):
    """Answers verifyMortgageContract, receiveRegistrationNotice, receiveLendingNotice, checkLoanClearance.

    `branch_no`: when set, requests must name this branch (机构号) in reqHeader.branchNo, as DGRCB's does.
    """

    wsdl: Traversable = WSDL

    def __init__(self, *args: Any, branch_no: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch_no = branch_no
        self.channels_seen: set[str] = set()

    @property
    def endpoint(self) -> str:
        return self.base_url + SERVICE_PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_get(SERVICE_PATH, self._wsdl)
        app.router.add_post(SERVICE_PATH, self.operation(self._dispatch))

    async def _wsdl(self, request: web.Request) -> web.Response:
        return web.Response(body=self.wsdl.read_bytes(), content_type="text/xml", charset="utf-8")

    def _reply(self, element: str, code: str, message: str, body: dict[str, Any] | None = None) -> Reply:
        fields = {
            "rspHeader": {"resultCode": code, "resultMsg": message, "rspSeqNo": uuid.uuid4().hex[:20]},
            "rspBody": body,
        }
        return Reply(200, soap_envelope(SOAP12, NAMESPACE, element, fields), CONTENT_TYPES[SOAP12])

    async def _dispatch(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        try:
            soap_ns, operation, data = parse_soap_request(body)
            if soap_ns != SOAP12:
                raise BadSoapRequest("this ESB speaks SOAP 1.2 only")
        except BadSoapRequest as exc:
            return Reply(500, soap_fault(SOAP12, "Sender", str(exc)), CONTENT_TYPES[SOAP12])
        element = f"{operation}Response"
        if fault is not None and fault.kind is FaultKind.SOAP_FAULT:
            return Reply(500, soap_fault(SOAP12, fault.code, "injected fault"), CONTENT_TYPES[SOAP12])
        if fault is not None and fault.kind is FaultKind.BUSY:
            return self._reply(element, "SYS0001", "系统繁忙，请稍后重试")
        handlers = {
            "verifyMortgageContract": self._verify,
            "receiveRegistrationNotice": self._notice,
            "receiveLendingNotice": self._lending,
            "checkLoanClearance": self._clearance,
        }
        handler = handlers.get(operation)
        if handler is None:
            return Reply(
                500, soap_fault(SOAP12, "Sender", f"unknown operation {operation}"), CONTENT_TYPES[SOAP12]
            )
        try:
            header, request_body = data["reqHeader"], data["reqBody"]
            self.channels_seen.add(header["channelId"])
            if self.branch_no is not None and header.get("branchNo") != self.branch_no:
                return self._reply(element, "EHD0001", "机构号不存在或未开通")
            code, message, reply_body = handler(request_body)
        except (KeyError, TypeError, InvalidOperation) as exc:
            return Reply(500, soap_fault(SOAP12, "Sender", f"bad request: {exc!r}"), CONTENT_TYPES[SOAP12])
        return self._reply(element, code, message, reply_body)

    def _refusal(self, problem: Problem | None) -> tuple[str, str, None]:
        code, message = RESULT_CODES[problem or Problem.CONTRACT_NOT_FOUND]
        return code, message, None

    def _verify(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        contract, problem = self.ledger.check_contract(
            body["loanContractId"],
            body["pledgeContractId"],
            body["debtor"]["certNo"],
            [p["certNo"] for p in _list(body["pledgors"]["pledgor"])],
            Decimal(body["loanSum"]),
            body["realEstateUnitNo"],
        )
        if problem is not None or contract is None:
            return self._refusal(problem)
        return (
            "AAAAAAA",
            "交易成功",
            {
                "checkResult": "1",
                "loanSum": contract.amount,
                "beginDate": contract.term_start,
                "endDate": contract.term_end,
                "contractSeqNo": contract.reference,
            },
        )

    def _notice(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        if body["noticeType"] not in KNOWN_NOTICES:
            return "EMG0301", "通知类型不支持", None
        if body.get("certificateFile"):
            content = base64.b64decode(body["certificateFile"])
            if certs.sm3_hex(content) != body.get("certificateDigest"):
                return "EMG0302", "证照文件摘要不符", None
            body = {**body, "certificateFile": content}
        duplicate = self.ledger.receive(body["noticeId"], "notification", body)
        return "AAAAAAA", "接收成功", {"repeatFlag": duplicate}

    def _lending(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        if body["loanContractId"] not in self.ledger.contracts:
            return self._refusal(Problem.CONTRACT_NOT_FOUND)
        duplicate = self.ledger.receive(body["noticeId"], "loan_release", body)
        return "AAAAAAA", "接收成功", {"repeatFlag": duplicate}

    def _clearance(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        contract, problem = self.ledger.check_settlement(body["loanContractId"], body["pledgeContractId"])
        if problem is not None or contract is None:
            return self._refusal(problem)
        settled_on: date | None = contract.settled_on
        return (
            "AAAAAAA",
            "交易成功",
            {"clearFlag": "1", "clearDate": settled_on, "contractSeqNo": contract.reference},
        )
