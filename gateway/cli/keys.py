"""`gateway keys rotate-registry` and `gateway keys registry`: the registry's signing key and its history."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from certs.keyfile import read_password_file
from gateway.cli.common import Subparsers
from gateway.registry_keys import (
    DEFAULT_DAYS,
    REGISTRY_CODE,
    load_registry_keys,
    registry_key_password,
    rotate_registry_key,
)
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
    rotate.add_argument(
        "--ca-dir",
        type=Path,
        help="the CA directory holding ca.key (default DATA_DIR/ca; in production the offline copy)",
    )
    rotate.add_argument(
        "--ca-password-file",
        type=Path,
        help="file whose first line decrypts ca.key (as OpenSSL -passin file:)",
    )
    rotate.set_defaults(run=_rotate)
    listing = commands.add_parser("registry", help="every registry certificate kept / 登记机构证书历史")
    listing.set_defaults(run=_list)


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    # Key generation and the CA's files: blocking work, off the event loop.
    ca_password = read_password_file(args.ca_password_file.read_bytes()) if args.ca_password_file else None
    old, new = await asyncio.to_thread(
        rotate_registry_key,
        settings.data_dir,
        days=args.days,
        ca_dir=args.ca_dir,
        ca_password=ca_password,
        key_password=registry_key_password(settings),
    )
    print(f"rotated / 已更换: {old.serial:X} → {new.serial:X} (valid until {new.not_after:%Y-%m-%d})")
    print(f"new certificate / 新证书: {settings.data_dir / REGISTRY_CODE / 'registry.pem'}")
    print(
        "restart the gateway processes to sign with it; give participants the new registry.pem "
        "/ 请重启网关进程，并向各参与方提供新的登记机构证书"
    )
    return 0


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    keys = await asyncio.to_thread(
        load_registry_keys, settings.data_dir / REGISTRY_CODE, registry_key_password(settings)
    )
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
