"""Back-office users: argon2id password hashes, sessions stored hashed with an expiry, roles, lockout."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from certs import sm3_hex
from gateway.db import Database
from gateway.db.tables.api import BackofficeToken, BackofficeUser
from gateway.errors import Conflict, FieldReason, InputError, LoginRequired, NotFound
from gateway.security.passwords import MIN_PASSWORD_LENGTH, check_password
from gateway.security.roles import Realm, Role

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Actor",
    "IssuedToken",
    "Lockout",
    "UserDirectory",
    "check_institution_known",
    "check_membership",
]

if TYPE_CHECKING:
    from gateway.db.uow import UnitOfWork

_CHINA = ZoneInfo("Asia/Shanghai")
_USERS = BackofficeUser.__table__  # type: ignore[attr-defined]
_TOKENS = BackofficeToken.__table__  # type: ignore[attr-defined]
# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
_HASHER = PasswordHasher()
_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")  # secrets.token_urlsafe(_TOKEN_BYTES) is 43 of these


@dataclass(frozen=True)
class Actor:
    """The signed-in user of a request (registry, bank or provider staff); `id` is what audit records name."""

    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    # An initial or reset password: the back office lets the user do nothing but change it.
    must_change_password: bool = False
    institution: str | None = None  # a bank's or provider's participant code; None for registry staff
    branch: str | None = None  # a bank clerk's or branch supervisor's branch (网点)

    @property
    def audit_name(self) -> str:
        return f"user:{self.username}"

    @property
    def realm(self) -> Realm:
        """Every role of a user is of one realm (`UserDirectory.add` sees to it)."""
        return next(iter(self.roles)).realm if self.roles else Realm.REGISTRY


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to the client that logged in; only its SM3 hash is stored
    expires_at: datetime
    actor: Actor


def _bad_login() -> LoginRequired:
    # One message for unknown user and wrong password, so the answer does not reveal which usernames exist.
    return LoginRequired("wrong username or password", "用户名或密码错误")


@dataclass(frozen=True)
class Lockout:
    """登录失败处理: after `max_failures` wrong passwords in a row the account is locked for `duration`."""

    max_failures: int = 5
    duration: timedelta = timedelta(minutes=15)


def _locked(until: datetime) -> LoginRequired:
    local = until.astimezone(_CHINA).strftime("%H:%M")
    return LoginRequired(
        f"too many failed sign-ins: the account is locked until {until:%H:%M} UTC",
        f"登录失败次数过多，账户已锁定，请于 {local} 后再试",
    )


class UserDirectory:
    """Back-office users and their sessions on the gateway database."""

    def __init__(
        self,
        db: Database,
        *,
        token_ttl: timedelta = timedelta(hours=8),
        clock: Callable[[], datetime] | None = None,
        lockout: Lockout | None = None,
    ) -> None:
        self._db = db
        self.token_ttl = token_ttl
        self.lockout = lockout or Lockout()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._dummy_hash: str | None = None

    async def add(
        self,
        username: str,
        password: str,
        roles: Iterable[Role],
        display_name: str = "",
        *,
        must_change_password: bool = False,
        institution: str | None = None,
        branch: str | None = None,
    ) -> Actor:
        """Create a user; raises InputError for a weak password, no role, or roles that do not fit the
        institution and branch (see `check_membership`), Conflict for a taken name.
        `must_change_password` marks an initial password handed to a person (changed at first sign-in)."""
        role_set = frozenset(Role(r) for r in roles)
        institution, branch = (institution or None), (branch or None)
        check_membership(role_set, institution, branch)
        check_password(password, username=username)
        # argon2 costs ~50 ms of CPU and 64 MiB by design: never on the event loop.
        password_hash = await asyncio.to_thread(_HASHER.hash, password)
        actor = Actor(
            uuid.uuid4().hex,
            username,
            display_name or username,
            role_set,
            must_change_password,
            institution,
            branch,
        )
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
                        failed_logins=0,
                        must_change_password=must_change_password,
                        institution=institution,
                        branch=branch,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"user {username!r} already exists", f"用户 {username} 已存在") from exc
        return actor

    async def login(
        self,
        username: str,
        password: str,
        *,
        client: str = "",
        ttl: timedelta | None = None,
        realm: Realm = Realm.REGISTRY,
    ) -> IssuedToken:
        """Check the password and open a session (`ttl`, default `token_ttl`) in `realm` (the back office,
        the bank portal or the provider portal); raises LoginRequired for a wrong name or password, for a
        user of another realm (the same answer: which names exist elsewhere is not revealed) and for a
        locked account. Each failure is audited with the user name and the client's address, and the
        fifth in a row locks the account (web and JSON sign-in alike)."""
        async with self._db.session() as session:
            conn = await session.connection()
            row = (await conn.execute(select(_USERS).where(_USERS.c.username == username))).one_or_none()
        now = self._clock()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            await self._audit_failure(username, client, "locked")
            raise _locked(row.locked_until)
        if row is None or not row.active or _actor(row).realm != realm:
            # Spend the same time as a real check, so response time does not reveal who exists.
            await asyncio.to_thread(self._verify_quietly, await self._dummy(), password)
            reason = "unknown" if row is None else "disabled" if not row.active else "other_realm"
            await self._audit_failure(username, client, reason)
            raise _bad_login()
        if not await asyncio.to_thread(self._verify_quietly, row.password_hash, password):
            locked_until = await self._count_failure(row.id, username, client, now)
            if locked_until is not None:
                raise _locked(locked_until)
            raise _bad_login()
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        expires_at = now + (ttl or self.token_ttl)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                insert(_TOKENS).values(
                    token_hash=sm3_hex(token.encode()), user_id=row.id, created_at=now, expires_at=expires_at
                )
            )
            if row.failed_logins or row.locked_until is not None:
                await conn.execute(
                    update(_USERS).where(_USERS.c.id == row.id).values(failed_logins=0, locked_until=None)
                )
        return IssuedToken(token, expires_at, _actor(row))

    async def _count_failure(
        self, user_id: str, username: str, client: str, now: datetime
    ) -> datetime | None:
        """One more wrong password, counted in the database (several gateway processes share it); the
        lock time when this one reaches the limit."""
        locked_until = None
        async with self._db.transaction() as uow:
            count = (
                await uow.connection.execute(
                    update(_USERS)
                    .where(_USERS.c.id == user_id)
                    .values(failed_logins=_USERS.c.failed_logins + 1)
                    .returning(_USERS.c.failed_logins)
                )
            ).scalar_one()
            if count >= self.lockout.max_failures:
                locked_until = now + self.lockout.duration
                await uow.connection.execute(
                    update(_USERS)
                    .where(_USERS.c.id == user_id)
                    .values(failed_logins=0, locked_until=locked_until)
                )
            _audit_failure_in(uow, username, client, "wrong_password", count, locked_until)
        return locked_until

    async def _audit_failure(self, username: str, client: str, reason: str) -> None:
        async with self._db.transaction() as uow:
            _audit_failure_in(uow, username, client, reason, None, None)

    async def authenticate(self, token: str, *, idle: timedelta | None = None) -> Actor:
        """The user behind a session token; raises LoginRequired when it is unknown, expired or disabled.
        With `idle` (web sessions), each use moves the expiry to `idle` from now, never beyond
        `token_ttl` after sign-in: a session left alone that long ends."""
        if not _TOKEN_SHAPE.fullmatch(token):
            # Not a token we issued (and perhaps undecodable header bytes, which cannot be hashed).
            raise LoginRequired("not signed in, or the session was ended", "未登录或会话已结束")
        token_hash = sm3_hex(token.encode())
        async with self._db.session() as session:
            conn = await session.connection()
            row = (
                await conn.execute(
                    select(
                        _USERS,
                        _TOKENS.c.expires_at.label("token_expires_at"),
                        _TOKENS.c.created_at.label("token_created_at"),
                    )
                    .join(_TOKENS, _TOKENS.c.user_id == _USERS.c.id)
                    .where(_TOKENS.c.token_hash == token_hash)
                )
            ).one_or_none()
        if row is None or not row.active:
            raise LoginRequired("not signed in, or the session was ended", "未登录或会话已结束")
        now = self._clock()
        if row.token_expires_at <= now:
            raise LoginRequired("the session has expired: sign in again", "会话已过期，请重新登录")
        if idle is not None:
            await self._slide(token_hash, row.token_created_at, row.token_expires_at, idle, now)
        return _actor(row)

    async def _slide(
        self, token_hash: str, created_at: datetime, expires_at: datetime, idle: timedelta, now: datetime
    ) -> None:
        # Written at most once a minute per session: a page load does not cost a write each time.
        if expires_at - idle > now - timedelta(minutes=1):
            return
        new_expiry = min(now + idle, created_at + self.token_ttl)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(_TOKENS).where(_TOKENS.c.token_hash == token_hash).values(expires_at=new_expiry)
            )

    async def change_password(self, username: str, current: str, new: str) -> None:
        """The user's own change: the current password first, then the rules; clears the must-change mark
        and ends the user's other sessions."""
        async with self._db.session() as session:
            conn = await session.connection()
            row = (await conn.execute(select(_USERS).where(_USERS.c.username == username))).one_or_none()
        if row is None or not await asyncio.to_thread(self._verify_quietly, row.password_hash, current):
            raise InputError(
                "the current password is wrong",
                "当前密码不正确",
                [FieldReason("current", "当前密码不正确", "the current password is wrong")],
            )
        check_password(new, username=username, field="new")
        if new == current:
            raise InputError(
                "the new password must differ from the current one",
                "新密码不得与当前密码相同",
                [FieldReason("new", "新密码不得与当前密码相同", "must differ from the current password")],
            )
        await self._set_password(row.id, new, must_change=False)

    async def reset_password(self, username: str, new: str) -> None:
        """An administrator's reset: the user must change the password at the next sign-in; unlocks."""
        user = await self.get(username)
        check_password(new, username=username)
        await self._set_password(user.id, new, must_change=True)

    async def list_users(
        self, *, institution: str | None = None
    ) -> list[tuple[Actor, bool, datetime | None]]:
        """Every user (of one institution when given) with whether it is active and until when it is
        locked (None: not locked)."""
        query = select(_USERS).order_by(_USERS.c.username)
        if institution is not None:
            query = query.where(_USERS.c.institution == institution)
        async with self._db.session() as session:
            conn = await session.connection()
            rows = (await conn.execute(query)).all()
        now = self._clock()
        return [
            (_actor(r), bool(r.active), r.locked_until if r.locked_until and r.locked_until > now else None)
            for r in rows
        ]

    async def set_active(self, username: str, active: bool) -> None:
        """Disable (every session ends) or enable a user."""
        user = await self.get(username)
        async with self._db.engine.begin() as conn:
            await conn.execute(update(_USERS).where(_USERS.c.id == user.id).values(active=active))
            if not active:
                await conn.execute(delete(_TOKENS).where(_TOKENS.c.user_id == user.id))

    async def set_roles(self, username: str, roles: Iterable[Role]) -> None:
        """New roles of the user's own realm (a registry examiner cannot become a bank clerk)."""
        role_set = frozenset(Role(r) for r in roles)
        user = await self.get(username)
        check_membership(role_set, user.institution, user.branch)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(_USERS).where(_USERS.c.id == user.id).values(roles=sorted(r.value for r in role_set))
            )

    async def _set_password(self, user_id: str, new: str, *, must_change: bool) -> None:
        password_hash = await asyncio.to_thread(_HASHER.hash, new)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                update(_USERS)
                .where(_USERS.c.id == user_id)
                .values(
                    password_hash=password_hash,
                    must_change_password=must_change,
                    failed_logins=0,
                    locked_until=None,
                )
            )
            await conn.execute(delete(_TOKENS).where(_TOKENS.c.user_id == user_id))

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


