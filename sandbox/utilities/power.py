"""A simulated power company (东莞供电): SdqGhService over SOAP 1.1 — Hy (核验) then Gh (过户) — with
Appendix A signatures like the banks' SOAP services; it serves its WSDL."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.utilities.power import NAMESPACE, PowerSoapProvider
from gateway.ports.utilities import RefusalReason, UtilityService
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
from sandbox.utilities.base import UtilityServer
from sandbox.utilities.books import Result

SERVICE_PATH = "/services/SdqGhService"
CODES = {
    RefusalReason.ACCOUNT_MISMATCH: ("1001", "户号与用电地址不符"),
    RefusalReason.ARREARS: ("1002", "该户存在欠费，请结清后办理"),
    RefusalReason.VISIT_REQUIRED: ("1003", "请携带证件到供电营业厅办理"),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class PowerSoapServer(UtilityServer):
    service = UtilityService.POWER
    adapter = "adapters.utilities.power:PowerSoapProvider"
    reference_prefix = "GD"

    @property
    def endpoint(self) -> str:
        return self.base_url + SERVICE_PATH

    def address_setting(self) -> dict[str, str]:
        return {"endpoint": self.endpoint}

    def routes(self, app: web.Application) -> None:
        app.router.add_get(SERVICE_PATH, self._wsdl)
        app.router.add_post(SERVICE_PATH, self.operation(self._dispatch))

    async def _wsdl(self, request: web.Request) -> web.Response:
        return web.Response(
            body=PowerSoapProvider.WSDL.read_bytes(), content_type="text/xml", charset="utf-8"
        )

    def _reply(self, soap_ns: str, element: str, fields: dict[str, Any]) -> Reply:
        return Reply(200, soap_envelope(soap_ns, NAMESPACE, element, fields), CONTENT_TYPES[soap_ns])

    async def _dispatch(self, request: web.Request, body: bytes, fault: Fault | None) -> Reply:
        try:
            soap_ns, operation, data = parse_soap_request(body)
        except BadSoapRequest as exc:
            return Reply(500, soap_fault(SOAP11, "Client", str(exc)), CONTENT_TYPES[SOAP11])
        if fault is not None and fault.kind is FaultKind.SOAP_FAULT:
            return Reply(500, soap_fault(soap_ns, fault.code, "injected fault"), CONTENT_TYPES[soap_ns])
        response = operation.removesuffix("Request") + "Response"
        if fault is not None and fault.kind is FaultKind.BUSY:
            return self._reply(soap_ns, response, {"code": "9999", "msg": "系统繁忙，请稍后再试"})
        try:
            if operation == "HyRequest":
                return self._reply(soap_ns, response, self._verify(data))
            if operation == "GhRequest":
                return self._reply(soap_ns, response, self._transfer(data))
        except (KeyError, TypeError) as exc:
            return Reply(500, soap_fault(soap_ns, "Client", f"bad request: {exc!r}"), CONTENT_TYPES[soap_ns])
        return Reply(
            500, soap_fault(soap_ns, "Client", f"unknown operation {operation}"), CONTENT_TYPES[soap_ns]
        )

    def _verify(self, data: dict[str, Any]) -> dict[str, Any]:
        decided = self.book.entries.get(data["serialno"])
        if decided is not None and decided.result is Result.DONE:
            return {"code": "0", "msg": "该流水已办结"}  # a retry after the transfer: the holder has changed
        reason = self.book.check(data["consno"], data["address"])
        if reason is not None:
            code, message = CODES[reason]
            return {"code": code, "msg": message}
        return {"code": "0", "msg": "核验通过"}

    def _transfer(self, data: dict[str, Any]) -> dict[str, Any]:
        repeat = data["serialno"] in self.book.entries
        buyers = tuple(user["username"] for user in _list(data["newuser"]))
        entry = self.book.apply(data["serialno"], data["consno"], data["address"], buyers)
        if entry.result is Result.REJECTED and entry.reason is not None:
            code, message = CODES[entry.reason]
            return {"code": code, "msg": message, "gdbh": entry.reference}
        return {"code": "0", "msg": "过户成功", "gdbh": entry.reference, "cfbz": "Y" if repeat else "N"}
