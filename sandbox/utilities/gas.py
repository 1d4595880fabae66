"""A simulated gas company (东莞燃气): signed webhooks with pinyin fields and `retCode`s. It checks the account
at once (E101), accepts the rest (202), decides later (arrears E102, visit E103, or done) and reports the
result on the gateway's acknowledgement API; a repeated delivery is answered with the current state."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from gateway.ports.utilities import RefusalReason, UtilityService
from sandbox.common import Reply
from sandbox.faults import Fault, FaultKind
from sandbox.utilities.base import UtilityServer
from sandbox.utilities.books import Entry, Result
from sandbox.utilities.gateway_client import GatewayClient, settled

HOOK_PATH = "/openapi/bdc/ghsq"  # 过户申请
RET_CODES = {
    RefusalReason.ACCOUNT_MISMATCH: ("E101", "户号与地址不符", 422),
    RefusalReason.ARREARS: ("E102", "存在欠费，请先缴清", 409),
    RefusalReason.VISIT_REQUIRED: ("E103", "需到燃气营业厅办理", 422),
}


def answer(entry: Entry) -> Reply:
    if entry.result is Result.REJECTED and entry.reason is not None:
        code, message, status = RET_CODES[entry.reason]
        return Reply.json({"retCode": code, "retMsg": message, "slbh": entry.reference}, status=status)
    if entry.result is Result.DONE:
        return Reply.json({"retCode": "0000", "retMsg": "过户完成", "slbh": entry.reference, "ghzt": "1"})
    return Reply.json(
        {"retCode": "0000", "retMsg": "受理成功", "slbh": entry.reference, "ghzt": "0"}, status=202
    )


def acknowledgement(entry: Entry) -> dict[str, Any]:
    """The result as the gateway's acknowledgement API takes it."""
    if entry.result is Result.REJECTED and entry.reason is not None:
        code, message, _ = RET_CODES[entry.reason]
        return {"result": "rejected", "reason": entry.reason.value, "provider_code": code, "message": message}
    return {"result": "done", "provider_code": "0000", "message": "过户完成", "reference": entry.reference}


class GasWebhookServer(UtilityServer):
    service = UtilityService.GAS
    adapter = "adapters.utilities.gas:GasWebhookProvider"
    reference_prefix = "RQ"

    def __init__(self, *args: Any, process_delay: float = 0.05, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.process_delay = process_delay  # how long a job waits before the gas company decides it
        self.gateway = GatewayClient(self.code, self.key, self._webhook_keys[0])
        self.callbacks_sent: list[tuple[str, int | None]] = []  # (delivery id, the gateway's status)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return self.base_url + HOOK_PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_post(HOOK_PATH, self.webhook_operation(self._transfer))

    async def close(self) -> None:
        """Stop the server, the pending decisions and the callback client."""
        await self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.close()

    async def _transfer(self, delivery_id: str, body: Any, fault: Fault | None) -> Reply:
        if fault is not None and fault.kind is FaultKind.BUSY:
            return Reply.json({"retCode": "9001", "retMsg": "系统繁忙，请稍后再试"}, status=200)
        try:
            if body["serialNo"] != delivery_id:
                raise ValueError("serialNo differs from webhook-id")
            account_no, address = body["huhao"], body["dz"]
            buyers = tuple(person["uname"] for person in body["toUsers"])
        except (KeyError, TypeError, ValueError) as exc:
            return Reply.json({"retCode": "E400", "retMsg": repr(exc)}, status=400)
        earlier = self.book.seen(delivery_id)
        if earlier is not None:
            return answer(earlier)
        if self.book.check(account_no, address) is RefusalReason.ACCOUNT_MISMATCH:
            return answer(self.book.apply(delivery_id, account_no, address, buyers))
        entry = self.book.accept(delivery_id)
        task = asyncio.create_task(self._decide(delivery_id, account_no, address, buyers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return answer(entry)

    async def _decide(self, delivery_id: str, account_no: str, address: str, buyers: tuple[str, ...]) -> None:
        await asyncio.sleep(self.process_delay)
        entry = self.book.apply(delivery_id, account_no, address, buyers)
        if self.gateway.base_url is not None:
            await self.report(delivery_id, entry)

    async def report(self, delivery_id: str, entry: Entry, *, attempts: int = 20) -> None:
        """POST the result to the gateway until it answers (twice, with a second key, when duplicates are
        injected); without an answer the gateway still learns it by sending the delivery again."""
        sends = [f"gas-{delivery_id}"] + (
            [f"gas-{delivery_id}-again"] if self.faults.duplicate_callbacks else []
        )
        for key in sends:
            status: int | None = None
            for attempt in range(attempts):
                with contextlib.suppress(Exception):  # the gateway down or slow: try again shortly
                    reply = await self.gateway.acknowledge(delivery_id, acknowledgement(entry), key)
                    status = reply.status
                    if settled(reply.status, reply.body):
                        break
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
            self.callbacks_sent.append((delivery_id, status))
