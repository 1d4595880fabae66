"""The aiohttp application factory: middlewares, route tables per prefix, lifecycle of the container."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from gateway.api import backoffice, bank, callbacks, docs, ops, public, register, review, utilities
from gateway.api.keys import API, API_DOCS, CONTAINER
from gateway.api.malformed import install as answer_malformed_requests_with_problems
from gateway.api.middleware import authenticate, idempotency, request_context, sign_responses
from gateway.api.problem import errors_middleware
from gateway.api.state import ApiState
from gateway.bootstrap import Container
from gateway.web import setup_web
from gateway.web.middleware import pages

__all__ = ["create_app"]


def create_app(
    container: Container, *, routes: Iterable[web.AbstractRouteDef] = (), dispatch: bool = True
) -> web.Application:
    """The gateway's web application. Case routes are added by passing `routes` (or `app.router.add_routes`
    before it starts); each handler declares its contract with `@endpoint`. Nothing connects until startup.

    Prefixes: `/api/v1/` bank API (signed), `/callbacks/v1/` (signed), `/backoffice/api/v1/` (bearer token),
    `/public/` (none), and `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`; the back office's
    HTML pages under `/backoffice/` (session cookie; gateway.web), with `/` leading there.
    """
    api = container.settings.api
    answer_malformed_requests_with_problems()
    app = web.Application(
        # `pages` last: it serves only the HTML pages (gateway.web), after the API's own checks.
        middlewares=[request_context, sign_responses, errors_middleware, authenticate, idempotency, pages],
        # The ceiling for any route (routing.body_limit caps each route's own limit at it), so aiohttp never
        # refuses a body the route would take; the middleware enforces each route's limit with a problem.
        client_max_size=max(api.max_upload_bytes, api.max_json_bytes),
    )
    app[CONTAINER] = container
    app[API] = ApiState.from_container(container)
    app[API_DOCS] = {}
    app.router.add_routes(ops.routes)
    app.router.add_routes(docs.routes)
    app.router.add_routes(backoffice.routes)
    app.router.add_routes(public.routes)
    if container.services is not None:  # the case routes: a framework-only container serves none
        app[utilities.SERVICES] = container.services
        for table in (bank.routes, review.routes, register.routes, callbacks.routes, utilities.routes):
            app.router.add_routes(table)
    app.router.add_routes(list(routes))
    if container.services is not None:  # the back office's pages work cases
        setup_web(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await container.open(dispatch=dispatch)
        try:
            yield
        finally:
            await container.close()

    app.cleanup_ctx.append(lifecycle)
    return app