def check_membership(roles: frozenset[Role], institution: str | None, branch: str | None) -> None:
    """One realm per user: registry roles with no institution; bank roles with a bank (and a branch for a
    clerk or a branch supervisor); the provider role with a provider. Raises InputError naming the field."""
    if not roles:
        raise InputError(
            "a user needs at least one role",
            "用户至少需要一个岗位角色",
            [FieldReason("roles", "请至少选择一个岗位", "choose at least one role")],
        )
    realms = {r.realm for r in roles}
    if len(realms) > 1:
        raise InputError(
            "roles of the registry, a bank and a provider cannot be mixed",
            "登记机构、银行与联动单位的岗位不能混合授予",
            [FieldReason("roles", "岗位须属于同一类机构", "the roles must be of one kind of institution")],
        )
    realm = realms.pop()
    if realm is Realm.REGISTRY and institution:
        raise InputError(
            "registry staff belong to no bank or provider",
            "登记机构人员不属于银行或联动单位",
            [FieldReason("institution", "登记机构人员无需填写机构", "leave the institution empty")],
        )
    if realm is not Realm.REGISTRY and not institution:
        raise InputError(
            "a bank or provider user needs its institution",
            "银行或联动单位用户须指定所属机构",
            [FieldReason("institution", "请填写所属机构代码", "enter the institution's code")],
        )
    if any(r.needs_branch for r in roles) and not branch:
        raise InputError(
            "a clerk or branch supervisor needs a branch",
            "柜员和网点主管须指定所属网点",
            [FieldReason("branch", "请填写所属网点", "enter the branch")],
        )


