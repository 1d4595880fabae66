"""The registry's back office in a browser: sign-in, 待办, the case page and its actions, oversight, admin."""

from aiohttp import web

from gateway.web.backoffice import actions, admin, cases, oversight, queue, register

routes: list[web.AbstractRouteDef] = [
    *queue.routes,
    *cases.routes,
    *actions.routes,
    *oversight.routes,
    *admin.routes,
    *register.routes,
]

__all__ = ["routes"]
