"""Signed requests and responses between the gateway and its participants (DESIGN.md Appendix A)."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Callable, Mapping

from certs.async_ops import INLINE_MAX_BYTES, verify_async
from certs.curve import DEFAULT_SIGNER_ID
from certs.hashing import sm3_hex
from certs.keys import SM2PrivateKey, SM2PublicKey
from certs.nonces import MemoryNonceStore, NonceStore, RedisNonceStore
from certs.trust import CATrustStore, Participant, TrustStore
from certs.x509 import PARTY_CODE
from gateway.errors import BadSignature, InvalidRequestSignature, ReplayedNonce, StaleTimestamp

__all__ = [
    "HEADER_NONCE",
    "HEADER_PARTY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "CATrustStore",
    "MemoryNonceStore",
    "NonceStore",
    "Participant",
    "RedisNonceStore",
    "RequestVerifier",
    "TrustStore",
    "canonical_request",
    "new_nonce",
    "sign_request",
    "sign_response",
    "verify_response",
]

HEADER_PARTY = "X-GW-Party"
HEADER_TIMESTAMP = "X-GW-Timestamp"
HEADER_NONCE = "X-GW-Nonce"
HEADER_SIGNATURE = "X-GW-Signature"
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_METHOD = re.compile(r"[A-Z]{1,16}|[0-9]{3}")  # an HTTP method, or a status code for responses
_MAX_SIGNATURE_B64 = 100  # a DER SM2 signature is at most 72 bytes = 96 base64 characters


def new_nonce() -> str:
    """32 characters of [A-Za-z0-9_-] from the OS CSPRNG."""
    return secrets.token_urlsafe(24)


def canonical_request(
    method: str, path_qs: str, timestamp: int, nonce: str, party: str, body: bytes
) -> bytes:
    """The six lines signed (UTF-8, joined by \\n, no trailing newline)."""
    lines = (method.upper(), path_qs, str(timestamp), nonce, party, sm3_hex(body))
    return "\n".join(lines).encode()


def _check_outgoing(party: str, nonce: str, path_qs: str) -> None:
    if not PARTY_CODE.fullmatch(party):
        raise ValueError(f"invalid participant code {party!r}")
    if not NONCE.fullmatch(nonce):
        raise ValueError("a nonce is 16–64 characters of [A-Za-z0-9_-]")
    if "\n" in path_qs:
        raise ValueError("the path may not contain a newline")


def sign_request(
    key: SM2PrivateKey,
    party: str,
    method: str,
    path_qs: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> dict[str, str]:
    """The four X-GW-* headers for a request from `party` (path and query exactly as sent)."""
    nonce = nonce if nonce is not None else new_nonce()
    timestamp = timestamp if timestamp is not None else int(time.time())
    _check_outgoing(party, nonce, path_qs)
    signature = key.sign(canonical_request(method, path_qs, timestamp, nonce, party, body), signer_id)
    return {
        HEADER_PARTY: party,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def _invalid(reason_en: str, reason_zh: str) -> InvalidRequestSignature:
    return InvalidRequestSignature(f"request signature rejected: {reason_en}", f"请求签名被拒绝：{reason_zh}")


def _signed_headers(headers: Mapping[str, str]) -> tuple[str, int, str, bytes]:
    """(party, timestamp, nonce, signature) from case-insensitive headers, each checked for shape."""
    wanted = {name.lower(): name for name in (HEADER_PARTY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)}
    found: dict[str, str] = {}
    for name, value in headers.items():
        canonical = wanted.get(name.lower())
        if canonical is None:
            continue
        if canonical in found and found[canonical] != value:
            raise _invalid(f"header {canonical} appears twice", f"请求头 {canonical} 重复出现")
        found[canonical] = value.strip()
    missing = [name for name in wanted.values() if name not in found]
    if missing:
        raise _invalid(f"missing header {', '.join(missing)}", f"缺少请求头 {'、'.join(missing)}")
    party, timestamp, nonce, signature_b64 = (
        found[HEADER_PARTY],
        found[HEADER_TIMESTAMP],
        found[HEADER_NONCE],
        found[HEADER_SIGNATURE],
    )
    if not PARTY_CODE.fullmatch(party):
        raise _invalid(f"malformed {HEADER_PARTY}", f"{HEADER_PARTY} 格式错误")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise _invalid(f"{HEADER_TIMESTAMP} must be Unix seconds", f"{HEADER_TIMESTAMP} 须为 Unix 秒数")
    if not NONCE.fullmatch(nonce):
        raise _invalid(
            f"{HEADER_NONCE} must be 16–64 characters of [A-Za-z0-9_-]",
            f"{HEADER_NONCE} 须为 16–64 位 [A-Za-z0-9_-]",
        )
    try:
        if len(signature_b64) > _MAX_SIGNATURE_B64:
            raise ValueError(signature_b64[:8])
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"{HEADER_SIGNATURE} is not base64", f"{HEADER_SIGNATURE} 不是 base64") from exc
    return party, int(timestamp), nonce, signature


class RequestVerifier:
    """Authenticates a signed request and returns its participant, or raises a precise 401 error.

    Order: header shape, clock skew, participant and certificate, signature, and only then the nonce, so
    a forged request cannot use up a legitimate party's nonce.
    """

    def __init__(
        self,
        trust: TrustStore,
        nonces: NonceStore,
        *,
        skew_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._trust = trust
        self._nonces = nonces
        self._skew = skew_seconds
        self._clock = clock

    async def verify(self, method: str, path_qs: str, headers: Mapping[str, str], body: bytes) -> Participant:
        party, timestamp, nonce, signature = _signed_headers(headers)
        if not _METHOD.fullmatch(method.upper()):
            raise _invalid("malformed method", "请求方法格式错误")
        drift = abs(self._clock() - timestamp)
        if drift > self._skew:
            raise StaleTimestamp(
                f"{HEADER_TIMESTAMP} is {drift:.0f} s away from the gateway clock (limit {self._skew} s)",
                f"{HEADER_TIMESTAMP} 与网关时钟相差 {drift:.0f} 秒（上限 {self._skew} 秒）",
            )
        participant = self._trust.participant(party)
        message = canonical_request(method, path_qs, timestamp, nonce, party, body)
        key = participant.certificate.public_key
        try:
            if len(message) <= INLINE_MAX_BYTES:
                # ~0.3 ms of SM2 in place: the hop to the crypto pool and back costs about as much CPU again
                # (thread wake-up, the loop's self-pipe), and a process per core leaves no idle core for it.
                key.verify(signature, message, participant.signer_id)
            else:  # a large upload: SM3 over megabytes would hold the event loop up
                await verify_async(key, signature, message, participant.signer_id)
        except BadSignature as exc:
            raise _invalid(
                "the SM2 signature does not match the request and the participant's certificate",
                "SM2 签名与请求内容或参与方证书不符",
            ) from exc
        # Remember the nonce for twice the window: a timestamp up to `skew` ahead stays acceptable
        # until `skew` after it.
        if not await self._nonces.claim(party, nonce, 2 * self._skew):
            raise ReplayedNonce(
                f"{HEADER_NONCE} was already used by {party}", f"{party} 的 {HEADER_NONCE} 已被使用过（重放）"
            )
        return participant


def sign_response(
    key: SM2PrivateKey,
    status: int,
    request_nonce: str,
    body: bytes,
    *,
    party: str = "registry",
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers proving what the gateway answered: the six lines with the status for the method and the
    request's nonce for the path, a fresh timestamp and nonce."""
    nonce = new_nonce()
    timestamp = timestamp if timestamp is not None else int(time.time())
    _check_outgoing(party, nonce, request_nonce)
    signature = key.sign(canonical_request(str(status), request_nonce, timestamp, nonce, party, body))
    return {
        HEADER_PARTY: party,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def verify_response(
    public_key: SM2PublicKey,
    status: int,
    request_nonce: str,
    headers: Mapping[str, str],
    body: bytes,
    signer_id: bytes = DEFAULT_SIGNER_ID,
) -> None:
    """Raise BadSignature unless the response headers sign (status, request nonce, body) with `public_key`.

    No clock check: a stored response stays provable later.
    """
    try:
        party, timestamp, nonce, signature = _signed_headers(headers)
    except InvalidRequestSignature as exc:
        raise BadSignature(f"response signature: {exc.message_en}", f"响应签名：{exc.message_zh}") from exc
    message = canonical_request(str(status), request_nonce, timestamp, nonce, party, body)
    public_key.verify(signature, message, signer_id)
