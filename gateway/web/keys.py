"""Typed keys of the page layer, on the application and on requests."""

from __future__ import annotations

from gettext import NullTranslations

from aiohttp import web

from gateway.api.multipart import MultipartForm

__all__ = ["CATALOGUES", "CSRF", "LOCALE", "MULTIPART", "SESSION_TOKEN"]

CATALOGUES: web.AppKey[dict[str, NullTranslations]] = web.AppKey("catalogues")
CSRF: web.RequestKey[str] = web.RequestKey("csrf_token")  # the token every form of this request carries
LOCALE: web.RequestKey[str] = web.RequestKey("locale")
SESSION_TOKEN: web.RequestKey[str] = web.RequestKey("session_token")  # the signed-in browser's session
MULTIPART: web.RequestKey[MultipartForm] = web.RequestKey("multipart")  # a file form, parsed for its CSRF