def check_institution_known(
    roles: frozenset[Role], institution: str | None, *, banks: Iterable[str], providers: Iterable[str]
) -> None:
    """A bank user's institution is a configured bank, a provider user's a configured provider."""
    realms = {r.realm for r in roles}
    known = set(banks) if Realm.BANK in realms else set(providers) if Realm.PROVIDER in realms else None
    if known is not None and institution not in known:
        raise InputError(
            f"no such {'bank' if Realm.BANK in realms else 'provider'}: {institution}",
            f"未配置此机构：{institution}",
            [
                FieldReason(
                    "institution", "不是已配置的银行或联动单位代码", "not a configured bank or provider code"
                )
            ],
        )


def _actor(row: object) -> Actor:
    return Actor(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        roles=frozenset(Role(r) for r in row.roles),  # type: ignore[attr-defined]
        must_change_password=bool(row.must_change_password),  # type: ignore[attr-defined]
        institution=row.institution,  # type: ignore[attr-defined]
        branch=row.branch,  # type: ignore[attr-defined]
    )


def _audit_failure_in(
    uow: UnitOfWork, username: str, client: str, reason: str, count: int | None, locked_until: datetime | None
) -> None:
    details: dict[str, object] = {"username": username, "client": client, "reason": reason}
    if count is not None:
        details["failures"] = count
    if locked_until is not None:
        details["locked_until"] = locked_until
    uow.audit(
        actor=f"anonymous@{client or 'unknown'}",
        action="backoffice.login_failed" if locked_until is None else "backoffice.account_locked",
        subject=f"username:{username[:100]}",
        details=details,
    )
