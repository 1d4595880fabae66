"""What the HTTP layer builds once per application from the container: verifier, stores, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from certs import RequestVerifier, SM2PrivateKey
from gateway.api.lookup_limit import PUBLIC_LOOKUP_FAILURES, PUBLIC_LOOKUP_WINDOW, FailedLookups
from gateway.bootstrap import Container
from gateway.security.idempotency import IdempotencyStore, RedisIdempotencyStore
from gateway.security.users import Lockout, UserDirectory
from gateway.settings import ApiSettings

__all__ = ["ApiState"]


@dataclass(frozen=True)
class ApiState:
    settings: ApiSettings
    verifier: RequestVerifier
    idempotency: IdempotencyStore
    users: UserDirectory
    registry_key: SM2PrivateKey
    public_lookups: FailedLookups  # failed look-ups by identifier, per caller address

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
            idempotency=_idempotency_store(container, now),
            users=UserDirectory(
                container.database,
                token_ttl=timedelta(minutes=api.token_ttl_minutes),
                clock=now,
                lockout=Lockout(api.login_max_failures, timedelta(minutes=api.login_lockout_minutes)),
            ),
            registry_key=container.registry_key,
            public_lookups=FailedLookups(PUBLIC_LOOKUP_FAILURES, PUBLIC_LOOKUP_WINDOW, clock=container.clock),
        )


def _idempotency_store(container: Container, now: Callable[[], datetime]) -> IdempotencyStore:
    """Claims in Redis when the gateway has it (one cheap round trip per POST), else in the database."""
    api = container.settings.api
    lease, retention = api.idempotency_lease_seconds, timedelta(hours=api.idempotency_retention_hours)
    if container.redis is not None:
        return RedisIdempotencyStore(
            container.database, container.redis, lease_seconds=lease, retention=retention, clock=now
        )
    return IdempotencyStore(container.database, lease_seconds=lease, retention=retention, clock=now)
