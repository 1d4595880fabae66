"""The case page's decisions, each a plain form POST with a 审核意见, through the same services as the API.

Who may do what is checked twice on purpose: `allowed_actions` decides which buttons a page shows, and
`require_role` (the JSON API's own decorator) refuses a POST from anyone else with 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.api.keys import ACTOR
from gateway.api.respond import services
from gateway.api.routing import require_role
from gateway.domain.workflow import Case, CaseState
from gateway.domain.worklist import WorkStage
from gateway.errors import FieldReason, InputError, RuleViolation
from gateway.security.roles import Role
from gateway.security.users import Actor
from gateway.services import casefile, review
from gateway.web.keys import LOCALE
from gateway.web.labels import N_
from gateway.web.pages import FormErrors, form_of, page, redirect, render

routes = web.RouteTableDef()
CASE = "/backoffice/cases/{case_id}"

# 常用意见: offered beside every opinion field (a <datalist>: typing anything else is fine too).
COMMON_OPINIONS = (
    N_("Materials complete; the application meets the requirements. Pass."),
    N_("Agree with the first examiner's opinion."),
    N_("The mortgage contract's signature page is missing."),
    N_("The ID document copy is unreadable; upload a clear scan."),
    N_("The applicants are not all the owners of record."),
)


def allowed_actions(actor: Actor, case: Case, stage: WorkStage) -> frozenset[str]:
    """The decisions this user may take on this case now (the page shows these buttons only)."""
    roles, found = actor.roles, set[str]()
    if stage is WorkStage.FIRST_REVIEW and roles & {Role.EXAMINER, Role.SENIOR_EXAMINER}:
        found |= {"first_pass", "correction"}
    if stage is WorkStage.SECOND_REVIEW and Role.SENIOR_EXAMINER in roles:
        found |= {"second_pass", "send_back", "correction", "reject"}
    if stage is WorkStage.REGISTER and Role.REGISTRAR in roles:
        found |= {"register", "reject"}
    if stage is WorkStage.SUSPENDED and Role.REGISTRAR in roles:
        found |= {"recheck", "correction", "reject"}
    if Role.SUPERVISOR in roles and not case.state.is_final and stage is not WorkStage.CLOSED:
        found.add("assign")
    if "correction" in found and case.state not in (
        CaseState.UNDER_REVIEW,
        CaseState.APPROVED,
        CaseState.SUSPENDED,
    ):
        found.discard("correction")
    return frozenset(found)


Decide = Callable[[web.Request, Actor, str, dict[str, str]], Awaitable[Any]]


async def _decide(request: web.Request, decide: Decide, *, needs: str = "") -> web.Response:
    """Run one decision; a wrong field re-renders the case page with the error summary at the top.
    `needs` names a field the page requires (the 审核意见 of a pass, which the API leaves optional)."""
    from gateway.web.backoffice.cases import case_context

    actor: Actor = request[ACTOR]
    case_id = request.match_info["case_id"]
    form = await form_of(request)
    try:
        if needs and not form.get(needs):
            raise InputError(
                "enter your opinion",
                "请填写审核意见",
                [FieldReason(needs, "请填写审核意见", "enter your opinion")],
            )
        await decide(request, actor, case_id, form)
    except InputError as exc:
        file = await casefile.case_file(services(request), case_id)
        context = case_context(request, file) | {"errors": FormErrors.of(exc, request[LOCALE]), "form": form}
        return render(request, "backoffice/case.html", context, status=422)
    except RuleViolation:
        pass  # 登簿 found a failing rule: the case is now suspended, and its page says why
    return redirect(f"/backoffice/cases/{case_id}")


@routes.post(CASE + "/first-review")
@page()
@require_role(Role.EXAMINER, Role.SENIOR_EXAMINER)
async def first_review(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.review(services(r), a.id, case_id, "first", f.get("opinion", ""))

    return await _decide(request, run, needs="opinion")


@routes.post(CASE + "/second-review")
@page()
@require_role(Role.SENIOR_EXAMINER)
async def second_review(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.review(services(r), a.id, case_id, "second", f.get("opinion", ""))

    return await _decide(request, run, needs="opinion")


@routes.post(CASE + "/send-back")
@page()
@require_role(Role.SENIOR_EXAMINER)
async def send_back(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.send_back(services(r), a.id, case_id, f.get("opinion", ""))

    return await _decide(request, run)


@routes.post(CASE + "/request-material")
@page()
@require_role(Role.EXAMINER, Role.SENIOR_EXAMINER, Role.REGISTRAR)
async def request_material(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.request_material(services(r), a.id, case_id, f.get("reason", ""))

    return await _decide(request, run)


@routes.post(CASE + "/reject")
@page()
@require_role(Role.SENIOR_EXAMINER, Role.REGISTRAR)
async def reject(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.reject(services(r), a.id, case_id, f.get("reason", ""))

    return await _decide(request, run)


@routes.get(CASE + "/register")
@page()
@require_role(Role.REGISTRAR)
async def register_confirm(request: web.Request) -> web.Response:
    """登簿, step one: what will be written, checked against the register as it is now."""
    preview = await casefile.preview_registration(services(request), request.match_info["case_id"])
    return render(request, "backoffice/register.html", {"preview": preview, "case": preview.case})


@routes.post(CASE + "/register")
@page()
@require_role(Role.REGISTRAR)
async def register(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.register(services(r), a.id, case_id)

    return await _decide(request, run)


@routes.post(CASE + "/recheck")
@page()
@require_role(Role.REGISTRAR)
async def recheck(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.recheck(services(r), a.id, case_id)

    return await _decide(request, run)


@routes.post(CASE + "/assign")
@page()
@require_role(Role.SUPERVISOR)
async def assign(request: web.Request) -> web.Response:
    async def run(r: web.Request, a: Actor, case_id: str, f: dict[str, str]) -> Any:
        return await review.assign(services(r), a.id, case_id, f.get("assignee", ""))

    return await _decide(request, run)
