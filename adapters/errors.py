"""The one place where a party's HTTP, timeout, XML, SOAP and signature errors become gateway errors.

```
raised inside `with map_party_errors(party)`      → gateway error
────────────────────────────────────────────────────────────────────────────────────
TimeoutError (asyncio or aiohttp)                 → PartyUnavailable  code "timeout"
aiohttp.ClientConnectionError / ClientPayloadError→ PartyUnavailable  code "connect"
UnexpectedStatus 410 (any wire format)            → PartyProtocolError code "410": the endpoint is retired
UnexpectedStatus 429 / 5xx                        → PartyUnavailable  code "http_<status>", retry_after
UnexpectedStatus other                            → PartyProtocolError code "http_<status>"
ResponseTooLarge                                  → PartyProtocolError code "response_too_large"
gateway.errors.CryptoError (bad/missing signature)→ PartyProtocolError code "bad_signature"
zeep DTDForbidden / EntitiesForbidden / External… → PartyProtocolError code "hostile_xml"
zeep Fault (no business mapping)                  → PartyProtocolError code "fault:<faultcode>"
InvalidSoapReply (wrong element, schema-invalid)  → PartyProtocolError code "bad_xml", with the diagnosis
zeep / lxml XML errors, zeep validation, a
decimal.InvalidOperation out of zeep              → PartyProtocolError code "bad_xml", with zeep's message
JsonTooDeep (nesting beyond 64 levels)            → PartyProtocolError code "json_too_deep"
JSON and pydantic validation errors               → PartyProtocolError code "bad_response", naming the fields
PartyError raised by the adapter itself           → passed through unchanged
```
Business refusals are not exceptions of a library: each adapter reads the party's own result code and
raises PartyRejected itself. Messages never quote the party's body wholesale (a hostile reply must not reach
a log); a parser's diagnosis — which element, which value broke the contract — is kept, cleaned of control
characters and cut at DIAGNOSIS_CHARS, because it is what an integrator reads on the outbox row to fix it.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import lxml.etree
import pydantic
import zeep.exceptions

from gateway.errors import CryptoError, PartyError, PartyProtocolError, PartyUnavailable
from gateway.jsondepth import JsonTooDeep


class UnexpectedStatus(Exception):
    """A party answered with an HTTP status its wire format does not use for results."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class ResponseTooLarge(Exception):
    """A party's response exceeded the adapter's size cap (read no further than the cap)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response larger than {limit} bytes")
        self.limit = limit


class InvalidSoapReply(Exception):
    """A SOAP reply that is not the WSDL's answer to the operation called (element, namespace, schema)."""


class HostileXml(Exception):
    """A party's XML carries a DOCTYPE (SOAP forbids one): refused before any parser sees it."""


# A wire format may give some SOAP faults a meaning (e.g. "server busy" → PartyUnavailable): the hook gets
# the fault code and message and returns the gateway error to raise, or None for "unmapped".
FaultHook = Callable[[str, str], PartyError | None]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# 410 Gone: the endpoint is retired. Signed or not, in every wire format, the delivery stops at once (the runner
# dead-letters a PartyError whose code is "410") rather than retrying for days (Standard Webhooks, README).
GONE_STATUS = 410


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


DIAGNOSIS_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _one_line(text: str) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= DIAGNOSIS_CHARS else text[: DIAGNOSIS_CHARS - 1] + "…"


def diagnosis(exc: BaseException) -> str:
    """The exception's class and message, on one line, at most DIAGNOSIS_CHARS characters."""
    text = str(exc)
    return _one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _protocol(party: str, code: str, en: str, zh: str) -> PartyProtocolError:
    return PartyProtocolError(party, code, en, message_zh=f"{party}：{zh}（{code}）")


@contextmanager
def map_party_errors(party: str, fault_hook: FaultHook | None = None) -> Iterator[None]:
    """Translate whatever a party's transport raised into the gateway's error tree (see the table above)."""
    try:
        yield
    except PartyError:
        raise
    except TimeoutError as exc:
        raise PartyUnavailable(
            party, "timeout", "no answer in time", message_zh=f"{party}：响应超时（timeout）"
        ) from exc
    except UnexpectedStatus as exc:
        if exc.status == GONE_STATUS:
            raise PartyProtocolError(
                party, "410", "the endpoint is gone", message_zh=f"{party}：接收地址已停用（410）"
            ) from exc
        code = f"http_{exc.status}"
        if exc.status in RETRYABLE_STATUSES:
            raise PartyUnavailable(
                party,
                code,
                f"HTTP {exc.status}",
                message_zh=f"{party}：系统暂不可用（HTTP {exc.status}）",
                retry_after=exc.retry_after,
            ) from exc
        raise _protocol(
            party, code, f"unexpected HTTP {exc.status}", f"意外的 HTTP 状态 {exc.status}"
        ) from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
        raise PartyUnavailable(
            party, "connect", type(exc).__name__, message_zh=f"{party}：无法连接（connect）"
        ) from exc
    except ResponseTooLarge as exc:
        raise _protocol(
            party, "response_too_large", f"response over {exc.limit} bytes", f"响应超过 {exc.limit} 字节"
        ) from exc
    except CryptoError as exc:
        raise _protocol(party, "bad_signature", exc.message_en, "响应签名无效或缺失") from exc
    except (
        HostileXml,
        zeep.exceptions.DTDForbidden,
        zeep.exceptions.EntitiesForbidden,
        zeep.exceptions.ExternalReferenceForbidden,
    ) as exc:
        raise _protocol(
            party, "hostile_xml", "XML with a DTD or entities refused", "拒绝含 DTD/实体的 XML"
        ) from exc
    except zeep.exceptions.Fault as exc:
        mapped = fault_hook(str(exc.code or ""), str(exc.message or "")) if fault_hook else None
        if mapped is not None:
            raise mapped from exc
        raise _protocol(party, f"fault:{exc.code}", "unmapped SOAP fault", "未映射的 SOAP Fault") from exc
    except InvalidSoapReply as exc:
        raise _protocol(
            party, "bad_xml", str(diagnosis(exc)), f"XML 响应不符合 WSDL：{diagnosis(exc)}"
        ) from exc
    except (zeep.exceptions.Error, lxml.etree.LxmlError, decimal.InvalidOperation) as exc:
        # zeep's XMLSyntaxError, ValidationError, TransportError…: the reply is not the WSDL's promise.
        raise _protocol(party, "bad_xml", diagnosis(exc), f"XML 响应不符合约定：{diagnosis(exc)}") from exc
    except JsonTooDeep as exc:
        raise _protocol(party, "json_too_deep", str(exc), f"JSON 嵌套超过 {exc.limit} 层") from exc
    except pydantic.ValidationError as exc:
        # Which fields, and why, without the values (they are the party's text).
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(reply)'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)[:3]
        )
        found = _one_line(fields)
        raise _protocol(party, "bad_response", found, f"响应内容不符合约定：{found}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _protocol(party, "bad_response", diagnosis(exc), "响应内容不符合约定") from exc
