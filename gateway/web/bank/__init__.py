"""银行端: the bank counter portal — a bank's clerks submit and follow their cases in a browser."""

from aiohttp import web

from gateway.web.bank import cases, users

routes: list[web.AbstractRouteDef] = [*cases.routes, *users.routes]

__all__ = ["routes"]
