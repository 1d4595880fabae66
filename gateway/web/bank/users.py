"""A bank's own users: its administrator creates clerks and branch supervisors, disables and enables them,
and resets their passwords — for its own bank only; another institution's users are not found (404)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway.api.keys import ACTOR, API, CONTAINER
from gateway.api.routing import require_role
from gateway.errors import FieldReason, InputError, NotFound
from gateway.security.passwords import temporary_password
from gateway.security.roles import Realm, Role
from gateway.security.users import Actor
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, page, redirect, render

routes = web.RouteTableDef()
USERS = "/bank/users"
BANK_ROLES = [r for r in Role if r.realm is Realm.BANK]


def _roles(given: Sequence[object]) -> list[Role]:
    """Only the bank's roles: a form naming a registry role gets none of it."""
    known = {r.value: r for r in BANK_ROLES}
    return [known[r] for r in given if isinstance(r, str) and r in known]


async def _page(
    request: web.Request,
    *,
    errors: FormErrors | None = None,
    form: dict[str, str] | None = None,
    issued: tuple[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actor: Actor = request[ACTOR]
    users = await request.app[API].users.list_users(institution=actor.institution)
    context = {
        "users": users,
        "bank_roles": BANK_ROLES,
        "errors": errors or FormErrors(),
        "form": form or {},
        "issued": issued,
    }
    return render(request, "bank/users.html", context, status=status)


async def _own_user(request: web.Request) -> Actor:
    """The user named in the path, if of the administrator's own bank; NotFound otherwise (whether a user
    of that name exists elsewhere is not told)."""
    username = request.match_info["username"]
    user: Actor = await request.app[API].users.get(username)  # NotFound for nobody of that name
    if user.institution != request[ACTOR].institution:
        raise NotFound(f"no user {username!r}", f"无此用户 {username}")  # the very same answer
    return user


async def _audit(request: web.Request, action: str, username: str, **details: object) -> None:
    actor: Actor = request[ACTOR]
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(
            actor=actor.audit_name,
            action=action,
            subject=f"username:{username}",
            details={"institution": actor.institution, **details},
        )


@routes.get(USERS)
@page()
@require_role(Role.BANK_ADMIN)
async def users_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post(USERS)
@page()
@require_role(Role.BANK_ADMIN)
async def create_user(request: web.Request) -> web.Response:
    actor: Actor = request[ACTOR]
    form = await form_of(request)
    roles = _roles((await request.post()).getall("roles", []))
    username, password = form.get("username", ""), temporary_password()
    branch = form.get("branch") or None
    try:
        if not username:
            raise InputError(
                "enter a user name",
                "请输入用户名",
                [FieldReason("username", "请输入用户名", "enter a user name")],
            )
        # The user joins the administrator's own bank, never another (the form has no institution field).
        await request.app[API].users.add(
            username,
            password,
            roles,
            form.get("display_name", ""),
            must_change_password=True,
            institution=actor.institution,
            branch=branch,
        )
    except InputError as exc:
        return await _page(request, errors=FormErrors.of(exc, request[LOCALE]), form=form, status=422)
    await _audit(request, "bank.user_created", username, roles=sorted(roles), branch=branch)
    return await _page(request, issued=(username, password))


@routes.post(USERS + "/{username}/reset-password")
@page()
@require_role(Role.BANK_ADMIN)
async def reset_password(request: web.Request) -> web.Response:
    user, password = await _own_user(request), temporary_password()
    await request.app[API].users.reset_password(user.username, password)
    await _audit(request, "bank.password_reset", user.username)
    return await _page(request, issued=(user.username, password))


@routes.post(USERS + "/{username}/active")
@page()
@require_role(Role.BANK_ADMIN)
async def set_active(request: web.Request) -> web.Response:
    user, form = await _own_user(request), await form_of(request)
    active = form.get("active") == "1"
    if not active and user.username == request[ACTOR].username:
        exc = InputError(
            "you cannot disable yourself",
            "不能停用自己的账户",
            [FieldReason("active", "不能停用自己的账户", "you cannot disable yourself")],
        )
        return await _page(request, errors=FormErrors.of(exc, request[LOCALE]), status=422)
    await request.app[API].users.set_active(user.username, active)
    await _audit(request, "bank.user_enabled" if active else "bank.user_disabled", user.username)
    return redirect(USERS)
