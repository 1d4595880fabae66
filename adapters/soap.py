"""SOAP transport for party adapters: zeep over the adapter's signed aiohttp client, WSDL parsed once.

Signing (the documented choice): a SOAP request carries the same X-GW-* headers as REST (Appendix A),
computed over the exact HTTP body bytes (the whole envelope); the party signs its reply the same way
(status, our nonce, its timestamp, nonce and code, SM3 of the exact reply bytes). So one verifier serves
both transports and no XML canonicalisation is needed. A reply is verified BEFORE zeep parses it, and a
reply with a DOCTYPE is refused before any parser sees it (SOAP 1.1 §3 and 1.2 forbid a DTD); zeep's own
`forbid_dtd`/`forbid_entities` stay on as the second line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import lxml.etree
import zeep
import zeep.exceptions
import zeep.helpers
import zeep.proxy
import zeep.transports
from multidict import CIMultiDictProxy
from zeep.wsdl.utils import etree_to_string

import certs
from adapters.base import AdapterContext, GatewayIdentity, SoapSettings, load_party_key
from adapters.errors import FaultHook, HostileXml, UnexpectedStatus, parse_retry_after
from adapters.http import SignedHttpClient
from adapters.retry import RetryPolicy, call_party
from adapters.soap_reply import ReplyContract
from gateway.errors import ConfigError, PartyError

T = TypeVar("T")

# UTF-8 and both UTF-16 byte orders; other encodings still meet zeep's forbid_dtd after parsing.
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


def hardened_zeep_settings() -> zeep.Settings:
    """zeep parse settings for party replies (reliability.md A8): no DTD, no entities, no fetches."""
    return zeep.Settings(
        strict=True,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
        xml_huge_tree=False,
    )


def refuse_doctype(body: bytes) -> None:
    if any(marker in body for marker in _DOCTYPE_MARKERS):
        raise HostileXml("DOCTYPE in a SOAP message")


@dataclass
class ZeepReply:
    """The subset of requests.Response that zeep's reply processing reads."""

    status_code: int
    content: bytes
    headers: CIMultiDictProxy[str]
    encoding: str | None = field(default=None)


class AiohttpZeepTransport(zeep.transports.Transport):
    """A zeep transport over the adapter's signed aiohttp client; it loads only the shipped WSDL files."""

    def __init__(self, http: SignedHttpClient, wsdl_dir: Path, contract: ReplyContract | None = None) -> None:
        # Transport.__init__ is skipped on purpose: it builds a requests.Session this transport never uses.
        self.contract = contract  # set once the WSDL is parsed: what each operation must answer
        self.cache = None
        self.load_timeout = None
        self.operation_timeout = None
        self._close_session = False
        self._http = http
        self._wsdl_dir = wsdl_dir.resolve()
        self.logger = logging.getLogger(__name__)

    def load(self, url: str) -> bytes:
        """WSDL and XSD come from the adapter's own package directory, never from the network."""
        path = Path(url).resolve()
        if not path.is_relative_to(self._wsdl_dir):
            raise zeep.exceptions.ExternalReferenceForbidden(url)  # type: ignore[no-untyped-call]
        return path.read_bytes()

    async def post_xml(self, address: str, envelope: Any, headers: Mapping[str, str]) -> ZeepReply:
        message: bytes = etree_to_string(envelope)  # type: ignore[no-untyped-call]
        reply = await self.post(address, message, headers)
        if self.contract is not None:
            self.contract.check(envelope, reply.content)  # before zeep reads it, which is lenient
        return reply

    async def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> ZeepReply:
        reply = await self._http.exchange("POST", address, message, headers)
        if reply.status not in (200, 500):  # SOAP answers 200, or 500 with a fault; anything else is not SOAP
            raise UnexpectedStatus(reply.status, parse_retry_after(reply.headers))
        refuse_doctype(reply.body)
        return ZeepReply(reply.status, reply.body, reply.headers)

    async def get(self, address: str, params: Any, headers: Mapping[str, str]) -> ZeepReply:
        raise NotImplementedError("HTTP GET bindings are not used by the party WSDLs")


