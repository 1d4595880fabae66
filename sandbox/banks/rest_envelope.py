"""A simulated bank on an 'open API' gateway: camelCase JSON in {"code", "msg", "data"}, always HTTP 200."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

import certs
from sandbox.banks.base import BankPartyServer
from sandbox.banks.ledger import Problem
from sandbox.common import Reply
from sandbox.faults import Fault, FaultKind

CODES = {
    Problem.CONTRACT_NOT_FOUND: ("1001", "合同不存在"),
    Problem.MORTGAGE_CONTRACT_MISMATCH: ("1002", "抵押合同编号不匹配"),
    Problem.BORROWER_MISMATCH: ("1003", "借款人身份信息不匹配"),
    Problem.MORTGAGOR_MISMATCH: ("1004", "抵押人身份信息不匹配"),
    Problem.AMOUNT_MISMATCH: ("1005", "贷款金额不匹配"),
    Problem.UNIT_MISMATCH: ("1006", "抵押物单元号不匹配"),
    Problem.LOAN_OUTSTANDING: ("2001", "贷款未结清"),
}
# The bank's own API (deliberately not imported from the adapter: the simulator is the spec).
KNOWN_EVENTS = frozenset(
    {
        "ACCEPTED",
        "SUPPLEMENT_REQUIRED",
        "REJECTED",
        "REGISTERED",
        "CERT_ISSUED",
        "UTILITY_TRANSFER_DONE",
        "UTILITY_TRANSFER_REFUSED",
        "MORTGAGED_PROPERTY_TRANSFER",
        "MORTGAGE_CANCELLED",
    }
)
PATHS = {
    "verify": "openapi/v1/mortgage/contract/verify",
    "notify": "openapi/v1/mortgage/registration/notify",
    "release": "openapi/v1/mortgage/loan/release-notify",
    "settlement": "openapi/v1/mortgage/loan/settlement-query",
}


def _envelope(code: str, msg: str, data: dict[str, Any] | None = None) -> Reply:
    return Reply.json({"code": code, "msg": msg, "data": data})


class EnvelopeRestBankServer(BankPartyServer):
    """Answers the four open-API operations under /openapi/v1/mortgage/."""

    def routes(self, app: web.Application) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "verify": self._verify,
            "notify": self._notify,
            "release": self._release,
            "settlement": self._settlement,
        }
        for name, handler in handlers.items():
            app.router.add_post("/" + PATHS[name], self.operation(self._json(handler)))

    def _json(self, handler: Callable[[dict[str, Any]], Reply]) -> Any:
        async def serve(request: web.Request, body: bytes, fault: Fault | None) -> Reply:
            if fault is not None and fault.kind is FaultKind.BUSY:
                return _envelope("9001", "系统繁忙，请稍后再试")
            try:
                return handler(json.loads(body))
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                return _envelope("4000", f"请求报文错误：{exc!r}")

        return serve

    def _refusal(self, problem: Problem | None) -> Reply:
        return _envelope(*CODES[problem or Problem.CONTRACT_NOT_FOUND])

    def _verify(self, data: dict[str, Any]) -> Reply:
        contract, problem = self.ledger.check_contract(
            data["loanContractNo"],
            data["mortgageContractNo"],
            data["borrower"]["idCardNo"],
            [m["idCardNo"] for m in data["mortgagors"]],
            Decimal(data["loanAmount"]),
            data["unitNo"],
        )
        if problem is not None or contract is None:
            return self._refusal(problem)
        return _envelope(
            "0",
            "success",
            {
                "contractStatus": "EFFECTIVE",
                "loanAmount": f"{contract.amount:.2f}",
                "loanStartDate": contract.term_start.isoformat(),
                "loanEndDate": contract.term_end.isoformat(),
                "serialNo": contract.reference,
            },
        )

    def _notify(self, data: dict[str, Any]) -> Reply:
        if data["eventType"] not in KNOWN_EVENTS:
            return _envelope("3001", "事件类型不支持")
        certificate = data.get("certificate")
        if certificate:
            content = base64.b64decode(certificate["fileBase64"], validate=True)
            if certs.sm3_hex(content) != certificate["fileSm3"]:
                return _envelope("3002", "证照文件摘要不符")
            data = {**data, "certificate": {**certificate, "content": content}}
        duplicate = self.ledger.receive(data["deliveryId"], "notification", data)
        return _envelope(
            "0", "success", {"duplicated": duplicate, "serialNo": f"N{len(self.ledger.deliveries):06d}"}
        )

    def _release(self, data: dict[str, Any]) -> Reply:
        if data["loanContractNo"] not in self.ledger.contracts:
            return self._refusal(Problem.CONTRACT_NOT_FOUND)
        duplicate = self.ledger.receive(data["deliveryId"], "loan_release", data)
        return _envelope(
            "0", "success", {"duplicated": duplicate, "serialNo": f"R{len(self.ledger.deliveries):06d}"}
        )

    def _settlement(self, data: dict[str, Any]) -> Reply:
        contract, problem = self.ledger.check_settlement(data["loanContractNo"], data["mortgageContractNo"])
        if problem is not None or contract is None or contract.settled_on is None:
            return self._refusal(problem)
        return _envelope(
            "0",
            "success",
            {
                "settleStatus": "SETTLED",
                "settleDate": contract.settled_on.isoformat(),
                "serialNo": contract.reference,
            },
        )
