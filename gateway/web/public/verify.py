"""The verification page: a certificate's status, 坐落 and 不动产单元号 by its QR code, and a form that
checks an uploaded PDF or OFD (the SM2 signature, then the register's record) for a person with no tools.

The QR code printed on every issued certificate encodes `/public/verify/{token}`; that address stays.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from e_license.ofd_package import is_ofd
from gateway.api.keys import CONTAINER
from gateway.api.public import MAX_UPLOAD_BYTES, PRIVATE_HEADERS, check_file
from gateway.api.routing import endpoint
from gateway.errors import FieldReason, ServiceUnavailable
from gateway.services.certificate_lookup import find_by_token
from gateway.web.i18n import LOCALES
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, multipart_of, page, redirect, render
from gateway.web.paths import PUBLIC_LANG, PUBLIC_VERIFY
from gateway.web.security import LANG_COOKIE, set_cookie

__all__ = ["routes"]

routes = web.RouteTableDef()
TEMPLATE = "public/verify.html"
# Room for the form's other parts around a file of MAX_UPLOAD_BYTES; a larger file is refused on the page.
_FORM_OVERHEAD = 64 * 1024


@routes.get(PUBLIC_VERIFY)
@page(public=True)
async def upload_form(request: web.Request) -> web.Response:
    """The form alone: for a person who has the file but no QR code to scan."""
    return _page(request, {})


@routes.get(PUBLIC_VERIFY + "/{token}")
@page(public=True)
async def verify_page(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    record = await find_by_token(container.database, container.settings.registry, request.match_info["token"])
    facts = record.facts if record is not None and record.facts.identifier is not None else None
    return _page(request, {"facts": facts, "looked_up": True}, status=200 if facts else 404)


@routes.post(PUBLIC_VERIFY)
@endpoint("", max_body=MAX_UPLOAD_BYTES + _FORM_OVERHEAD)  # the body limit of this page, not an API route
@page(public=True)
async def verify_upload(request: web.Request) -> web.Response:
    upload = (await multipart_of(request)).file("file")
    data = upload.data if upload is not None else b""
    problem = _refusal(data)
    if problem is not None:
        return _page(request, {"errors": FormErrors([problem], problem.reason_zh)}, status=422)
    container = request.app[CONTAINER]
    trusted = container.trusted_registry_certs()
    if not trusted:
        raise ServiceUnavailable(
            "the registry certificate is not configured", "未配置登记机构证书，暂不能核验文件"
        )
    verdict = await check_file(container.database, container.settings.registry, trusted, data)
    return _page(request, {"verdict": verdict, "filename": upload.filename if upload else ""})


@routes.get(PUBLIC_LANG + "/{locale}")
@page(public=True)
async def choose_language(request: web.Request) -> web.Response:
    """The language of the public pages; back to the page it was chosen on (only a verification page)."""
    target = request.query.get("next", "")
    if not target.startswith(PUBLIC_VERIFY) or "//" in target or "\\" in target:
        target = PUBLIC_VERIFY
    response = redirect(target)
    if request.match_info["locale"] in LOCALES:
        set_cookie(response, request, LANG_COOKIE, request.match_info["locale"])
    return response


def _refusal(data: bytes) -> FieldReason | None:
    """Why the upload is not even a file to check: none, too large, or neither PDF nor OFD by its content."""
    if not data:
        return FieldReason(
            "file", "请选择要核验的证照文件（PDF或OFD）", "Choose the certificate file (PDF or OFD)"
        )
    if len(data) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // (1024 * 1024)
        return FieldReason(
            "file",
            f"文件超过{limit}MB，不是登记机构签发的电子证照",
            f"The file is larger than {limit} MB: not a certificate the registry issued",
        )
    if not (b"%PDF-" in data[:1024] or is_ofd(data)):  # the content decides, never the name or the type
        return FieldReason("file", "该文件不是PDF或OFD文件", "The file is neither a PDF nor an OFD document")
    return None


def _page(request: web.Request, context: dict[str, object], *, status: int = 200) -> web.Response:
    full = {
        "facts": None,
        "looked_up": False,
        "verdict": None,
        "filename": "",
        "errors": FormErrors(),
        "day": _day_of(request[LOCALE]),
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        **context,
    }
    response = render(request, TEMPLATE, full, status=status)
    response.headers.update(PRIVATE_HEADERS)  # a masked name: no shared cache, no search engine
    return response


def _day_of(locale: str) -> object:
    def day(value: date | None) -> str:
        if value is None:
            return "—"
        return f"{value.year}年{value.month}月{value.day}日" if locale == "zh_CN" else value.isoformat()

    return day
