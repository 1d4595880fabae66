"""The utility providers' portal: a provider's staff see and settle their account-transfer jobs."""

from aiohttp import web

from gateway.web.provider import jobs

routes: list[web.AbstractRouteDef] = [*jobs.routes]

__all__ = ["routes"]
