"""Public certificate verification API (/public/api/v1/, no sign-in): JSON look-ups, the file upload check.

The QR code's page and the upload form are pages: gateway.web.public."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Sequence
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import certs
from certs.async_ops import crypto_executor
from e_license import VerifyResult, verify_file
from gateway.api.clients import client_address
from gateway.api.keys import API, CONTAINER
from gateway.api.lookup_limit import PUBLIC_LOOKUP_FAILURES, PUBLIC_LOOKUP_WINDOW
from gateway.api.multipart import is_multipart, parse_multipart
from gateway.api.routing import PUBLIC, endpoint, json_response, read_body, read_query
from gateway.db import Database
from gateway.errors import (
    BadSignature,
    FieldReason,
    InputError,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from gateway.logging import get_logger
from gateway.services.certificate_lookup import (
    CertificateFacts,
    CertificateRecord,
    find_by_identifier,
    find_by_number,
    find_by_token,
)
from gateway.settings import RegistrySettings

__all__ = ["MAX_UPLOAD_BYTES", "PUBLIC_LOOKUP_FAILURES", "UploadVerdict", "check_file", "routes"]

log = get_logger("gateway.public")
routes = web.RouteTableDef()
TAGS = ("public",)
PUBLIC_API = PUBLIC + "api/v1/"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a certificate is ~100 KB; anything near this is not one
# Public answers name a person (masked): no shared cache keeps them, no search engine lists them.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class UploadVerdict(BaseModel):
    """What an uploaded file is: the registry's signed original of a registered certificate, or not."""

    model_config = ConfigDict(frozen=True)

    result: Literal["valid", "invalid"] = Field(
        description="valid: signed by the registry, unchanged, and the issued file of a registered certificate"
    )
    reason: str = Field(description="why, in English")
    reason_zh: str = Field(description="why, in Chinese")
    in_force: bool = Field(description="valid and the certificate's status is 有效 (not 已注销 / 已作废)")
    sm3: str = Field(description="SM3 of the signed bytes (of the whole upload when unreadable)")
    certificate: CertificateFacts | None = Field(description="the register's facts, when the file is genuine")


def _lookup_parts(request: web.Request) -> tuple[Database, RegistrySettings]:
    container = request.app[CONTAINER]
    return container.database, container.settings.registry


def _not_found() -> NotFound:
    return NotFound("no certificate with this token or identifier", "未找到该电子证照")


@routes.get(PUBLIC_API + "verify/{token}")
@endpoint(
    "A certificate's public facts and status by its QR token",
    summary_zh="按二维码令牌查询证照状态",
    response=CertificateFacts,
    tags=TAGS,
    errors=(404,),
)
async def verify_token(request: web.Request) -> web.Response:
    db, registry = _lookup_parts(request)
    return _facts_response(await find_by_token(db, registry, request.match_info["token"]))


