"""Administration pages: users (create, disable, reset password, roles) and the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway.api.keys import ACTOR, API, CONTAINER
from gateway.api.respond import services
from gateway.api.routing import require_role
from gateway.audit import verify_chain
from gateway.errors import FieldReason, InputError
from gateway.security.passwords import temporary_password
from gateway.security.roles import Realm, Role
from gateway.security.users import Actor, check_institution_known
from gateway.services import audit_view, worklist
from gateway.web.keys import LOCALE
from gateway.web.pages import FormErrors, form_of, page, redirect, render

routes = web.RouteTableDef()
USERS = "/backoffice/users"
AUDIT = "/backoffice/audit"


def _roles(given: Sequence[object]) -> list[Role]:
    known = {r.value: r for r in Role}
    return [known[r] for r in given if isinstance(r, str) and r in known]


async def _users_page(request: web.Request, *, errors: FormErrors | None = None, form: dict[str, str] | None = None,
                      issued: tuple[str, str] | None = None, chosen: Sequence[Role] = (),
                      status: int = 200) -> web.Response:  # fmt: skip
    users = await request.app[API].users.list_users()
    # Each user's row offers only the roles of their realm (a bank's user cannot be made an examiner); the
    # form for a new user groups them by realm.
    by_realm = {realm: [r for r in Role if r.realm is realm] for realm in Realm}
    context = {"users": users, "roles_by_realm": by_realm, "errors": errors or FormErrors(), "form": form or {},
               "issued": issued, "Realm": Realm, "chosen": chosen}  # fmt: skip
    return render(request, "backoffice/users.html", context, status=status)


@routes.get(USERS)
@page()
@require_role(Role.ADMIN)
async def users_page(request: web.Request) -> web.Response:
    return await _users_page(request)


async def _audit(request: web.Request, action: str, username: str, **details: object) -> None:
    actor: Actor = request[ACTOR]
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(actor=actor.audit_name, action=action, subject=f"username:{username}", details=details)


@routes.post(USERS)
@page()
@require_role(Role.ADMIN)
async def create_user(request: web.Request) -> web.Response:
    form = await form_of(request)
    data = await request.post()
    roles = _roles(data.getall("roles", []))
    username, password = form.get("username", ""), temporary_password()
    try:
        if not username:
            raise InputError(
                "enter a user name",
                "请输入用户名",
                [FieldReason("username", "请输入用户名", "enter a user name")],
            )
        if not roles:
            raise InputError(
                "choose a role",
                "请选择岗位",
                [FieldReason("roles", "请至少选择一个岗位", "choose at least one role")],
            )
        # A bank's administrator or a provider's staff is created here with their institution; a bank's
        # clerks are then created by its administrator in the bank portal.
        settings = request.app[CONTAINER].settings
        check_institution_known(
            frozenset(roles),
            form.get("institution") or None,
            banks=settings.banks,
            providers=settings.utilities,
        )
        await request.app[API].users.add(
            username,
            password,
            roles,
            form.get("display_name", ""),
            must_change_password=True,
            institution=form.get("institution") or None,
            branch=form.get("branch") or None,
        )
    except InputError as exc:
        errors = FormErrors.of(exc, request[LOCALE])
        return await _users_page(request, errors=errors, form=form, chosen=roles, status=422)
    await _audit(
        request,
        "backoffice.user_created",
        username,
        roles=sorted(roles),
        institution=form.get("institution") or None,
    )
    return await _users_page(request, issued=(username, password))


@routes.post(USERS + "/{username}/reset-password")
@page()
@require_role(Role.ADMIN)
async def reset_password(request: web.Request) -> web.Response:
    username, password = request.match_info["username"], temporary_password()
    await request.app[API].users.reset_password(username, password)
    await _audit(request, "backoffice.password_reset", username)
    return await _users_page(request, issued=(username, password))


@routes.post(USERS + "/{username}/active")
@page()
@require_role(Role.ADMIN)
async def set_active(request: web.Request) -> web.Response:
    username, form = request.match_info["username"], await form_of(request)
    active = form.get("active") == "1"
    await request.app[API].users.set_active(username, active)
    await _audit(request, "backoffice.user_enabled" if active else "backoffice.user_disabled", username)
    return redirect(USERS)


@routes.post(USERS + "/{username}/roles")
@page()
@require_role(Role.ADMIN)
async def set_roles(request: web.Request) -> web.Response:
    username, data = request.match_info["username"], await request.post()
    roles = _roles(data.getall("roles", []))
    try:
        await request.app[API].users.set_roles(username, roles)
    except InputError as exc:
        return await _users_page(request, errors=FormErrors.of(exc, request[LOCALE]), status=422)
    await _audit(request, "backoffice.user_roles", username, roles=sorted(roles))
    return redirect(USERS)


@routes.get(AUDIT)
@page()
@require_role(Role.SUPERVISOR, Role.ADMIN)
async def audit_page(request: web.Request) -> web.Response:
    ctx = services(request)
    case_id, username = request.query.get("case_id", ""), request.query.get("username", "")
    rows = await audit_view.trail(ctx, case_id=case_id or None, username=username or None)
    return render(
        request,
        "backoffice/audit.html",
        {"rows": rows, "case_id": case_id, "username": username, "chain": await audit_view.chain_status(ctx),
         "names": await worklist.names(ctx), "verified": None},
    )  # fmt: skip


@routes.post(AUDIT + "/verify")
@page()
@require_role(Role.SUPERVISOR, Role.ADMIN)
async def verify(request: web.Request) -> web.Response:
    """Walk the whole chain now, read-only (sealing stays the dispatcher's)."""
    ctx = services(request)
    report = await verify_chain(ctx.db, seal=False)
    return render(
        request,
        "backoffice/audit.html",
        {"rows": [], "case_id": "", "username": "", "chain": await audit_view.chain_status(ctx),
         "names": await worklist.names(ctx), "verified": report},
    )  # fmt: skip
