"""银行端: the bank counter portal — a bank's clerks submit and follow their cases in a browser."""

from aiohttp import web

routes: list[web.AbstractRouteDef] = []

__all__ = ["routes"]