class IdentifierProof(BaseModel):
    """What shows the asker holds the certificate: its QR token, or the SM3 of the signed file."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(
        default=None, max_length=64, description="the QR code's token (the last part of its URL)"
    )
    sm3: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SM3 of the file's signed range (PDF) or signed bytes (OFD), as gw-elicense verify prints",
    )


@routes.get(PUBLIC_API + "certificates/{identifier}")
@endpoint(
    "A certificate's public facts and status by its GB/T 36904 identifier, for whoever holds it",
    summary_zh="按证照标识查询证照状态（须提供二维码令牌或文件SM3摘要）",
    response=CertificateFacts,
    query=IdentifierProof,
    tags=TAGS,
    errors=(404, 422, 429),
    description="Identifiers are numbered in sequence, so the identifier alone answers nothing: give the "
    "QR code's `token` or the `sm3` of the signed file. A wrong one is the same 404 as an identifier that "
    f"does not exist; after {PUBLIC_LOOKUP_FAILURES} failed look-ups in "
    f"{PUBLIC_LOOKUP_WINDOW / 60:g} minutes an address gets 429 with Retry-After.",
)
async def certificate_by_identifier(request: web.Request) -> web.Response:
    db, registry = _lookup_parts(request)
    limiter = request.app[API].public_lookups
    address = client_address(request)
    wait = limiter.wait(address)
    if wait:
        raise TooManyRequests(
            f"too many failed look-ups from this address: retry in {wait} s",
            f"该地址查询失败次数过多，请{wait}秒后再试",
            wait,
        )
    proof = read_query(request, IdentifierProof)
    if not proof.token and not proof.sm3:  # refused before any look-up: it tells nothing of the identifier
        raise InputError(
            "give the QR code's token or the SM3 of the certificate file",
            "请提供二维码令牌或证照文件的SM3摘要",
            [
                FieldReason("token", "须提供二维码令牌或SM3摘要", "give token or sm3"),
                FieldReason("sm3", "须提供二维码令牌或SM3摘要", "give token or sm3"),
            ],
        )
    record = await find_by_identifier(db, registry, request.match_info["identifier"])
    if record is None or not _holds(record, proof):
        failures = limiter.failed(address)
        # The identifier is no personal data; the token or SM3 given is never logged (it is the secret).
        log.warning(
            "public look-up by identifier refused",
            client=address,
            identifier=request.match_info["identifier"][:120],
            failures=failures,
        )
        raise _not_found()
    return _facts_response(record)


def _holds(record: CertificateRecord, proof: IdentifierProof) -> bool:
    """Whether the proof matches the record, compared in constant time (the QR token is case-sensitive,
    an SM3 in hex is not)."""
    matches = False
    if proof.token:
        matches |= _same(proof.token, record.qr_token)
    if proof.sm3:
        given = proof.sm3.lower()
        for kept in (record.facts.sm3, record.ofd_sm3):
            matches |= _same(given, kept.lower() if kept else None)
    return matches


def _same(given: str, kept: str | None) -> bool:
    return kept is not None and hmac.compare_digest(given.encode(), kept.encode())


def _facts_response(record: CertificateRecord | None) -> web.Response:
    if record is None or record.facts.identifier is None:  # paper certificates have no public look-up
        raise _not_found()
    response = json_response(record.facts)
    response.headers.update(PRIVATE_HEADERS)
    return response


@routes.post(PUBLIC_API + "verify")
@endpoint(
    "Check an uploaded certificate file: SM3 and the embedded SM2 signature, then the register's status",
    summary_zh="上传电子证照文件核验（哈希、签名与登记状态）",
    response=UploadVerdict,
    max_body=MAX_UPLOAD_BYTES,
    request_content_type="application/pdf",
    tags=TAGS,
    errors=(413, 422),
    description="The body is the PDF or OFD itself (application/pdf, application/ofd), or a "
    "multipart/form-data form whose first file part is the file. At most 5 MiB.",
)
async def verify_upload(request: web.Request) -> web.Response:
    data = _uploaded_file(request.headers.get("Content-Type", ""), await read_body(request))
    container = request.app[CONTAINER]
    trusted = container.trusted_registry_certs()
    if not trusted:
        raise ServiceUnavailable(
            "the registry certificate is not configured", "未配置登记机构证书，暂不能核验文件"
        )
    verdict = await check_file(container.database, container.settings.registry, trusted, data)
    response = json_response(verdict)
    response.headers.update(PRIVATE_HEADERS)
    return response


async def check_file(
    db: Database,
    registry: RegistrySettings,
    trusted: certs.Certificate | Sequence[certs.Certificate],
    data: bytes,
) -> UploadVerdict:
    """Verify the file offline (off the event loop), then compare it with the register's record."""
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(crypto_executor(), _verify_offline, data, trusted)
    if isinstance(outcome, UploadVerdict):
        return outcome
    result = outcome
    try:
        record = await find_by_number(db, registry, result.number)
    except InputError:  # signed, but numbered in a way this registry does not number today
        record = None
    if record is None or record.facts.identifier != result.identifier:
        return _invalid(
            "the file is signed by the registry, but no certificate with its number and identifier is "
            "on the register",
            "文件签名有效，但登记簿中没有与其证号和证照标识相符的证照",
            result.sm3_hex,
        )
    issued_sm3 = record.ofd_sm3 if result.format == "ofd" else record.facts.sm3
    if issued_sm3 != result.sm3_hex:
        return _invalid(
            f"the file is not the one issued as {result.number} (its SM3 differs from the record)",
            f"该文件不是证号{result.number}所签发的文件（SM3摘要与登记记录不符）",
            result.sm3_hex,
        )
    facts = record.facts
    if facts.status.in_force:
        reason, reason_zh = "genuine and in force", "文件真实，证照有效"
    else:
        reason = f"genuine, but the certificate is {facts.status.label_en}"
        reason_zh = f"文件真实，但证照{facts.status_zh}"
    return UploadVerdict(
        result="valid",
        reason=reason,
        reason_zh=reason_zh,
        in_force=facts.status.in_force,
        sm3=result.sm3_hex,
        certificate=facts,
    )


def _verify_offline(
    data: bytes, trusted: certs.Certificate | Sequence[certs.Certificate]
) -> VerifyResult | UploadVerdict:
    """The file's own checks (SM3 over the signed range, the embedded SM2 signature): CPU work."""
    try:
        return verify_file(data, trusted)
    except (BadSignature, InputError) as exc:  # InputError: not a PDF this registry could have produced
        return _invalid(exc.message_en, exc.message_zh, certs.sm3_hex(data))


def _invalid(reason: str, reason_zh: str, sm3: str) -> UploadVerdict:
    return UploadVerdict(
        result="invalid", reason=reason, reason_zh=reason_zh, in_force=False, sm3=sm3, certificate=None
    )


def _uploaded_file(content_type: str, body: bytes) -> bytes:
    """The PDF from a raw body or from the first file part of a multipart form (a browser's upload)."""
    if is_multipart(content_type):
        upload = parse_multipart(content_type, body).file()
        body = upload.data if upload is not None else b""
    if not body:
        raise InputError(
            "upload the certificate file (PDF) as the request body",
            "请上传电子证照文件（PDF）",
            [FieldReason("file", "未上传文件", "no file uploaded")],
        )
    return bytes(body)
