"""Shared plumbing of the simulated parties: a loopback aiohttp server that signs, verifies and fails on cue.

Each party has its own SM2 key and a certificate from the given CA, verifies the gateway's signed requests
(Appendix A), signs its replies, and suffers the faults queued in its FaultPlan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web

import certs
from gateway.errors import AuthenticationError
from sandbox.faults import Fault, FaultKind, FaultPlan
from sandbox.soap_xml import billion_laughs, external_entity, tamper


@dataclass
class Reply:
    """What a simulator's operation answers, before faults and signing."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False, default=str).encode())


# A format's handler gets the request, its raw body, and the fault to suffer if it is one only the wire
# format can spell (BUSY, SOAP_FAULT); the others are applied around it.
Operation = Callable[[web.Request, bytes, Fault | None], Awaitable[Reply]]


class PartyServer:
    """A simulated party on 127.0.0.1: subclasses add routes with `self.operation(handler)`."""

    kind: ClassVar[str] = "bank"

    def __init__(
        self,
        code: str,
        ca: certs.CertificateAuthority,
        trusted: Iterable[certs.Certificate],
        *,
        name: str = "",
        key: certs.SM2PrivateKey | None = None,
    ) -> None:
        self.code = code
        self.name = name or code
        self.key = key or certs.SM2PrivateKey.generate()
        self.certificate = ca.issue(self.key.public_key, code, self.kind)
        self.faults = FaultPlan()
        self.requests_received = 0  # operation requests, faulted ones included
        self.requests_refused = 0  # requests whose signature did not authenticate
        trust = certs.CATrustStore(ca)
        for certificate in trusted:
            trust.add(certificate)
        self._verifier = certs.RequestVerifier(trust, certs.MemoryNonceStore())
        self._stray_key = certs.SM2PrivateKey.generate()  # for the WRONG_KEY fault
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, port: int | None = None) -> str:
        """Listen on 127.0.0.1 (port 0: any free port; after a stop, the same port again)."""
        if self._runner is not None:
            return self.base_url
        app = web.Application(client_max_size=16 << 20)
        self.routes(app)
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port if port is not None else (self._port or 0))
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self.base_url

    async def stop(self) -> None:
        """Stop listening (the port is kept for a later `start()`): the party is 'down'."""
        self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.code}: not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- one operation: faults, authentication, signing ----------------------------------------------

    def operation(self, handler: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            self.requests_received += 1
            body = await request.read()
            fault = self.faults.take()
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            early = await self._early_fault(request, fault)
            if early is not None:
                return early
            try:
                # the request target exactly as on the request line (Appendix A), not a re-encoded form
                await self._verifier.verify(request.method, request.raw_path, request.headers, body)
            except AuthenticationError as exc:
                self.requests_refused += 1
                reply = Reply.json({"error": exc.code, "message": exc.message_en}, status=401)
            else:
                reply = await handler(request, body, fault)
            return self._respond(request, self._late_fault(reply, fault))

        return serve

    async def _early_fault(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        if fault is None:
            return None
        if fault.kind is FaultKind.STATUS:
            return web.Response(status=fault.status, text="Service Unavailable / 系统维护中")
        if fault.kind is FaultKind.RATE_LIMIT:
            return web.Response(
                status=429, headers={"Retry-After": str(fault.retry_after)}, text="Too Many Requests"
            )
        if fault.kind is FaultKind.HANG:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=fault.seconds)
            return web.Response(status=504, text="hung")
        if fault.kind is FaultKind.DISCONNECT:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return None

    def _late_fault(self, reply: Reply, fault: Fault | None) -> tuple[Reply, certs.SM2PrivateKey | None]:
        if fault is None:
            return reply, self.key
        if fault.kind is FaultKind.MALFORMED:
            return Reply(
                reply.status, reply.body[: max(1, len(reply.body) // 2)], reply.content_type
            ), self.key
        if fault.kind in (FaultKind.BILLION_LAUGHS, FaultKind.EXTERNAL_ENTITY):
            return Reply(200, self.hostile_body(fault.kind), reply.content_type), self.key
        if fault.kind is FaultKind.DEEP_JSON:
            return Reply(reply.status, b"[" * fault.depth + b"]" * fault.depth, reply.content_type), self.key
        if fault.kind is FaultKind.TAMPERED:
            changed = tamper(
                reply.body, element=fault.element, namespace=fault.namespace, texts=dict(fault.texts)
            )
            return Reply(reply.status, changed, reply.content_type), self.key
        if fault.kind is FaultKind.WRONG_KEY:
            return reply, self._stray_key
        if fault.kind is FaultKind.UNSIGNED:
            return reply, None
        if fault.kind is FaultKind.OVERSIZED:
            return Reply(reply.status, reply.body + b" " * fault.size, reply.content_type), self.key
        return reply, self.key

    def hostile_body(self, kind: FaultKind) -> bytes:
        """Hostile XML (served whatever the wire format: a REST client must refuse it as JSON, too)."""
        return billion_laughs() if kind is FaultKind.BILLION_LAUGHS else external_entity()

    def _respond(
        self, request: web.Request, signed: tuple[Reply, certs.SM2PrivateKey | None]
    ) -> web.Response:
        reply, key = signed
        headers = dict(reply.headers)
        nonce = request.headers.get("X-GW-Nonce", "")
        if key is not None and nonce:
            headers.update(certs.sign_response(key, reply.status, nonce, reply.body, party=self.code))
        headers["Content-Type"] = reply.content_type
        return web.Response(status=reply.status, body=reply.body, headers=headers)
