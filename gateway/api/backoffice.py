"""Back-office routes of the framework: sign in and out, who am I, dead letters and their replay."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.clients import client_address
from gateway.api.keys import API, CONTAINER
from gateway.api.routing import (
    BACKOFFICE_API,
    Limit,
    Offset,
    actor_of,
    endpoint,
    json_response,
    read_json,
    read_query,
    require_role,
)
from gateway.db.tables.infra import OutboxRow, OutboxStatus
from gateway.errors import Forbidden
from gateway.jobs.deadletters import list_deliveries, replay_dead
from gateway.security.roles import Role

__all__ = ["routes"]

routes = web.RouteTableDef()


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200, repr=False)


class UserView(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[Role]


class LoginResponse(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    user: UserView


class DeliveryView(BaseModel):
    id: str
    job: str
    target: str
    case_id: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_http_status: int | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: OutboxRow) -> DeliveryView:
        return cls.model_validate(row.model_dump())


class DeliveryList(BaseModel):
    items: list[DeliveryView]
    limit: int
    offset: int


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OutboxStatus = OutboxStatus.DEAD
    limit: Limit = 50
    offset: Offset = 0


@routes.post(BACKOFFICE_API + "login")
@endpoint(
    "Sign in with username and password; returns a bearer token",
    summary_zh="登录，返回令牌",
    request=LoginRequest,
    response=LoginResponse,
    public=True,
    tags=["back office"],
    errors=[401, 403],
)
async def login(request: web.Request) -> web.Response:
    given = await read_json(request, LoginRequest)
    users = request.app[API].users
    issued = await users.login(given.username, given.password, client=client_address(request))
    if issued.actor.must_change_password:
        await users.logout(issued.token)
        raise Forbidden(
            "the initial password must be changed first: sign in at /backoffice/login",
            "须先修改初始密码：请在后台页面 /backoffice/login 登录并修改",
        )
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(actor=issued.actor.audit_name, action="backoffice.login", subject=f"user:{issued.actor.id}")
    actor = issued.actor
    user = UserView(
        id=actor.id, username=actor.username, display_name=actor.display_name, roles=sorted(actor.roles)
    )
    return json_response(LoginResponse(token=issued.token, expires_at=issued.expires_at, user=user))


@routes.post(BACKOFFICE_API + "logout")
@endpoint(
    "End this session (the token stops working)", summary_zh="退出登录", status=204, tags=["back office"]
)
async def logout(request: web.Request) -> web.Response:
    actor = actor_of(request)
    await request.app[API].users.logout(request.headers["Authorization"].partition(" ")[2].strip())
    async with request.app[CONTAINER].database.transaction() as uow:
        uow.audit(actor=actor.audit_name, action="backoffice.logout", subject=f"user:{actor.id}")
    return web.Response(status=204)


@routes.get(BACKOFFICE_API + "me")
@endpoint(
    "The signed-in user and roles", summary_zh="当前用户及岗位", response=UserView, tags=["back office"]
)
async def me(request: web.Request) -> web.Response:
    actor = actor_of(request)
    return json_response(
        UserView(
            id=actor.id, username=actor.username, display_name=actor.display_name, roles=sorted(actor.roles)
        )
    )


@routes.get(BACKOFFICE_API + "deliveries")
@endpoint(
    "Outbound deliveries by status (dead letters by default), newest first",
    summary_zh="投递记录（默认列出失败的死信）",
    query=DeliveryQuery,
    response=DeliveryList,
    tags=["deliveries"],
)
@require_role(Role.ADMIN, Role.SUPERVISOR)
async def deliveries(request: web.Request) -> web.Response:
    query = read_query(request, DeliveryQuery)
    rows = await list_deliveries(
        request.app[CONTAINER].database, query.status, limit=query.limit, offset=query.offset
    )
    return json_response(
        DeliveryList(items=[DeliveryView.of(r) for r in rows], limit=query.limit, offset=query.offset)
    )


@routes.post(BACKOFFICE_API + "deliveries/{id}/replay")
@endpoint(
    "Replay a dead delivery: back in the queue with a fresh retry schedule (audited)",
    summary_zh="重放失败的投递（记入审计日志）",
    response=DeliveryView,
    status=202,
    tags=["deliveries"],
    errors=[404, 409],
)
@require_role(Role.ADMIN, Role.SUPERVISOR)
async def replay(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    row = await replay_dead(container.database, request.match_info["id"], actor=actor_of(request).audit_name)
    container.wake_dispatcher()
    return json_response(DeliveryView.of(row), status=202)
