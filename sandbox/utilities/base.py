"""What every simulated provider has: an account book, the utility participant kind, and (for webhook
providers) Standard Webhooks verification of the gateway's pushes with SM2-signed answers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from aiohttp import web

import certs
from certs.request_signing import NONCE
from gateway.errors import AuthenticationError
from gateway.ports.utilities import UtilityService
from sandbox.common import PartyServer, Reply
from sandbox.faults import Fault
from sandbox.utilities.books import AccountBook

# A webhook handler gets the verified delivery id (webhook-id), the parsed JSON body and any fault that only
# the wire format can spell (BUSY); other faults are applied around it.
WebhookOperation = Callable[[str, Any, Fault | None], Awaitable[Reply]]


class UtilityServer(PartyServer):
    kind: ClassVar[str] = "utility"
    service: ClassVar[UtilityService]
    adapter: ClassVar[str]  # "module:Class" of the gateway's adapter for this wire format
    reference_prefix: ClassVar[str] = "U"

    def __init__(
        self,
        code: str,
        ca: certs.CertificateAuthority,
        trusted: Iterable[certs.Certificate],
        **kwargs: Any,
    ) -> None:
        trusted = list(trusted)
        super().__init__(code, ca, trusted, **kwargs)
        self.book = AccountBook(self.reference_prefix)
        # Every push received: (monotonic time, webhook-id, status answered), faulted ones included.
        self.arrivals: list[tuple[float, str, int]] = []
        # Standard Webhooks: a trust list of the sender's public keys, never a key named by the request.
        self._webhook_keys = [c.public_key for c in trusted]

    @property
    def endpoint(self) -> str:
        """The address the adapter entry points at (`url` for webhooks, `endpoint` for SOAP)."""
        return self.base_url + "/"

    def adapter_entry(self, **overrides: Any) -> dict[str, Any]:
        """The gateway's configuration entry for this provider (`Settings.utilities[code]`)."""
        return {
            "adapter": self.adapter,
            "name": self.name,
            "certificate_pem": self.certificate.pem.decode(),
            **self.address_setting(),
            **overrides,
        }

    def address_setting(self) -> dict[str, str]:
        return {"url": self.endpoint}

    def webhook_operation(
        self, handler: WebhookOperation
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A route receiving signed pushes: faults, signature and timestamp check, handler, signed answer."""

        async def serve(request: web.Request) -> web.Response:
            response = await receive(request)
            self.arrivals.append((time.monotonic(), request.headers.get("webhook-id", ""), response.status))
            return response

        async def receive(request: web.Request) -> web.Response:
            self.requests_received += 1
            body = await request.read()
            fault = self.faults.take()
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            early = await self._early_fault(request, fault)
            if early is not None:
                assert isinstance(early, web.Response)
                return early
            try:
                # In place, like the gateway's own checks: ~0.35 ms of SM2, which the hop to the crypto pool and
                # back would cost again (the providers' bodies are small).
                delivery_id = certs.verify_webhook(self._webhook_keys, request.headers, body)
                parsed: Any = json.loads(body)
            except AuthenticationError as exc:
                self.requests_refused += 1
                reply = Reply.json({"error": {"code": exc.code, "message": exc.message_en}}, status=401)
                delivery_id = request.headers.get("webhook-id", "")
            except ValueError as exc:
                reply = Reply.json({"error": {"code": "bad_request", "message": repr(exc)}}, status=400)
                delivery_id = request.headers.get("webhook-id", "")
            else:
                reply = await handler(delivery_id, parsed, fault)
            reply, key = self._late_fault(reply, fault)
            headers = {**reply.headers, "Content-Type": reply.content_type}
            if key is not None and NONCE.fullmatch(delivery_id):
                # Signed like every participant's answer, with the webhook-id for the request nonce.
                headers.update(
                    certs.sign_response(key, reply.status, delivery_id, reply.body, party=self.code)
                )
            return web.Response(status=reply.status, body=reply.body, headers=headers)

        return serve
