"""A simulated bank with a resource-style REST API: snake_case JSON, HTTP statuses, PUT by delivery id."""

from __future__ import annotations

import base64
import json
from decimal import Decimal, InvalidOperation

from aiohttp import web

import certs
from sandbox.banks.base import BankPartyServer
from sandbox.banks.ledger import Problem
from sandbox.common import Reply
from sandbox.faults import Fault, FaultKind

STATUSES = {  # problem → (HTTP status, error code)
    Problem.CONTRACT_NOT_FOUND: (404, "contract_not_found"),
    Problem.MORTGAGE_CONTRACT_MISMATCH: (422, "mortgage_contract_mismatch"),
    Problem.BORROWER_MISMATCH: (422, "borrower_mismatch"),
    Problem.MORTGAGOR_MISMATCH: (422, "mortgagor_mismatch"),
    Problem.AMOUNT_MISMATCH: (422, "principal_mismatch"),
    Problem.UNIT_MISMATCH: (422, "collateral_mismatch"),
    Problem.LOAN_OUTSTANDING: (409, "loan_outstanding"),
}
MESSAGES = {
    Problem.CONTRACT_NOT_FOUND: "借款合同不存在 / loan contract not found",
    Problem.LOAN_OUTSTANDING: "贷款尚未结清 / the loan is not settled",
}
KNOWN_EVENTS = frozenset(
    {
        "accepted",
        "need_more_material",
        "rejected",
        "registered",
        "certificate_issued",
        "utilities_done",
        "utility_needs_citizen",
        "mortgaged_unit_transferred",
        "mortgage_cancelled",
    }
)


def _error(problem: Problem | None) -> Reply:
    problem = problem or Problem.CONTRACT_NOT_FOUND
    status, code = STATUSES[problem]
    message = MESSAGES.get(problem, f"核验不一致 / {code.replace('_', ' ')}")
    return Reply.json({"error": {"code": code, "message": message}}, status=status)


def _bad_request(exc: Exception) -> Reply:
    return Reply.json({"error": {"code": "bad_request", "message": repr(exc)}}, status=400)


class ResourceRestBankServer(BankPartyServer):
    """Serves /v2/loan-contracts/…, /v2/registration-events/{id}, /v2/loan-releases/{id}."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/loan-contracts/{number}/verifications", self.operation(self._verify))
        app.router.add_get("/v2/loan-contracts/{number}/settlement", self.operation(self._settlement))
        app.router.add_put("/v2/registration-events/{delivery_id}", self.operation(self._event))
        app.router.add_put("/v2/loan-releases/{delivery_id}", self.operation(self._release))

    @staticmethod
    def _busy(fault: Fault | None) -> Reply | None:
        if fault is not None and fault.kind is FaultKind.BUSY:
            return Reply.json({"error": {"code": "maintenance", "message": "系统维护中"}}, status=503)
        return None

    async def _verify(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        try:
            data = json.loads(body)
            contract, problem = self.ledger.check_contract(
                request.match_info["number"],
                data["mortgage_contract_number"],
                data["borrower"]["id_number"],
                [m["id_number"] for m in data["mortgagors"]],
                Decimal(data["amount"]),
                data["unit_code"],
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            return _bad_request(exc)
        if problem is not None or contract is None:
            return _error(problem)
        return Reply.json(
            {
                "loan_contract_number": contract.loan_contract_number,
                "status": "active",
                "principal": f"{contract.amount:.2f}",
                "term": {"start": contract.term_start.isoformat(), "end": contract.term_end.isoformat()},
                "reference": contract.reference,
            }
        )

    async def _settlement(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        mortgage = request.query.get("mortgage_contract_number", "")
        contract, problem = self.ledger.check_settlement(request.match_info["number"], mortgage)
        if problem is Problem.LOAN_OUTSTANDING and contract is not None:
            return Reply.json({"settled": False, "settled_on": None, "reference": contract.reference})
        if problem is not None or contract is None or contract.settled_on is None:
            return _error(problem)
        return Reply.json(
            {"settled": True, "settled_on": contract.settled_on.isoformat(), "reference": contract.reference}
        )

    async def _event(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        delivery_id = request.match_info["delivery_id"]
        try:
            data = json.loads(body)
            if data["event"] not in KNOWN_EVENTS:
                return Reply.json({"error": {"code": "unknown_event", "message": data["event"]}}, status=422)
            certificate = data.get("certificate")
            if certificate:
                content = base64.b64decode(certificate["content_base64"], validate=True)
                if certs.sm3_hex(content) != certificate["sm3"]:
                    return Reply.json({"error": {"code": "digest_mismatch", "message": "sm3"}}, status=422)
                data = {**data, "certificate": {**certificate, "content": content}}
        except (KeyError, TypeError, ValueError) as exc:
            return _bad_request(exc)
        duplicate = self.ledger.receive(delivery_id, "notification", data)
        return Reply.json(
            {"id": delivery_id, "reference": f"EV-{delivery_id[:8]}"}, status=200 if duplicate else 201
        )

    async def _release(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        if (busy := self._busy(fault)) is not None:
            return busy
        delivery_id = request.match_info["delivery_id"]
        try:
            data = json.loads(body)
            if data["loan_contract_number"] not in self.ledger.contracts:
                return _error(Problem.CONTRACT_NOT_FOUND)
        except (KeyError, TypeError, ValueError) as exc:
            return _bad_request(exc)
        duplicate = self.ledger.receive(delivery_id, "loan_release", data)
        return Reply.json(
            {"id": delivery_id, "reference": f"LR-{delivery_id[:8]}"}, status=200 if duplicate else 201
        )
