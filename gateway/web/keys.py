"""Typed keys of the page layer, on the application and on requests."""

from __future__ import annotations

from gettext import NullTranslations
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiDictProxy

if TYPE_CHECKING:
    from gateway.web.paths import Area

__all__ = ["AREA", "CATALOGUES", "CSRF", "FORM", "LOCALE", "SESSION_TOKEN"]

CATALOGUES: web.AppKey[dict[str, NullTranslations]] = web.AppKey("catalogues")
CSRF: web.RequestKey[str] = web.RequestKey("csrf_token")  # the token every form of this request carries
LOCALE: web.RequestKey[str] = web.RequestKey("locale")
SESSION_TOKEN: web.RequestKey[str] = web.RequestKey("session_token")  # the signed-in browser's session
AREA: web.RequestKey[Area] = web.RequestKey("area")  # the back office, the bank portal or the provider portal
# The posted form (text fields and files), parsed once: the CSRF check and the handler read the same one.
FORM: web.RequestKey[MultiDictProxy[Any]] = web.RequestKey("form")
