"""`gateway keys rotate-registry` and `gateway keys registry`: the registry's signing key and its history."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from gateway.cli.common import Subparsers
from gateway.registry_keys import DEFAULT_DAYS, REGISTRY_CODE, load_registry_keys, rotate_registry_key
from gateway.settings import Settings


def register(subparsers: Subparsers) -> None:
    group = subparsers.add_parser("keys", help="the registry's signing key / 登记机构签名密钥")
    commands = group.add_subparsers(title="keys commands", metavar="COMMAND", required=True)
    rotate = commands.add_parser(
        "rotate-registry",
        help="a new registry signing key and certificate from the gateway CA; earlier certificates stay "
        "verifiable / 更换登记机构签名密钥（已签发证照仍可验证）",
    )
    rotate.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"validity (default {DEFAULT_DAYS})")
    rotate.set_defaults(run=_rotate)
    listing = commands.add_parser("registry", help="every registry certificate kept / 登记机构证书历史")
    listing.set_defaults(run=_list)


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    # Key generation and the CA's files: blocking work, off the event loop.
    old, new = await asyncio.to_thread(rotate_registry_key, settings.data_dir, days=args.days)
    print(f"rotated / 已更换: {old.serial:X} → {new.serial:X} (valid until {new.not_after:%Y-%m-%d})")
    print(f"new certificate / 新证书: {settings.data_dir / REGISTRY_CODE / 'registry.pem'}")
    print(
        "restart the gateway processes to sign with it; give participants the new registry.pem "
        "/ 请重启网关进程，并向各参与方提供新的登记机构证书"
    )
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    keys = await asyncio.to_thread(load_registry_keys, settings.data_dir / REGISTRY_CODE)
    now = datetime.now(UTC)
    for certificate in keys.history:
        state = "in use / 使用中" if certificate == keys.certificate else "retired / 已停用"
        if certificate.not_after < now:
            state += ", expired / 已过期"
        print(
            f"{certificate.serial:<34X} {certificate.not_before:%Y-%m-%d} – {certificate.not_after:%Y-%m-%d}"
            f"  {state}"
        )
    return 0
