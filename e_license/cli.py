"""`gw-elicense`: verify a certificate file offline, render a sample, check an identifier or a number."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import certs
from gateway.errors import GatewayError
from gateway.settings import RegistrySettings

from .identifier import LicenseIdentifier
from .numbers import parse_number
from .render import render
from .samples import sample_ownership, sample_proof
from .signing import issue
from .verify_command import verify_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gw-elicense", description="电子证照工具 / e-licence tools")
    commands = parser.add_subparsers(dest="command", required=True)

    verify = commands.add_parser("verify", help="verify a certificate file offline / 离线验证电子证照文件")
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--cert",
        type=Path,
        action="append",
        default=[],
        help="a registry certificate (PEM); repeat it for earlier ones / 登记机构证书，可重复给出历史证书",
    )
    verify.add_argument(
        "--cert-dir",
        type=Path,
        help="a directory of registry certificates (*.pem), e.g. var/registry/history / 登记机构证书目录",
    )
    verify.add_argument(
        "--ca",
        type=Path,
        help="the gateway CA certificate (PEM): trusts every registry certificate it issued / 网关CA证书",
    )
    verify.add_argument(
        "--online",
        metavar="URL",
        help="ask the gateway at URL for the certificate's status (有效/已注销/已作废) / 联网查询证照状态",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON, also on failure")

    sample = commands.add_parser("render", help="render a sample certificate / 生成样例证书")
    sample.add_argument("--kind", choices=("ownership", "proof"), default="ownership")
    sample.add_argument("--out", type=Path, help="default: sample-<kind>.pdf")
    sample.add_argument("--key", type=Path, help="registry private key (PEM): also sign and embed")
    sample.add_argument("--cert", type=Path, help="registry certificate (PEM), with --key")

    check_id = commands.add_parser("identifier", help="check a GB/T 36904 identifier / 校验证照标识")
    check_id.add_argument("identifier")
    check_number = commands.add_parser("number", help="parse a certificate number / 解析证号")
    check_number.add_argument("number")

    args = parser.parse_args(argv)
    try:
        if args.command == "verify":
            if not args.cert and args.cert_dir is None and args.ca is None:
                parser.error("give --cert, --cert-dir or --ca / 须给出 --cert、--cert-dir 或 --ca")
            return verify_command(args.file, args.cert, args.cert_dir, args.ca, args.online, args.json)
        if args.command == "render":
            return _render(args.kind, args.out, args.key, args.cert)
        if args.command == "identifier":
            identifier = LicenseIdentifier.parse(args.identifier)
            print(f"有效 / valid: {identifier} (version {identifier.version:03d}, check {identifier.check})")
            return 0
        number = parse_number(args.number)
        print(f"有效 / valid: {number} ({number.kind.name_zh}, {number.year}, seq {number.seq})")
        return 0
    except GatewayError as exc:
        print(f"{exc.message_zh}\n{exc.message_en}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"无法读写文件 / cannot read or write a file: {exc}", file=sys.stderr)
        return 2


def _render(kind: str, out: Path | None, key_path: Path | None, cert_path: Path | None) -> int:
    sample = sample_ownership if kind == "ownership" else sample_proof
    target = out or Path(f"sample-{kind}.pdf")
    if key_path is None:
        target.write_bytes(render(sample()))
    else:
        # Signed today: a verifier checks the registry certificate was valid on the PDF's issue date.
        content = sample(issue_date=datetime.now(ZoneInfo(RegistrySettings().timezone)).date())
        if cert_path is None:
            print("--key 需要同时给出 --cert / --key needs --cert", file=sys.stderr)
            return 2
        key = certs.SM2PrivateKey.from_pem(key_path.read_bytes())
        signer = certs.Certificate.from_pem(cert_path.read_bytes())
        target.write_bytes(issue(content, key, signer).distributable())
    print(f"{target} ({target.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
