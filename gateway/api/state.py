"""What the HTTP layer builds once per application from the container: verifier, stores, settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from certs import RequestVerifier, SM2PrivateKey
from gateway.bootstrap import Container
from gateway.security.idempotency import IdempotencyStore
from gateway.security.users import UserDirectory
from gateway.settings import ApiSettings

__all__ = ["ApiState"]


@dataclass(frozen=True)
class ApiState:
    settings: ApiSettings
    verifier: RequestVerifier
    idempotency: IdempotencyStore
    users: UserDirectory
    registry_key: SM2PrivateKey

    @classmethod
    def from_container(cls, container: Container) -> ApiState:
        api = container.settings.api

        def now() -> datetime:
            return datetime.fromtimestamp(container.clock(), UTC)

        return cls(
            settings=api,
            verifier=RequestVerifier(
                container.trust,
                container.nonces,
                skew_seconds=container.settings.request_skew_seconds,
                clock=container.clock,
            ),
            idempotency=IdempotencyStore(
                container.database,
                lease_seconds=api.idempotency_lease_seconds,
                retention=timedelta(hours=api.idempotency_retention_hours),
                clock=now,
            ),
            users=UserDirectory(
                container.database, token_ttl=timedelta(minutes=api.token_ttl_minutes), clock=now
            ),
            registry_key=container.registry_key,
        )
