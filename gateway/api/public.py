"""Public certificate verification (/public/, no sign-in): the QR code's page, JSON look-ups, file upload check."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
from collections.abc import Sequence
from datetime import date
from functools import cache
from html import escape
from importlib import resources
from string import Template
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import certs
from certs.async_ops import crypto_executor
from e_license import VerifyResult, verify_file
from gateway.api.keys import CONTAINER
from gateway.api.routing import PUBLIC, endpoint, json_response, read_body
from gateway.db import Database
from gateway.errors import BadSignature, FieldReason, InputError, NotFound, ServiceUnavailable
from gateway.services.certificate_lookup import (
    CertificateFacts,
    CertificateRecord,
    find_by_identifier,
    find_by_number,
    find_by_token,
)
from gateway.settings import RegistrySettings

__all__ = ["MAX_UPLOAD_BYTES", "UploadVerdict", "render_page", "routes"]

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
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


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


@cache
def _template() -> Template:
    text = resources.files("gateway.api").joinpath("templates/verify.html").read_text(encoding="utf-8")
    return Template(text)


def render_page(facts: CertificateFacts | None) -> str:
    """The verification page (Chinese): the certificate's facts and status, or that none was found."""
    if facts is None:
        body = (
            '<p class="status status-unknown">未找到该电子证照 / Certificate not found</p>'
            "<p>请核对二维码或链接是否完整；如有疑问请联系登记机构。</p>"
        )
        return _template().substitute(title="未找到", body=body)
    since = f"（{_day(facts.status_changed_on)}起）" if facts.status_changed_on else ""
    rows = [
        ("证照名称", facts.document),
        ("证号", facts.number),
        ("证照标识", facts.identifier or "—（纸质证书）"),
        ("颁发机构", facts.issuer),
        ("颁发日期", _day(facts.issued_on) if facts.issued_on else "—"),
        ("权利人", facts.holder),
        ("证照状态", f"{facts.status_zh}{since}"),
        # Two digests, named: the signature covers the PDF as rendered; the holder's file also carries
        # the signature after it, so a checksum tool run on that file gives the second one.
        ("SM3摘要（签名范围：签名时的PDF）", facts.sm3 or "—"),
        ("SM3摘要（完整文件：含内嵌签名）", facts.file_sm3 or "—"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    body = (
        f'<p class="status status-{escape(facts.status.value)}">{escape(facts.status_zh)}{escape(since)}'
        f" / {escape(facts.status.label_en)}</p><table>{table}</table>"
    )
    return _template().substitute(title=escape(facts.number), body=body)


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _lookup_parts(request: web.Request) -> tuple[Database, RegistrySettings]:
    container = request.app[CONTAINER]
    return container.database, container.settings.registry


def _not_found() -> NotFound:
    return NotFound("no certificate with this token or identifier", "未找到该电子证照")


@routes.get(PUBLIC + "verify/{token}")
@endpoint(
    "Verification page a certificate's QR code opens (HTML, Chinese)",
    summary_zh="电子证照核验页面（扫码）",
    response_content_type="text/html",
    tags=TAGS,
    errors=(404,),
)
async def verify_page(request: web.Request) -> web.Response:
    db, registry = _lookup_parts(request)
    record = await find_by_token(db, registry, request.match_info["token"])
    if record is None and "text/html" not in request.headers.get("Accept", ""):
        raise _not_found()  # an API client gets problem+json; a browser gets the page saying so
    return web.Response(
        text=render_page(record.facts if record else None),
        status=200 if record else 404,
        content_type="text/html",
        charset="utf-8",
        headers={**PRIVATE_HEADERS, "Content-Security-Policy": _PAGE_CSP},
    )


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


@routes.get(PUBLIC_API + "certificates/{identifier}")
@endpoint(
    "A certificate's public facts and status by its GB/T 36904 identifier",
    summary_zh="按证照标识查询证照状态",
    response=CertificateFacts,
    tags=TAGS,
    errors=(404, 422),
)
async def certificate_by_identifier(request: web.Request) -> web.Response:
    db, registry = _lookup_parts(request)
    return _facts_response(await find_by_identifier(db, registry, request.match_info["identifier"]))


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
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        # The body is already read (and size-checked) by the middleware, so parse it from memory.
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            # aiohttp decoded the header as UTF-8 with surrogateescape: this gives back the bytes as sent.
            b"Content-Type: " + content_type.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body
        )
        parts = [p for p in message.iter_parts() if p.get_filename()] if message.is_multipart() else []
        body = parts[0].get_payload(decode=True) if parts else b""  # type: ignore[assignment]
    if not body:
        raise InputError(
            "upload the certificate file (PDF) as the request body",
            "请上传电子证照文件（PDF）",
            [FieldReason("file", "未上传文件", "no file uploaded")],
        )
    return bytes(body)
