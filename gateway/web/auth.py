"""Sign-in, sign-out, the own password and the language, for each area (back office, bank portal, provider
portal); where `/` and each area's root lead."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway.api.clients import client_address
from gateway.api.keys import ACTOR, API, CONTAINER
from gateway.errors import FieldReason, InputError, LoginRequired
from gateway.web.i18n import LOCALES
from gateway.web.keys import AREA, LOCALE, SESSION_TOKEN
from gateway.web.pages import FormErrors, form_of, page, redirect, render
from gateway.web.paths import AREAS
from gateway.web.security import LANG_COOKIE, SESSION_COOKIE, clear_session_cookie, set_cookie

__all__ = ["routes"]

routes = web.RouteTableDef()


@page(public=True)
async def home(request: web.Request) -> web.Response:
    area = request[AREA]
    return redirect(area.start if ACTOR in request else area.login)


@page(public=True)
async def login_form(request: web.Request) -> web.Response:
    area = request[AREA]
    if ACTOR in request:
        return redirect(area.safe_next(request.query.get("next")))
    return render(
        request,
        "common/login.html",
        {
            "errors": FormErrors(),
            "username": "",
            "next": area.safe_next(request.query.get("next")),
            "expired": request.query.get("expired") == "1",
        },
    )


@page(public=True)
async def login(request: web.Request) -> web.Response:
    area = request[AREA]
    form = await form_of(request)
    username, password, target = form.get("username", ""), form.get("password", ""), form.get("next")
    missing = [
        FieldReason(field, zh, en)
        for field, value, zh, en in (
            ("username", username, "请输入用户名", "Enter your user name"),
            ("password", password, "请输入密码", "Enter your password"),
        )
        if not value
    ]
    state = request.app[API]
    try:
        if missing:
            raise InputError("enter your user name and password", "请输入用户名和密码", missing)
        issued = await state.users.login(
            username,
            password,
            client=client_address(request),
            ttl=timedelta(minutes=state.settings.session_idle_minutes),
            realm=area.realm,
        )
    except (InputError, LoginRequired) as exc:
        errors = (
            FormErrors.of(exc, request[LOCALE])
            if isinstance(exc, InputError)
            else _login_errors(exc, request[LOCALE])
        )
        context = {"errors": errors, "username": username, "next": area.safe_next(target), "expired": False}
        return render(request, "common/login.html", context, status=422 if missing else 401)
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(
            actor=issued.actor.audit_name,
            action="backoffice.login",
            subject=f"user:{issued.actor.id}",
            details={"client": client_address(request), "via": "web", "area": area.name},
        )
    response = redirect(area.password if issued.actor.must_change_password else area.safe_next(target))
    set_cookie(response, request, SESSION_COOKIE, issued.token)
    return response


def _login_errors(exc: LoginRequired, locale: str) -> FormErrors:
    reason = FieldReason("password", exc.message_zh, exc.message_en)
    return FormErrors([reason], exc.message_zh if locale == "zh_CN" else exc.message_en)


@page()
async def logout(request: web.Request) -> web.Response:
    actor = request[ACTOR]
    await request.app[API].users.logout(request[SESSION_TOKEN])
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(actor=actor.audit_name, action="backoffice.logout", subject=f"user:{actor.id}")
    response = redirect(request[AREA].login)
    clear_session_cookie(response)
    return response


@page()
async def password_form(request: web.Request) -> web.Response:
    return render(request, "common/password.html", {"errors": FormErrors(), "done": False})


@page()
async def change_password(request: web.Request) -> web.Response:
    form = await form_of(request)
    actor = request[ACTOR]
    users = request.app[API].users
    try:
        if form.get("new", "") != form.get("again", ""):
            raise InputError(
                "the two new passwords differ",
                "两次输入的新密码不一致",
                [FieldReason("again", "两次输入的新密码不一致", "the two new passwords differ")],
            )
        await users.change_password(actor.username, form.get("current", ""), form.get("new", ""))
    except InputError as exc:
        context = {"errors": FormErrors.of(exc, request[LOCALE]), "done": False}
        return render(request, "common/password.html", context, status=422)
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(actor=actor.audit_name, action="backoffice.password_changed", subject=f"user:{actor.id}")
    # Changing the password ended every session, this one too: sign in with the new password.
    response = redirect(request[AREA].login + "?changed=1")
    clear_session_cookie(response)
    return response


@page(public=True)
async def choose_language(request: web.Request) -> web.Response:
    area = request[AREA]
    locale = request.match_info["locale"]
    response = redirect(area.safe_next(request.headers.get("Referer", "").partition(request.host)[2] or None))
    if locale in LOCALES:
        set_cookie(response, request, LANG_COOKIE, locale)
    return response


routes.get("/")(home)
for _area in AREAS:
    routes.get(_area.prefix)(home)
    routes.get(_area.home)(home)
    routes.get(_area.login)(login_form)
    routes.post(_area.login)(login)
    routes.post(_area.sign_out)(logout)
    routes.get(_area.password)(password_form)
    routes.post(_area.password)(change_password)
    routes.get(_area.prefix + "/lang/{locale}")(choose_language)
del _area
