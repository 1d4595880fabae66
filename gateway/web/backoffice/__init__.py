"""The registry's back office in a browser: sign-in, 待办, the case page and its actions."""

from aiohttp import web

from gateway.web.backoffice import actions, auth, cases, oversight, queue

routes: list[web.AbstractRouteDef] = [
    *auth.routes,
    *queue.routes,
    *cases.routes,
    *actions.routes,
    *oversight.routes,
]

__all__ = ["routes"]
