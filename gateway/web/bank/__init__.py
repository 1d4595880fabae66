"""银行端: the bank counter portal — a bank's clerks submit and follow their cases in a browser."""

from aiohttp import web

from gateway.web.bank import cases, counter, users

# counter first: its /bank/cases/new must match before a /bank/cases/{case_id} route does.
routes: list[web.AbstractRouteDef] = [*counter.routes, *cases.routes, *users.routes]

__all__ = ["routes"]
