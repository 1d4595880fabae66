"""Utility routes: providers list, fetch and acknowledge their jobs; banks read their case's utility jobs.

`create_app` mounts them with the case routes and sets `app[SERVICES]` to the container's services. Every
route is signed (DESIGN Appendix A) and checks ownership: a provider sees only its jobs, a bank only its
cases; anything else is 404.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from gateway.api.keys import PARTICIPANT
from gateway.api.respond import Reply
from gateway.api.routing import BANK_API, Limit, Offset, endpoint, json_response, read_json, read_query
from gateway.domain.identifiers import validate_unit_code
from gateway.errors import Forbidden
from gateway.services import utilities
from gateway.services.context import ServiceContext

__all__ = ["SERVICES", "routes"]

SERVICES: web.AppKey[ServiceContext] = web.AppKey("utility_services", ServiceContext)
routes = web.RouteTableDef()
_TAGS = ["utilities 水电气网"]


class JobListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Limit = 50
    offset: Offset = 0


def _participant(request: web.Request, kind: str) -> str:
    participant = request[PARTICIPANT]
    if participant.kind != kind:
        who = {"utility": ("utility providers", "公用事业单位"), "bank": ("banks", "银行")}[kind]
        raise Forbidden(f"only {who[0]} may use this route", f"此接口仅供{who[1]}使用")
    return participant.code


@routes.get(BANK_API + "utility-jobs")
@endpoint(
    "A provider's jobs still waiting for its answer, oldest first",
    summary_zh="本单位待办的过户任务（按时间先后）",
    query=JobListQuery,
    response=utilities.OpenJobs,
    tags=_TAGS,
    errors=[403],
)
async def list_jobs(request: web.Request) -> web.Response:
    provider = _participant(request, "utility")
    query = read_query(request, JobListQuery)
    jobs = await utilities.open_jobs(request.app[SERVICES], provider, limit=query.limit, offset=query.offset)
    return json_response(jobs)


@routes.get(BANK_API + "utility-jobs/{id}")
@endpoint(
    "One job with the account holders' details (its own provider only); the first fetch marks it delivered",
    summary_zh="获取一条过户任务（仅限本单位）",
    response=utilities.FetchedJob,
    tags=_TAGS,
    errors=[403, 404],
)
async def fetch_job(request: web.Request) -> web.Response:
    provider = _participant(request, "utility")
    fetched = await utilities.fetch_job(request.app[SERVICES], provider, request.match_info["id"])
    return json_response(fetched)


@routes.post(BANK_API + "utility-jobs/{id}/ack")
@endpoint(
    "Acknowledge a job: done, rejected (account_mismatch / arrears / visit_required) or later",
    summary_zh="回复过户结果：已办结、拒绝（户号不符/有欠费/需现场办理）或稍后答复",
    request=utilities.Acknowledgement,
    response=utilities.AcknowledgementResult,
    tags=_TAGS,
    errors=[403, 404, 409],
    description="Repeating an acknowledgement changes nothing (`duplicate: true`); a final answer that "
    "contradicts an earlier one is 409. A push provider reports a result it promised later here too.",
)
async def acknowledge(request: web.Request) -> web.Response:
    provider = _participant(request, "utility")
    answer = await read_json(request, utilities.Acknowledgement)
    # The stored response commits with the answer it reports, so a retried request replays it.
    reply: Reply[utilities.AcknowledgementResult] = Reply(request, lambda result: result)
    await utilities.acknowledge(
        request.app[SERVICES], provider, request.match_info["id"], answer, finish=reply
    )
    return reply.response()


@routes.get(BANK_API + "cases/{case_id}/utilities")
@endpoint(
    "The utility account transfers of the bank's own case: each provider's status and any refusal",
    summary_zh="本行业务件的水电气网过户进度",
    response=utilities.CaseUtilities,
    tags=_TAGS,
    errors=[403, 404],
)
async def case_utilities(request: web.Request) -> web.Response:
    bank = _participant(request, "bank")
    view = await utilities.case_utilities(request.app[SERVICES], bank, request.match_info["case_id"])
    return json_response(view)


@routes.get(BANK_API + "units/{unit_code}/utility-accounts")
@endpoint(
    "Utility accounts moved by the unit's earlier transfers, offered for the next transfer",
    summary_zh="该不动产单元以往过户的水电气网户号（供新业务参考）",
    response=utilities.KnownAccounts,
    tags=_TAGS,
    errors=[403, 422],
)
async def known_accounts(request: web.Request) -> web.Response:
    _participant(request, "bank")
    unit_code = validate_unit_code(request.match_info["unit_code"])  # 422 with the reason, as /units/{code}
    accounts = await utilities.known_accounts(request.app[SERVICES], unit_code)
    return json_response(accounts)
