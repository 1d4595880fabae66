"""Every typed key the HTTP layer stores on the application and on requests, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from certs import Participant
    from gateway.api.state import ApiState
    from gateway.bootstrap import Container
    from gateway.security.idempotency import IdempotencyClaim
    from gateway.security.users import Actor

__all__ = ["ACTOR", "API", "API_DOCS", "BODY_LIMIT", "CONTAINER", "IDEMPOTENCY", "PARTICIPANT", "REQUEST_ID"]

# Application state
CONTAINER: web.AppKey[Container] = web.AppKey("container")
API: web.AppKey[ApiState] = web.AppKey("api_state")
# Filled on first request of /openapi.json (the router is frozen by then); a dict so it may change later.
API_DOCS: web.AppKey[dict[str, bytes]] = web.AppKey("api_docs")

# Per-request state, set by the middlewares
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
PARTICIPANT: web.RequestKey[Participant] = web.RequestKey("participant")  # signed prefixes
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor")  # back office
IDEMPOTENCY: web.RequestKey[IdempotencyClaim] = web.RequestKey("idempotency")  # idempotent POSTs
BODY_LIMIT: web.RequestKey[int] = web.RequestKey("body_limit")
