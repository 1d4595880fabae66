"""Back-office users: argon2id password hashes, bearer tokens stored hashed with an expiry, roles."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from certs import sm3_hex
from gateway.db import Database
from gateway.db.tables.api import BackofficeToken, BackofficeUser
from gateway.errors import Conflict, InputError, LoginRequired, NotFound
from gateway.security.roles import Role

__all__ = ["Actor", "IssuedToken", "UserDirectory"]

_USERS = BackofficeUser.__table__  # type: ignore[attr-defined]
_TOKENS = BackofficeToken.__table__  # type: ignore[attr-defined]
# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")  # secrets.token_urlsafe(_TOKEN_BYTES) is 43 of these


@dataclass(frozen=True)
class Actor:
    """The signed-in back-office user of a request; `id` is what audit records name."""

    id: str
    username: str
    display_name: str
    roles: frozenset[Role]

    @property
    def audit_name(self) -> str:
        return f"user:{self.username}"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to the client that logged in; only its SM3 hash is stored
    expires_at: datetime
    actor: Actor


def _bad_login() -> LoginRequired:
    # One message for unknown user and wrong password, so the answer does not reveal which usernames exist.
    return LoginRequired("wrong username or password", "用户名或密码错误")


class UserDirectory:
    """Back-office users and their sessions on the gateway database."""

    def __init__(
        self,
        db: Database,
        *,
        token_ttl: timedelta = timedelta(hours=8),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self.token_ttl = token_ttl
        self._clock = clock or (lambda: datetime.now(UTC))
        self._dummy_hash: str | None = None

    async def add(self, username: str, password: str, roles: Iterable[Role], display_name: str = "") -> Actor:
        """Create a user; raises InputError for a short password or no role, Conflict for a taken name."""
        role_set = frozenset(Role(r) for r in roles)
        if not role_set:
            raise InputError("a user needs at least one role", "用户至少需要一个岗位角色")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InputError(
                f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
                f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
            )
        # argon2 costs ~50 ms of CPU and 64 MiB by design: never on the event loop.
        password_hash = await asyncio.to_thread(_HASHER.hash, password)
        actor = Actor(uuid.uuid4().hex, username, display_name or username, role_set)
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(
                    insert(_USERS).values(
                        id=actor.id,
                        username=username,
                        display_name=actor.display_name,
                        password_hash=password_hash,
                        roles=sorted(r.value for r in role_set),
                        active=True,
                        created_at=self._clock(),
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists", f"用户 {username} 已存在") from exc
        return actor

    async def login(self, username: str, password: str) -> IssuedToken:
        """Check the password and issue a bearer token; raises LoginRequired for either mistake."""
        async with self._db.session() as session:
            conn = await session.connection()
            row = (await conn.execute(select(_USERS).where(_USERS.c.username == username))).one_or_none()
        if row is None or not row.active:
            # Spend the same time as a real check, so response time does not reveal who exists.
            await asyncio.to_thread(self._verify_quietly, await self._dummy(), password)
            raise _bad_login()
        if not await asyncio.to_thread(self._verify_quietly, row.password_hash, password):
            raise _bad_login()
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        now = self._clock()
        expires_at = now + self.token_ttl
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(_TOKENS).values(
                    token_hash=sm3_hex(token.encode()), user_id=row.id, created_at=now, expires_at=expires_at
                )
            )
        return IssuedToken(token, expires_at, _actor(row))

    async def authenticate(self, token: str) -> Actor:
        """The user behind a bearer token; raises LoginRequired when it is unknown, expired or disabled."""
        if not _TOKEN_SHAPE.fullmatch(token):
            # Not a token we issued (and perhaps undecodable header bytes, which cannot be hashed).
            raise LoginRequired("not signed in, or the session was ended", "未登录或会话已结束")
        async with self._db.session() as session:
            conn = await session.connection()
            row = (
                await conn.execute(
                    select(_USERS, _TOKENS.c.expires_at.label("token_expires_at"))
                    .join(_TOKENS, _TOKENS.c.user_id == _USERS.c.id)
                    .where(_TOKENS.c.token_hash == sm3_hex(token.encode()))
                )
            ).one_or_none()
        if row is None or not row.active:
            raise LoginRequired("not signed in, or the session was ended", "未登录或会话已结束")
        if row.token_expires_at <= self._clock():
            raise LoginRequired("the session has expired: sign in again", "会话已过期，请重新登录")
        return _actor(row)

    async def logout(self, token: str) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(_TOKENS).where(_TOKENS.c.token_hash == sm3_hex(token.encode())))

    async def purge_expired_tokens(self) -> int:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(delete(_TOKENS).where(_TOKENS.c.expires_at <= self._clock()))
        return result.rowcount

    async def get(self, username: str) -> Actor:
        async with self._db.session() as session:
            conn = await session.connection()
            row = (await conn.execute(select(_USERS).where(_USERS.c.username == username))).one_or_none()
        if row is None:
            raise NotFound(f"no user {username!r}", f"无此用户 {username}")
        return _actor(row)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(_HASHER.hash, secrets.token_hex(16))
        return self._dummy_hash

    @staticmethod
    def _verify_quietly(password_hash: str, password: str) -> bool:
        try:
            return _HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _actor(row: object) -> Actor:
    return Actor(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        roles=frozenset(Role(r) for r in row.roles),  # type: ignore[attr-defined]
    )
