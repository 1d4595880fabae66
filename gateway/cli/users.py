"""`gateway users add|list`: accounts of the back office and the bank and provider portals (argon2id
password hashes, roles, institution and branch)."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from gateway.cli.common import Subparsers, open_database
from gateway.db.tables.api import BackofficeUser
from gateway.errors import InputError
from gateway.security.roles import Role
from gateway.security.users import UserDirectory, check_institution_known
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser("users", help="back-office users / 后台用户")
    commands = group.add_subparsers(title="users commands", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="create a user with one or more roles")
    add.add_argument("username")
    add.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    add.add_argument("--display-name", default="", help="the name shown in the back office, e.g. 张三")
    add.add_argument(
        "--institution",
        default=None,
        help="bank and provider users: the institution's code (e.g. boc-dg, gas); none for registry staff",
    )
    add.add_argument("--branch", default=None, help="bank clerks and branch supervisors: their branch (网点)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (scripts)"
    )
    add.add_argument(
        "--permanent",
        action="store_true",
        help="the password is not an initial one: no change required at first sign-in (service accounts)",
    )
    add.set_defaults(run=_add)
    listing = commands.add_parser("list", help="list users and their roles")
    listing.set_defaults(run=_list)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        # getpass would fall back to reading a pipe with a warning, or fail with EOFError on none.
        raise InputError(
            "no terminal to ask for the password: pipe it in with --password-stdin",
            "没有可输入密码的终端：请通过 --password-stdin 从标准输入提供密码",
        )
    first = getpass.getpass("password / 密码: ")
    if getpass.getpass("again / 再次输入: ") != first:
        raise InputError("the two passwords differ", "两次输入的密码不一致")
    return first


async def _add(args: argparse.Namespace, settings: Settings) -> int:
    roles = frozenset(Role(r) for r in args.roles)
    check_institution_known(roles, args.institution, banks=settings.banks, providers=settings.utilities)
    password = _read_password(args.password_stdin)
    async with open_database(settings) as db:
        actor = await UserDirectory(db).add(
            args.username,
            password,
            roles,
            args.display_name,
            must_change_password=not args.permanent,
            institution=args.institution,
            branch=args.branch,
        )
    print(f"created user {actor.username} ({', '.join(sorted(actor.roles))}) id={actor.id}")
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    table = BackofficeUser.__table__  # type: ignore[attr-defined]
    async with open_database(settings) as db, db.session() as session:
        conn = await session.connection()
        rows = (await conn.execute(select(table).order_by(table.c.username))).all()
    for row in rows:
        state = "" if row.active else " (disabled)"
        where = f"{row.institution or 'registry'}{'/' + row.branch if row.branch else ''}"
        print(f"{row.username}\t{row.display_name}\t{where}\t{','.join(row.roles)}{state}")
    return 0
