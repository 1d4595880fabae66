"""The page pipeline: locale, session cookie, CSRF on every form POST, sign-in redirects, HTML errors.

Runs innermost (after the API's middlewares), only on page paths; the JSON API never passes here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from gateway.api.keys import ACTOR, API
from gateway.errors import Forbidden, GatewayError, LoginRequired
from gateway.logging import get_logger
from gateway.web.i18n import DEFAULT_LOCALE, LOCALES, translations
from gateway.web.keys import AREA, CATALOGUES, CSRF, LOCALE, SESSION_TOKEN
from gateway.web.pages import is_public_page, posted, redirect, render
from gateway.web.paths import area_of, is_page_path
from gateway.web.security import (
    LANG_COOKIE,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    csrf_for,
    csrf_matches,
    new_pre_session,
    secure_headers,
    set_cookie,
)

__all__ = ["pages"]

log = get_logger("gateway.web")
_STATIC = "/static/"


class CsrfRefused(Forbidden):
    code = "csrf_refused"


@web.middleware
async def pages(request: web.Request, handler: Any) -> web.StreamResponse:
    if not is_page_path(request.path):
        response: web.StreamResponse = await handler(request)
        return response
    if request.path.startswith(_STATIC):
        response = await handler(request)
        secure_headers(response, cacheable=True)
        return response
    chosen = request.cookies.get(LANG_COOKIE, "")
    request[LOCALE] = chosen if chosen in LOCALES else DEFAULT_LOCALE
    reset = translations.set(request.app[CATALOGUES][request[LOCALE]])
    try:
        return await _serve(request, handler)
    finally:
        translations.reset(reset)


async def _serve(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[API]
    area = request[AREA] = area_of(request.path)
    token = request.cookies.get(SESSION_COOKIE, "")
    ended = False
    if token:
        try:
            actor = await state.users.authenticate(
                token, idle=timedelta(minutes=state.settings.session_idle_minutes)
            )
        except LoginRequired:
            ended = True
        else:
            if actor.realm is not area.realm:
                # Signed in to another area (a clerk's browser on the back office): not signed in here.
                token = ""
        if token and not ended:
            request[ACTOR] = actor
            request[SESSION_TOKEN] = token
            structlog.contextvars.bind_contextvars(actor=actor.id)
    fresh_pre = ""
    seed = token if ACTOR in request else request.cookies.get(PRE_SESSION_COOKIE, "")
    if len(seed) < 32:
        seed = fresh_pre = new_pre_session()
    request[CSRF] = csrf_for(seed)
    try:
        response = await _guarded(request, handler, ended)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error_page(request, exc.status, exc.reason, exc.reason)
    except GatewayError as exc:
        response = _error_page(request, exc.http_status, exc.message_zh, exc.message_en)
    if fresh_pre:
        set_cookie(response, request, PRE_SESSION_COOKIE, fresh_pre)
    if ended and ACTOR not in request:
        clear_session_cookie(response)
    secure_headers(response)
    return response


async def _guarded(request: web.Request, handler: Any, ended: bool) -> web.StreamResponse:
    if request.method == "POST":
        form = await posted(request)
        given = form.get("csrf_token", "")
        if not isinstance(given, str) or not csrf_matches(given, request[CSRF]):
            log.warning("form refused: CSRF token missing or wrong", path=request.path)
            raise CsrfRefused(
                "the form has expired or did not come from this site: go back, reload the page and retry",
                "表单已失效或来源不明：请返回并刷新页面后重试",
            )
    public = is_public_page(request.match_info.handler) or request.match_info.http_exception is not None
    actor = request.get(ACTOR)
    area = request[AREA]
    if actor is None and not public:
        target = request.path_qs if request.method == "GET" else area.start
        suffix = "&expired=1" if ended else ""
        return redirect(f"{area.login}?next={quote(target, safe='')}{suffix}")
    changing = request.path in (area.password, area.sign_out)
    if actor is not None and actor.must_change_password and not changing and not public:
        return redirect(area.password)
    response: web.StreamResponse = await handler(request)
    return response


def _error_page(request: web.Request, status: int, message_zh: str, message_en: str) -> web.Response:
    if status == 401:
        area = area_of(request.path)
        return redirect(f"{area.login}?next={quote(area.start, safe='')}")
    zh = request.get(LOCALE, DEFAULT_LOCALE) == "zh_CN"
    return render(
        request,
        "common/error.html",
        {"status": status, "message": message_zh if zh else message_en},
        status=status,
    )
