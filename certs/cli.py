"""gw-certs: keys, CSRs, the gateway CA, and file signatures for integrators and operators."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from certs import backends
from certs.anchor import TrustAnchor, check_validity
from certs.ca import REVOCATION_REASONS, CertificateAuthority
from certs.crl import OPENSSL_CRL_SIGNER_ID, armor_crl
from certs.curve import DEFAULT_SIGNER_ID
from certs.keyfile import read_password_file
from certs.keys import SM2PrivateKey, SM2PublicKey
from certs.x509 import PARTY_KINDS, Certificate, make_csr
from gateway.errors import BadSignature, ConfigError, GatewayError, InputError
from gateway.settings import CryptoSettings

Handler = Callable[[argparse.Namespace], int]
# `verify` exit status when the signature and dates hold but no CA was given to check the chain against.
EXIT_CHAIN_NOT_CHECKED = 3


def _password(path: Path | None) -> bytes | None:
    # Never a command-line argument (ps shows it): a file, read exactly as OpenSSL's -passin file:… reads it.
    if path is None:
        return None
    password = read_password_file(path.read_bytes())
    if password.endswith(b"\r"):
        print(
            f"note / 注意: the password in {path} ends with a carriage return (CRLF line ending); like OpenSSL, "
            "it is part of the password / 口令末尾的回车符（CRLF 换行）与 OpenSSL 一样计入口令",
            file=sys.stderr,
        )
    return password


def _write(path: Path | None, data: bytes, *, secret: bool = False) -> None:
    if path is None:
        sys.stdout.buffer.write(data)
        return
    if secret:
        path.touch(mode=0o600)
        path.chmod(0o600)
    path.write_bytes(data)


def _load_ca(args: argparse.Namespace) -> CertificateAuthority:
    return CertificateAuthority.load(args.dir, _password(args.ca_password_file))


def _signer_id(args: argparse.Namespace) -> bytes:
    return str(args.signer_id).encode() if args.signer_id is not None else DEFAULT_SIGNER_ID


def cmd_genkey(args: argparse.Namespace) -> int:
    key = SM2PrivateKey.generate()
    password = _password(args.password_file)
    if password is not None and args.format != "pkcs8":
        raise InputError("only PKCS#8 keys can be written encrypted", "只有 PKCS#8 格式的私钥可以加密保存")
    _write(args.out, key.to_pem(args.format, password=password), secret=True)
    if args.pubout is not None:
        _write(args.pubout, key.public_key.to_pem())
    print(f"SM2 key {key.public_key.fingerprint[:16]}… / 已生成 SM2 密钥", file=sys.stderr)
    return 0


def cmd_csr(args: argparse.Namespace) -> int:
    key = SM2PrivateKey.from_pem(args.key.read_bytes(), _password(args.password_file))
    _write(args.out, make_csr(key, args.party))
    return 0


def cmd_ca_init(args: argparse.Namespace) -> int:
    if (args.dir / "ca.key").exists():
        raise InputError(f"{args.dir} already holds a CA", f"{args.dir} 中已存在 CA，不会覆盖")
    ca = CertificateAuthority.create(args.name, args.days)
    ca.save(args.dir, _password(args.ca_password_file))
    print(f"CA created / 已创建 CA: {ca.certificate.subject}, serial {ca.certificate.serial:X}")
    print(f"certificate / 证书: {args.dir / 'ca.pem'}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    ca = _load_ca(args)
    if args.csr is not None:
        cert = ca.issue_from_csr(args.csr.read_bytes(), args.kind, args.days)
    else:
        if args.party is None:
            raise InputError(
                "--party is required with --pubkey or --key", "使用 --pubkey 或 --key 时须给出 --party"
            )
        if args.pubkey is not None:
            public_key = SM2PublicKey.from_pem(args.pubkey.read_bytes())
        else:
            public_key = SM2PrivateKey.from_pem(
                args.key.read_bytes(), _password(args.password_file)
            ).public_key
        cert = ca.issue(public_key, args.party, args.kind, args.days)
    ca.save(args.dir)
    _write(args.out, cert.pem)
    print(
        f"issued / 已签发: {cert.party_kind}:{cert.party_code} serial {cert.serial:X} until {cert.not_after:%Y-%m-%d}",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    ca = _load_ca(args)
    now = datetime.now(UTC)
    print(
        f"{'serial / 序列号':<34} {'kind':<9} {'party / 参与方':<24} {'not after / 到期':<12} status / 状态"
    )
    for record in ca.issued():
        if ca.is_revoked(record.serial):
            status = "revoked / 已吊销"
        elif record.not_after < now:
            status = "expired / 已过期"
        else:
            status = "valid / 有效"
        print(
            f"{record.serial:<34X} {record.party_kind:<9} {record.party_code:<24} "
            f"{record.not_after:%Y-%m-%d}   {status}"
        )
    return 0


def _parse_serial(text: str) -> int:
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        return int(cleaned, 16)
    except ValueError as exc:
        raise InputError(
            f"serial {text!r} is not hexadecimal (as `gw-certs list` prints it)",
            f"序列号 {text!r} 不是十六进制",
        ) from exc


def cmd_revoke(args: argparse.Namespace) -> int:
    ca = _load_ca(args)
    serial = _parse_serial(args.serial)
    ca.revoke(serial, args.reason)
    ca.save(args.dir)
    print(f"revoked / 已吊销: {serial:X} ({args.reason})")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    ca = _load_ca(args)
    signer_id = OPENSSL_CRL_SIGNER_ID if args.signer_id is None else str(args.signer_id).encode()
    der = ca.crl(args.days, signer_id=signer_id)
    _write(args.out, der if args.der else armor_crl(der))
    print(
        f"CRL / 吊销列表: {len(ca.revocations())} revoked / 已吊销, next update in {args.days} days / "
        f"{args.days} 天内须更新",
        file=sys.stderr,
    )
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    key = SM2PrivateKey.from_pem(args.key.read_bytes(), _password(args.password_file))
    signer_id = _signer_id(args)
    _write(args.out, key.sign(args.file.read_bytes(), signer_id))
    used = backends.for_signer_id(signer_id).name
    print(f"signed with {used}, signer ID {signer_id.decode()} / 已签名（{used}）", file=sys.stderr)
    return 0


def _trust_anchor(args: argparse.Namespace) -> TrustAnchor | None:
    """The CA to check a certificate against: ca.pem and revoked.json of --ca-dir (never ca.key), or
    --ca-cert with its signed --crl."""
    if args.ca_dir is not None:
        if args.crl is not None:
            raise InputError(
                "--crl goes with --ca-cert; --ca-dir reads its own revoked.json",
                "--crl 须与 --ca-cert 一起使用；--ca-dir 读取目录中的 revoked.json",
            )
        return TrustAnchor.load(args.ca_dir)
    if args.ca_cert is None:
        return None
    certificate = Certificate.from_pem(args.ca_cert.read_bytes())
    if args.crl is None:
        raise InputError(
            "--ca-cert needs --crl (the CA's revocation list, from gw-certs crl)",
            "使用 --ca-cert 时须以 --crl 给出 CA 的吊销列表",
        )
    return TrustAnchor.from_crl(certificate, args.crl.read_bytes())


def cmd_verify(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"verified": False}
    try:
        code = _verify(args, report)
    except GatewayError as exc:
        if not args.json:
            raise
        report["error"] = exc.message_en
        report["error_zh"] = exc.message_zh
        code = 1
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return code


def _verify(args: argparse.Namespace, report: dict[str, Any]) -> int:
    if args.cert is None:
        public_key = SM2PublicKey.from_pem(args.pubkey.read_bytes())
        public_key.verify(args.signature.read_bytes(), args.file.read_bytes(), _signer_id(args))
        report.update(verified=True, signature="ok", key=public_key.fingerprint)
        if not args.json:
            print(f"Verified OK / 验证通过 (public key / 公钥 {public_key.fingerprint[:16]}…)")
        return 0
    cert = Certificate.from_pem(args.cert.read_bytes())
    report.update(party=cert.party_code, kind=cert.party_kind, serial=format(cert.serial, "X"))
    report.update(not_after=cert.not_after.isoformat(), chain="not_checked", revocation="not_checked")
    anchor = _trust_anchor(args)
    if anchor is None:
        check_validity(cert, datetime.now(UTC))  # dates are always checked, with or without a CA
    else:
        anchor.verify(cert)  # chain, policy, revocation, validity
        report.update(chain="ok", revocation="ok")
    report["validity"] = "ok"
    cert.public_key.verify(args.signature.read_bytes(), args.file.read_bytes(), _signer_id(args))
    report["signature"] = "ok"
    who = f"{cert.party_kind}:{cert.party_code}"
    if anchor is not None:
        report["verified"] = True
        if not args.json:
            print(
                f"Verified OK / 验证通过 ({who}; chain, revocation and validity checked / 证书链、吊销与有效期已校验)"
            )
        return 0
    if not args.json:
        print(
            f"Signature OK, certificate chain NOT checked / 签名有效，但未校验证书链 ({who}, valid until "
            f"{cert.not_after:%Y-%m-%d}).\nAnyone can make a certificate with this name: pass --ca-dir or "
            "--ca-cert with --crl to check who issued it / 任何人都能制作同名证书，请用 --ca-dir 或 --ca-cert "
            "与 --crl 校验签发者"
        )
    return EXIT_CHAIN_NOT_CHECKED


def cmd_info(args: argparse.Namespace) -> int:
    chosen_by = "--backend" if args.backend else "GW_CRYPTO_BACKEND" if args.crypto.crypto_backend else None
    how = f"set by {chosen_by}" if chosen_by else "default: the fastest installed"
    print(f"backend in use / 当前后端: {backends.backend_name()} ({how})")
    print(
        f"signer ID / 签名者标识: {args.crypto.signer_id} (GM/T 0009 default, fixed by the interface contract; "
        "--signer-id on sign/verify for other IDs)"
    )
    print(f"installed / 已安装: {', '.join(backends.available_backends())}")
    return 0


def _crypto_settings() -> CryptoSettings:
    """GW_CRYPTO_BACKEND and GW_SIGNER_ID, as every gateway command reads them; a bad value is an error."""
    try:
        return CryptoSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"GW_{'_'.join(map(str, error['loc'])).upper()}={error.get('input')!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid setting: {problems}", f"配置无效：{problems}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gw-certs",
        description="SM2 keys, CSRs, the gateway CA and file signatures, in formats OpenSSL 3 reads and writes.",
    )
    parser.add_argument(
        "--backend",
        choices=backends.PREFERENCE,
        help="SM2 implementation (default: GW_CRYPTO_BACKEND, else the fastest installed)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def ca_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--dir", type=Path, required=True, help="CA directory (ca.key, ca.pem, serials.json, …)"
        )
        sub.add_argument("--ca-password-file", type=Path, help="file whose first line decrypts ca.key")

    def key_password(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--password-file", type=Path, help="file whose first line is the key's password")

    sub = command("genkey", cmd_genkey, "generate an SM2 private key (PEM)")
    sub.add_argument("-o", "--out", type=Path, help="private key file (default: stdout)")
    sub.add_argument("--format", choices=("pkcs8", "sec1"), default="pkcs8")
    sub.add_argument("--pubout", type=Path, help="also write the public key (SubjectPublicKeyInfo PEM)")
    key_password(sub)

    sub = command("csr", cmd_csr, "make a PKCS#10 certificate request with CN = participant code")
    sub.add_argument("--key", type=Path, required=True)
    sub.add_argument("--party", required=True, help="participant code, e.g. icbc-dg")
    sub.add_argument("-o", "--out", type=Path)
    key_password(sub)

    sub = command("ca-init", cmd_ca_init, "create the gateway root CA in a new directory")
    ca_options(sub)
    sub.add_argument("--name", default="Gateway Root CA")
    sub.add_argument("--days", type=int, default=3650)

    sub = command("issue", cmd_issue, "issue a participant certificate from a CSR, a public key or a key")
    ca_options(sub)
    source = sub.add_mutually_exclusive_group(required=True)
    source.add_argument("--csr", type=Path)
    source.add_argument("--pubkey", type=Path)
    source.add_argument("--key", type=Path)
    sub.add_argument("--party", help="participant code (with --pubkey or --key)")
    sub.add_argument("--kind", required=True, choices=sorted(PARTY_KINDS))
    sub.add_argument("--days", type=int, default=825)
    sub.add_argument("-o", "--out", type=Path, help="certificate file (default: stdout)")
    key_password(sub)

    sub = command("list", cmd_list, "list the certificates this CA issued")
    ca_options(sub)

    sub = command("revoke", cmd_revoke, "revoke a certificate by serial (hex, as listed)")
    ca_options(sub)
    sub.add_argument("serial")
    sub.add_argument("--reason", default="unspecified", choices=sorted(REVOCATION_REASONS))

    sub = command("sign", cmd_sign, "sign a file: DER signature, as `openssl dgst -sm3 -sign` makes")
    sub.add_argument("file", type=Path)
    sub.add_argument("--key", type=Path, required=True)
    sub.add_argument("-o", "--out", type=Path, help="signature file (default: stdout)")
    sub.add_argument("--signer-id", help="SM2 signer ID (default 1234567812345678)")
    key_password(sub)

    sub = command("crl", cmd_crl, "publish the revocations as an X.509 CRL signed by the CA")
    ca_options(sub)
    sub.add_argument("-o", "--out", type=Path, help="CRL file (default: stdout)")
    sub.add_argument("--days", type=int, default=7, help="days until nextUpdate (default 7)")
    sub.add_argument("--der", action="store_true", help="DER instead of PEM")
    sub.add_argument(
        "--signer-id",
        help="SM2 signer ID of the CRL signature (default: empty, the only one OpenSSL 3 checks CRLs with; "
        "1234567812345678 for GM/T 0009 relying parties)",
    )

    sub = command(
        "verify",
        cmd_verify,
        "verify a file's signature with a certificate (its dates always; its chain with --ca-dir or "
        "--ca-cert and --crl; exit 3 when the chain was not checked) or a public key",
    )
    sub.add_argument("file", type=Path)
    sub.add_argument("--signature", type=Path, required=True, help="DER (or raw 64-byte r‖s) signature")
    signer = sub.add_mutually_exclusive_group(required=True)
    signer.add_argument("--cert", type=Path)
    signer.add_argument("--pubkey", type=Path)
    anchor = sub.add_mutually_exclusive_group()
    anchor.add_argument("--ca-dir", type=Path, help="check the chain against ca.pem and revoked.json here")
    anchor.add_argument(
        "--ca-cert", type=Path, help="check the chain against this CA certificate (with --crl)"
    )
    sub.add_argument("--crl", type=Path, help="the CA's CRL (PEM or DER, from gw-certs crl)")
    # Accepted so existing scripts keep working: verifying never reads ca.key.
    sub.add_argument("--ca-password-file", type=Path, help=argparse.SUPPRESS)
    sub.add_argument("--signer-id")
    sub.add_argument("--json", action="store_true", help="print the result as JSON")

    command("info", cmd_info, "show the SM2 backend in use and the installed ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.crypto = _crypto_settings()
        backends.use_backend(args.backend or args.crypto.crypto_backend)
        handler: Handler = args.handler
        return handler(args)
    except BadSignature as exc:
        print(f"验证失败：{exc.message_zh}\nverification failed: {exc.message_en}", file=sys.stderr)
        return 1
    except GatewayError as exc:
        print(f"错误：{exc.message_zh}\nerror: {exc.message_en}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"错误：无法读写文件 {exc.filename}\nerror: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
