"""The utility providers' portal: a provider's staff see and settle their account-transfer jobs."""

from aiohttp import web

routes: list[web.AbstractRouteDef] = []

__all__ = ["routes"]
