"""A simulated water company (东莞供水): signed JSON webhooks in the gateway's own spelling, decided at once."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.ports.utilities import RefusalReason, UtilityService
from sandbox.common import Reply
from sandbox.faults import Fault, FaultKind
from sandbox.utilities.base import UtilityServer
from sandbox.utilities.books import Entry, Result

HOOK_PATH = "/hooks/account-transfer"
STATUS_OF_REFUSAL = {  # arrears is a state of the account (409), the others a problem with the request (422)
    RefusalReason.ACCOUNT_MISMATCH: 422,
    RefusalReason.ARREARS: 409,
    RefusalReason.VISIT_REQUIRED: 422,
}
MESSAGES = {
    RefusalReason.ACCOUNT_MISMATCH: "户号与用水地址不符 / account not at this address",
    RefusalReason.ARREARS: "该户号有欠费，请先结清 / unpaid water bills",
    RefusalReason.VISIT_REQUIRED: "请到营业厅办理 / please visit a service hall",
}


def answer(entry: Entry) -> Reply:
    if entry.result is Result.REJECTED and entry.reason is not None:
        error = {"code": entry.reason.value, "message": MESSAGES[entry.reason]}
        return Reply.json(
            {"error": error, "reference": entry.reference}, status=STATUS_OF_REFUSAL[entry.reason]
        )
    return Reply.json({"status": "done", "reference": entry.reference})


class WaterWebhookServer(UtilityServer):
    service = UtilityService.WATER
    adapter = "adapters.utilities.water:WaterWebhookProvider"
    reference_prefix = "SW"

    @property
    def endpoint(self) -> str:
        return self.base_url + HOOK_PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_post(HOOK_PATH, self.webhook_operation(self._transfer))

    async def _transfer(self, delivery_id: str, body: Any, fault: Fault | None) -> Reply:
        if fault is not None and fault.kind is FaultKind.BUSY:
            return Reply.json({"error": {"code": "busy", "message": "系统繁忙"}}, status=503)
        try:
            if body["delivery_id"] != delivery_id:
                raise ValueError("delivery_id differs from webhook-id")
            data = body["data"]
            account_no, address = data["account_no"], data["address"]
            buyers = tuple(person["name"] for person in data["buyers"])
        except (KeyError, TypeError, ValueError) as exc:
            return Reply.json({"error": {"code": "bad_request", "message": repr(exc)}}, status=400)
        return answer(self.book.apply(delivery_id, account_no, address, buyers))
