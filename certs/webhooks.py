"""Outbound delivery signatures in the Standard Webhooks header shape, with SM2 ("v1sm2") signatures."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import re
import time
from collections.abc import Mapping, Sequence

from certs.async_ops import crypto_executor
from certs.keys import SM2PrivateKey, SM2PublicKey
from gateway.errors import BadSignature, InvalidRequestSignature, StaleTimestamp

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
VERSION = "v1sm2"  # a private label: the spec's v1 is HMAC-SHA256 and v1a ed25519
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")  # no "." (the content separator), no spaces
_MAX_SIGNATURES = 8  # a rotation needs two; more is an attempt to make us verify many


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """`id.timestamp.body` over the exact bytes sent."""
    return f"{msg_id}.{timestamp}.".encode() + body


def sign_webhook(
    key: SM2PrivateKey | Sequence[SM2PrivateKey], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three webhook-* headers. Several keys (old and new, during a rotation) give several signatures."""
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise ValueError("a webhook id is 1–128 characters of [A-Za-z0-9_:-]")
    keys = [key] if isinstance(key, SM2PrivateKey) else list(key)
    content = signed_content(msg_id, timestamp, body)
    signatures = " ".join(f"{VERSION},{base64.b64encode(k.sign(content)).decode()}" for k in keys)
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(timestamp), HEADER_SIGNATURE: signatures}


def _invalid(reason_en: str, reason_zh: str) -> InvalidRequestSignature:
    return InvalidRequestSignature(f"webhook rejected: {reason_en}", f"回调被拒绝：{reason_zh}")


def verify_webhook(
    public_keys: Sequence[SM2PublicKey],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> str:
    """The webhook-id when one v1sm2 signature verifies with one of `public_keys` (a trust list, never a
    key named by the request). Raises StaleTimestamp or InvalidRequestSignature. Dedupe on the id."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    msg_id = lowered.get(HEADER_ID, "")
    timestamp = lowered.get(HEADER_TIMESTAMP, "")
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise _invalid("missing or malformed webhook-id", "webhook-id 缺失或格式错误")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise _invalid("missing or malformed webhook-timestamp", "webhook-timestamp 缺失或格式错误")
    drift = abs((time.time() if now is None else now) - int(timestamp))
    if drift > tolerance_seconds:
        raise StaleTimestamp(
            f"webhook-timestamp is {drift:.0f} s away (limit {tolerance_seconds} s)",
            f"webhook-timestamp 相差 {drift:.0f} 秒（上限 {tolerance_seconds} 秒）",
        )
    candidates = []
    for entry in lowered.get(HEADER_SIGNATURE, "").split()[:_MAX_SIGNATURES]:
        version, _, value = entry.partition(",")
        if version != VERSION:
            continue  # other schemes (v1 HMAC, v1a ed25519) are not ours to check
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except binascii.Error:
            continue
    content = signed_content(msg_id, int(timestamp), body)
    for signature in candidates:
        for public_key in public_keys:
            try:
                public_key.verify(signature, content)
            except BadSignature:
                continue
            return msg_id
    raise _invalid("no v1sm2 signature verifies with a trusted key", "没有可用受信公钥验证通过的 v1sm2 签名")


async def verify_webhook_async(
    public_keys: Sequence[SM2PublicKey],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> str:
    """`verify_webhook` in the crypto pool, for receivers running in an event loop."""
    call = functools.partial(
        verify_webhook, public_keys, headers, body, tolerance_seconds=tolerance_seconds, now=now
    )
    return await asyncio.get_running_loop().run_in_executor(crypto_executor(), call)
