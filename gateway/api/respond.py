"""Responses written inside a use case's transaction, so an idempotent POST's effect and its stored reply commit together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel

from gateway.api.keys import CONTAINER, IDEMPOTENCY
from gateway.db.uow import UnitOfWork
from gateway.errors import ConfigError
from gateway.services.context import ServiceContext

T = TypeVar("T")
JSON = "application/json; charset=utf-8"


def services(request: web.Request) -> ServiceContext:
    found = request.app[CONTAINER].services
    if found is None:
        raise ConfigError("this gateway process has no case services configured", "本网关进程未配置业务服务")
    return found


@dataclass
class Reply(Generic[T]):
    """Renders the reply from the result (a case, a material) at the end of the transaction, and stores it there."""

    request: web.Request
    render: Callable[[T], BaseModel]
    status: int = 200
    body: bytes = b""

    async def __call__(self, uow: UnitOfWork, result: T) -> None:
        self.body = self.render(result).model_dump_json().encode()
        claim = self.request.get(IDEMPOTENCY)
        if claim is not None:
            await claim.complete(uow, self.status, self.body, JSON)

    def response(self) -> web.Response:
        return web.Response(
            body=self.body, status=self.status, content_type="application/json", charset="utf-8"
        )
