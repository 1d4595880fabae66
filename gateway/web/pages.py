"""What a page handler uses: the `page` marker, rendering with the common context, redirects, form errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web

from gateway.api.keys import ACTOR, CONTAINER
from gateway.api.multipart import MultipartForm, UploadedFile
from gateway.errors import FieldReason, InputError
from gateway.security.roles import Role
from gateway.web.keys import AREA, CSRF, LOCALE
from gateway.web.paths import area_of

__all__ = [
    "FormErrors",
    "form_of",
    "is_page",
    "is_public_page",
    "multipart_of",
    "page",
    "redirect",
    "render",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
_PAGE_ATTR = "__gateway_page__"


def page(*, public: bool = False) -> Callable[[H], H]:
    """Mark an HTML page handler: kept out of the API document; `public` pages need no sign-in."""

    def mark(handler: H) -> H:
        setattr(handler, _PAGE_ATTR, "public" if public else "private")
        return handler

    return mark


def is_page(handler: Any) -> bool:
    return getattr(handler, _PAGE_ATTR, None) is not None


def is_public_page(handler: Any) -> bool:
    return getattr(handler, _PAGE_ATTR, None) == "public"


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """The template with what every page needs: the user, the CSRF token, the locale."""
    actor = request.get(ACTOR)
    roles = actor.roles if actor is not None else frozenset()
    common = {
        "actor": actor,
        "roles": {r.value for r in roles},
        "Role": Role,
        "csrf_token": request.get(CSRF, ""),
        "locale": request.get(LOCALE, "zh_CN"),
        "path": request.path_qs,
        "area": request.get(AREA) or area_of(request.path),
        "institution_name": lambda code: institution_name(request, code),
    }
    response = aiohttp_jinja2.render_template(template, request, {**common, **(context or {})})
    response.set_status(status)
    return response


def institution_name(request: web.Request, code: str) -> str:
    """A bank's or provider's name for people (its code when the settings give none)."""
    settings = request.app[CONTAINER].settings
    known = settings.institutions.get(code)
    if known is not None:
        return known.name
    provider = settings.utilities.get(code, {})
    return str(provider.get("name") or code)


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the next page (no resubmission on reload)."""
    return web.Response(status=303, headers={"Location": location})


async def form_of(request: web.Request) -> dict[str, str]:
    """The form of a POST (already read, and its CSRF token checked, by the middleware), text fields only,
    stripped."""
    data = await request.post()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


async def multipart_of(request: web.Request) -> MultipartForm:
    """A file upload form (multipart/form-data) of a POST, as aiohttp parsed it from the stream (the
    middleware checked its CSRF token): text fields stripped, files with their bytes."""
    form = MultipartForm()
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            form.files.append(UploadedFile(name, value.filename, value.file.read()))
        elif isinstance(value, str) and name not in form.fields:
            form.fields[name] = value.strip()
    return form


class FormErrors:
    """The error summary at the top of a form and the message beside each field (GOV.UK pattern)."""

    def __init__(self, errors: list[FieldReason] | None = None, message: str = "") -> None:
        self.items = errors or []
        self.message = message

    @classmethod
    def of(cls, exc: InputError, locale: str) -> FormErrors:
        zh = locale == "zh_CN"
        items = exc.errors or [FieldReason("", exc.message_zh, exc.message_en)]
        return cls(items, exc.message_zh if zh else exc.message_en)

    def __bool__(self) -> bool:
        return bool(self.items)

    def field(self, name: str) -> FieldReason | None:
        return next((e for e in self.items if e.field == name), None)
