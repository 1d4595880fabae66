"""`gw-elicense verify`: check a PDF or OFD certificate offline, then (with --online) ask for its status.

A signature proves what the registry issued, not that it still holds: a certificate is cancelled (已注销)
or voided (已作废) by a later registration while its file stays the same. So a valid signature is reported
together with the reminder that the status is the register's, and `--online URL` asks the gateway's
public API (`/public/api/v1/certificates/{identifier}?sm3=…`) for it: the SM3 of the signed bytes shows
the gateway that the asker holds the file, as the look-up by identifier requires (no counting identifiers).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

import certs
from gateway.errors import GatewayError

from .verify import verify_file

STATUS_NOTICE_ZH = "签名有效只证明文件为登记机构所签发；证照当前是否有效（未注销、未作废）须向登记机构查询"
STATUS_NOTICE_EN = (
    "a valid signature proves the registry issued this file; whether the certificate is still in force "
    "(not cancelled or voided) must be asked of the register (--online URL)"
)
EXIT_INVALID, EXIT_NOT_IN_FORCE, EXIT_UNREACHABLE = 1, 3, 4
_TIMEOUT = 15


def verify_command(
    file: Path,
    cert_paths: list[Path],
    cert_dir: Path | None,
    ca_path: Path | None,
    online: str | None,
    as_json: bool,
) -> int:
    """Exit 0: valid (and in force, when asked online); 1: invalid; 3: void or cancelled; 4: no answer."""
    try:
        trusted = _trusted(cert_paths, cert_dir)
        ca = certs.Certificate.from_pem(ca_path.read_bytes()) if ca_path is not None else None
        if ca is not None:
            for cert in trusted:  # a history that the CA did not issue is a configuration mistake
                certs.TrustAnchor(ca).check_chain(cert)
        result = verify_file(file.read_bytes(), trusted, ca=ca)
    except GatewayError as exc:
        return _fail(as_json, EXIT_INVALID, exc.message_en, exc.message_zh)
    except OSError as exc:
        return _fail(as_json, 2, f"cannot read a file: {exc}", "无法读取文件")
    report: dict[str, Any] = {"valid": True, **asdict(result)}
    code = 0
    if online is None:
        report["status"] = None
        report["status_notice"] = STATUS_NOTICE_EN
        report["status_notice_zh"] = STATUS_NOTICE_ZH
    else:
        try:
            facts = _ask(online, result.identifier, result.sm3_hex)
        except (OSError, ValueError) as exc:
            report.update(status=None, status_error=str(exc))
            code = EXIT_UNREACHABLE
        else:
            report.update(status=facts.get("status"), status_zh=facts.get("status_zh"))
            report["in_force"] = facts.get("status") == "valid"
            code = 0 if report["in_force"] else EXIT_NOT_IN_FORCE
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return code
    print("验证通过 / signature valid")
    print(f"  格式 format:          {result.format.upper()}")
    print(f"  证号 number:          {result.number}")
    print(f"  证照标识 identifier:  {result.identifier}")
    print(f"  SM3（签名范围）:      {result.sm3_hex}")
    print(f"  签名者 signer:        {result.signer_party_code} ({result.signer_fingerprint[:16]}…)")
    print(f"  签名证书 certificate: {result.signer_serial}, 签发日 issued on {result.signed_on}")
    if online is None:
        print(f"  注意：{STATUS_NOTICE_ZH}")
        print(f"  note: {STATUS_NOTICE_EN}")
    elif "status_error" in report:
        print(f"  状态 status:          无法查询 / could not ask the register: {report['status_error']}")
    else:
        print(f"  状态 status:          {report['status_zh']} / {report['status']}")
    return code


def _trusted(cert_paths: list[Path], cert_dir: Path | None) -> list[certs.Certificate]:
    paths = [*cert_paths, *(sorted(cert_dir.glob("*.pem")) if cert_dir is not None else [])]
    if cert_dir is not None and not paths:
        raise OSError(f"no *.pem in {cert_dir}")
    return [certs.Certificate.from_pem(path.read_bytes()) for path in paths]


def _ask(base_url: str, identifier: str, sm3_hex: str) -> dict[str, Any]:
    """The public facts of the certificate, from the gateway's public verification API."""
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"--online needs an http(s) URL, not {base_url!r}")
    path = f"/public/api/v1/certificates/{urllib.parse.quote(identifier, safe='')}"
    url = f"{base_url.rstrip('/')}{path}?{urllib.parse.urlencode({'sm3': sm3_hex})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
            facts = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {"status": "unknown", "status_zh": "登记簿中没有该证照"}
        raise OSError(f"the register answered {exc.code}") from exc
    if not isinstance(facts, dict):
        raise ValueError("the register's answer is not a JSON object")
    return facts


def _fail(as_json: bool, code: int, reason_en: str, reason_zh: str) -> int:
    if as_json:
        print(json.dumps({"valid": False, "reason": reason_en, "reason_zh": reason_zh}, ensure_ascii=False))
    else:
        print(f"{reason_zh}\n{reason_en}", file=sys.stderr)
    return code
