"""Verify a distributed certificate offline against the registry's certificates (the format: signing.py).

A right lasts up to 70 years; a registry certificate about two. So the verifier trusts every registry
certificate the registry has signed with (its history, `gateway keys rotate-registry`), picks the one the
file names as its signer, and checks the signature with it and that it was valid on the day the signed PDF
says it was issued (its /CreationDate) — not today.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import certs
from gateway.errors import BadSignature, GatewayError

from .embedding import attach_signature_blob, read_signature_blob
from .ofd_package import is_ofd, read_doc_info, split_ofd_signature
from .signing import BLOB_FORMAT

_BLOB_FIELDS = ("identifier", "number", "signed_length", "sm3", "signature", "signer_certificate")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


@dataclass(frozen=True)
class VerifyResult:
    """A certificate whose signature holds: what it is and who signed it."""

    identifier: str
    number: str
    sm3_hex: str  # of the signed bytes
    signed_length: int
    signer_party_code: str
    signer_fingerprint: str  # SM3 of the signer certificate's DER
    signer_serial: str = ""  # hex, as `gw-certs list` prints it
    signed_on: str = ""  # ISO date the signed PDF was issued on, within the signer certificate's validity
    format: str = "pdf"  # pdf / ofd


# The issue date in a certificate's PDF is the registry's local day (render.py writes it with +08'00').
_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})(\d{2})\d{6}([+-])(\d{2})'(\d{2})'")


def verify_file(
    data: bytes,
    trusted_registry_cert: certs.Certificate | Iterable[certs.Certificate],
    *,
    ca: certs.Certificate | None = None,
) -> VerifyResult:
    """Check a distributed certificate file (PDF or OFD); raise `BadSignature` naming the first failure.

    `trusted_registry_cert` is the registry certificate, or every one the registry has used (current first).
    With `ca` (the gateway CA's certificate), a registry certificate the file names is also trusted when
    that CA issued it for the registry — so the CA alone verifies files of every registry key.
    """
    trusted = (
        [trusted_registry_cert]
        if isinstance(trusted_registry_cert, certs.Certificate)
        else list(trusted_registry_cert)
    )
    if ca is not None:
        trusted = [*trusted, *_issued_by(ca, data)]
    if is_ofd(data):
        return _verify_ofd(data, trusted)
    blob_bytes = read_signature_blob(data)
    blob = _parse_blob(blob_bytes)
    length = blob["signed_length"]
    if not 0 < length < len(data):
        raise _bad(
            f"the signed length {length} does not fit a file of {len(data)} bytes",
            f"签名范围{length}字节与文件长度{len(data)}字节不符",
        )
    signed = data[:length]
    signer, registry_cert, actual = _check_signature(blob, signed, trusted)
    signed_on = _check_signed_while_valid(_info_string(signed, "CreationDate") or "", registry_cert)
    _check_bound(_info_string(signed, "Subject"), blob["identifier"], "identifier", "证照标识")
    _check_bound(_info_string(signed, "Keywords"), blob["number"], "number", "证号")
    if attach_signature_blob(signed, blob_bytes) != data:
        raise _bad(
            "bytes were added or changed after the signed range (the file was edited or re-saved)",
            "签名范围之后的内容被追加或改动（文件被编辑或另存）",
        )
    return _result(blob, actual, signer, signed_on, "pdf")


def _verify_ofd(data: bytes, trusted: list[certs.Certificate]) -> VerifyResult:
    """The OFD form: the signed package is the file with its archive comment (signature.json) removed."""
    signed, blob_bytes = split_ofd_signature(data)
    blob = _parse_blob(blob_bytes)
    if blob["signed_length"] != len(signed):
        raise _bad(
            f"the signed length {blob['signed_length']} is not the package's {len(signed)} bytes",
            "签名范围与OFD文件长度不符",
        )
    signer, registry_cert, actual = _check_signature(blob, signed, trusted)
    info = read_doc_info(signed)
    day = (info.creation_date or "").replace("-", "")
    signed_on = _check_signed_while_valid(f"D:{day}000000+08'00'", registry_cert)
    _check_bound(info.identifier, blob["identifier"], "identifier", "证照标识")
    _check_bound(info.number, blob["number"], "number", "证号")
    return _result(blob, actual, signer, signed_on, "ofd")


def _issued_by(ca: certs.Certificate, data: bytes) -> list[certs.Certificate]:
    """The file's named signer, when `ca` issued it as a registry certificate; else nothing."""
    try:
        blob = _parse_blob(split_ofd_signature(data)[1] if is_ofd(data) else read_signature_blob(data))
        signer = certs.Certificate.from_pem(blob["signer_certificate"].encode("ascii"))
        certs.TrustAnchor(ca).check_chain(signer)
    except (GatewayError, ValueError, UnicodeEncodeError):
        return []  # the checks that follow name what is wrong
    return [signer] if signer.party_kind == "registry" else []


def _result(
    blob: dict[str, Any], actual: str, signer: certs.Certificate, signed_on: date, file_format: str
) -> VerifyResult:
    return VerifyResult(
        identifier=blob["identifier"],
        number=blob["number"],
        sm3_hex=actual,
        signed_length=blob["signed_length"],
        signer_party_code=signer.party_code,
        signer_fingerprint=signer.fingerprint,
        signer_serial=format(signer.serial, "X"),
        signed_on=signed_on.isoformat(),
        format=file_format,
    )


def _check_signature(
    blob: dict[str, Any], signed: bytes, trusted: list[certs.Certificate]
) -> tuple[certs.Certificate, certs.Certificate, str]:
    """(the signer named by the file, the trusted certificate that verified it, SM3 of the signed bytes)."""
    actual = certs.sm3_hex(signed)
    if actual != blob["sm3"]:
        raise _bad(
            f"the certificate was changed after signing: its SM3 is {actual}, the signed SM3 is {blob['sm3']}",
            "证照内容在签名后被改动：SM3摘要与签名时不一致",
        )
    try:
        signer = certs.Certificate.from_pem(blob["signer_certificate"].encode("ascii"))
    except (GatewayError, ValueError, UnicodeEncodeError) as exc:
        raise _bad("the embedded signer certificate cannot be read", "内嵌的签名证书无法解析") from exc
    # The embedded certificate only names the signer (serial and issuer); the key that checks the signature
    # is the trusted copy, so a file cannot bring its own.
    known = [c for c in trusted if c.serial == signer.serial and c.issuer_der == signer.issuer_der]
    if not known or known[0].fingerprint != signer.fingerprint:
        raise _bad(
            f"signed by {signer.party_code!r} (certificate {signer.serial:X}, {signer.fingerprint[:16]}…), "
            "not by the trusted registry certificate or one it replaced",
            f"签名者为“{signer.party_code}”（证书 {signer.serial:X}），不是受信任的登记机构证书",
        )
    registry_cert = known[0]
    try:
        registry_cert.public_key.verify(blob["signature"], signed)
    except BadSignature as exc:
        raise _bad(
            "the SM2 signature does not verify with the registry's public key",
            "SM2签名无法用登记机构公钥验证通过",
        ) from exc
    return signer, registry_cert, actual


def _check_signed_while_valid(creation_date: str, registry_cert: certs.Certificate) -> date:
    """The issue date in the signed PDF, which must lie within the signing certificate's validity.

    Days in the PDF's own time zone: the PDF records the day only, so the certificate counts as valid on a
    day it was valid at any moment of.
    """
    found = _PDF_DATE.fullmatch(creation_date)
    if found is None:
        raise _bad("the signed file carries no issue date", "已签名文件中没有签发日期")
    year, month, day, sign, hours, minutes = found.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (1 if sign == "+" else -1)
    try:
        issued_on = date(int(year), int(month), int(day))
        zone = timezone(offset)
    except ValueError as exc:
        raise _bad("the signed PDF's issue date is not a date", "已签名PDF中的签发日期无效") from exc
    first, last = (_local_day(moment, zone) for moment in (registry_cert.not_before, registry_cert.not_after))
    if not first <= issued_on <= last:
        raise _bad(
            f"issued on {issued_on.isoformat()}, when the registry certificate {registry_cert.serial:X} "
            f"(valid {first.isoformat()} – {last.isoformat()}) was not valid",
            f"签发日期{issued_on.isoformat()}不在登记机构证书 {registry_cert.serial:X} 的有效期"
            f"（{first.isoformat()}至{last.isoformat()}）内",
        )
    return issued_on


def _local_day(moment: datetime, zone: timezone) -> date:
    return moment.astimezone(zone).date()


def verify_detached(pdf: bytes, signature: bytes, trusted_registry_cert: certs.Certificate) -> str:
    """Check the signed bytes against a detached signature (from the record); return their SM3 hex."""
    try:
        trusted_registry_cert.public_key.verify(signature, pdf)
    except BadSignature as exc:
        raise _bad(
            "the SM2 signature does not verify: the file is not the one the registry signed",
            "SM2签名验证失败：该文件不是登记机构所签发的原件",
        ) from exc
    return certs.sm3_hex(pdf)


def _bad(reason_en: str, reason_zh: str) -> BadSignature:
    return BadSignature(f"certificate verification failed: {reason_en}", f"电子证照验证未通过：{reason_zh}")


def _parse_blob(blob_bytes: bytes) -> dict[str, Any]:
    try:
        blob = json.loads(blob_bytes)
        if not isinstance(blob, dict) or blob.get("format") != BLOB_FORMAT:
            raise ValueError(f"format is not {BLOB_FORMAT}")
        missing = [field for field in _BLOB_FIELDS if field not in blob]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not isinstance(blob["signed_length"], int) or not all(
            isinstance(blob[field], str) for field in _BLOB_FIELDS if field != "signed_length"
        ):
            raise ValueError("a field has the wrong type")
        blob["signature"] = base64.b64decode(blob["signature"], validate=True)
    except (ValueError, binascii.Error) as exc:  # JSONDecodeError is a ValueError
        raise _bad(f"the embedded signature.json is malformed ({exc})", "内嵌的签名数据格式错误") from exc
    return blob


def _check_bound(found: str | None, expected: str, what_en: str, what_zh: str) -> None:
    """The blob is outside the signature; tie it to the signed bytes through the document's own info."""
    if found != expected:
        raise _bad(
            f"the embedded {what_en} {expected!r} is not the one in the signed file ({found!r})",
            f"内嵌签名数据中的{what_zh}与已签名文件中的不一致",
        )


def _info_string(pdf: bytes, key: str) -> str | None:
    """Read a literal string entry such as `/Subject (...)` from the last document-info dictionary."""
    start = pdf.rfind(b"/" + key.encode() + b" (")
    if start < 0:
        return None
    i = pdf.index(b"(", start) + 1
    out = bytearray()
    depth = 1
    while i < len(pdf):
        ch = pdf[i : i + 1]
        if ch == b"\\":
            nxt = pdf[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", pdf[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        if ch == b"(":
            depth += 1
        elif ch == b")":
            depth -= 1
            if depth == 0:
                break
        out += ch
        i += 1
    raw = bytes(out)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", errors="replace")
    return raw.decode("latin-1")