class SoapClient:
    """One party's SOAP service: the shipped WSDL parsed once in `start()`, every call bounded in time."""

    def __init__(
        self,
        party: str,
        settings: SoapSettings,
        wsdl: Path,
        binding: str,
        party_key: certs.PartyKey,
        identity: GatewayIdentity,
        fault_hook: FaultHook | None = None,
    ) -> None:
        self.party = party
        self._settings = settings
        self._wsdl = wsdl
        self._binding = binding  # "{namespace}BindingName": the endpoint comes from settings, not the WSDL
        self._http = SignedHttpClient(party, party_key, identity, settings)
        self._policy = RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_backoff_seconds,
            max_wait=settings.max_retry_wait_seconds,
        )
        self._fault_hook = fault_hook
        self._service: Any = None

    async def start(self) -> None:
        await self._http.start()
        if self._service is None:
            # Parsing reads a local file and builds zeep's type tables: done once, off the event loop.
            try:
                self._service = await asyncio.to_thread(self._build_service)
            except (OSError, KeyError, ValueError, zeep.exceptions.Error, lxml.etree.LxmlError) as exc:
                await self._http.close()
                raise ConfigError(
                    f"{self.party}: cannot load {self._wsdl.name} / {self._binding}: {exc!r}",
                    f"{self.party}：无法加载 WSDL {self._wsdl.name}：{exc!r}",
                ) from exc

    def _build_service(self) -> Any:
        transport = AiohttpZeepTransport(self._http, self._wsdl.parent)
        client = zeep.AsyncClient(  # type: ignore[no-untyped-call]  # zeep's annotations are partial
            str(self._wsdl), transport=transport, settings=hardened_zeep_settings()
        )
        binding = client.wsdl.bindings[self._binding]
        operations = {
            name: (operation.input.body.qname.text, operation.output.body.qname.text)
            for name, operation in binding._operations.items()
        }
        transport.contract = ReplyContract.from_wsdl(self._wsdl, operations)
        # AsyncClient.create_service returns a synchronous proxy (python-zeep#1168, still open): build the
        # async one directly so the endpoint can come from configuration.
        return zeep.proxy.AsyncServiceProxy(  # type: ignore[no-untyped-call]
            client, binding, address=str(self._settings.endpoint)
        )

    async def close(self) -> None:
        await self._http.close()

    async def call(
        self, operation: str, parse: Callable[[dict[str, Any]], T], *, idempotent: bool, **wire: Any
    ) -> T:
        """Call one WSDL operation with wire-named arguments; `parse` turns the reply (plain dicts) into the
        result inside the attempt, so a "busy" result code it raises as PartyUnavailable is retried too."""
        if self._service is None:
            raise RuntimeError(f"{self.party}: adapter used before start()")
        proxy = self._service[operation]

        async def attempt() -> T:
            result = await proxy(**wire)
            plain = zeep.helpers.serialize_object(result, dict)  # type: ignore[no-untyped-call]
            if not isinstance(plain, dict):
                raise zeep.exceptions.ValidationError(  # type: ignore[no-untyped-call]
                    f"{operation}: reply is not a structure"
                )
            return parse(plain)

        return await call_party(
            self.party,
            attempt,
            attempt_timeout=self._settings.timeout_seconds,
            idempotent=idempotent,
            policy=self._policy,
            fault_hook=self._fault_hook,
        )


class SoapPartyAdapter:
    """Base of a SOAP party adapter: a subclass names its shipped WSDL and binding, and maps its wire."""

    WSDL: ClassVar[Path]
    BINDING: ClassVar[str]  # "{namespace}BindingName"
    Settings: ClassVar[type[SoapSettings]] = SoapSettings
    PARTY_KIND: ClassVar[str] = "bank"  # the kind the party's certificate must carry

    def __init__(self, party: str, settings: SoapSettings, context: AdapterContext) -> None:
        self._party = party
        self.settings = settings
        self.client = SoapClient(
            party,
            settings,
            self.WSDL,
            self.BINDING,
            load_party_key(party, settings, context, kind=self.PARTY_KIND),
            context.identity,
            self.fault_hook,
        )

    @property
    def party(self) -> str:
        return self._party

    def fault_hook(self, code: str, message: str) -> PartyError | None:
        """Give a SOAP fault of this wire format a meaning; None leaves it a PartyProtocolError."""
        return None

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()
