"""The gateway's certificate authority: a self-signed SM2 root, participant certificates, revocation."""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from certs.keys import SM2PrivateKey, SM2PublicKey
from certs.x509 import CA_KIND, Certificate, build_name, check_party, read_csr, sign_certificate
from gateway.errors import (
    BadSignature,
    CertificateExpired,
    CertificateRevoked,
    ConfigError,
    InputError,
    NotFound,
)

# RFC 5280 §5.3.1 reason names.
REVOCATION_REASONS = frozenset(
    {
        "unspecified",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
        "privilegeWithdrawn",
        "aACompromise",
    }
)
# Backdating absorbs small clock differences between the CA host and the parties.
_BACKDATE = timedelta(minutes=5)
KEY_FILE, CERT_FILE, REVOKED_FILE, SERIALS_FILE, ISSUED_DIR = (
    "ca.key",
    "ca.pem",
    "revoked.json",
    "serials.json",
    "issued",
)


@dataclass(frozen=True)
class IssuedRecord:
    serial: int
    party_code: str
    party_kind: str
    not_before: datetime
    not_after: datetime
    fingerprint: str


@dataclass(frozen=True)
class Revocation:
    serial: int
    reason: str
    revoked_at: datetime


def _serial_hex(serial: int) -> str:
    return format(serial, "X")


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class CertificateAuthority:
    """Issues and revokes participants' certificates; `save`/`load` keep its state in one directory.

    Directory layout: ca.key (PKCS#8, mode 0600, encrypted when a password is given), ca.pem, serials.json
    (every issued certificate), issued/<SERIAL>.pem, revoked.json. A running gateway re-reads revoked.json
    when it changes (`refresh_revocations`), so `gw-certs revoke` takes effect without a restart.
    """

    def __init__(
        self,
        key: SM2PrivateKey,
        certificate: Certificate,
        *,
        issued: dict[int, IssuedRecord] | None = None,
        revoked: dict[int, Revocation] | None = None,
        directory: Path | None = None,
    ) -> None:
        if key.public_key != certificate.public_key:
            raise ConfigError("the CA key does not match the CA certificate", "CA 私钥与 CA 证书不匹配")
        if not certificate.is_ca or "key_cert_sign" not in certificate.key_usage:
            raise ConfigError("the CA certificate is not a CA certificate", "CA 证书不具备签发证书的权限")
        try:
            certificate.public_key.verify(certificate.signature.to_der(), certificate.tbs)
        except BadSignature as exc:
            raise ConfigError("the CA certificate is not self-signed", "CA 证书不是自签名证书") from exc
        self._key = key
        self.certificate = certificate
        self._issued: dict[int, IssuedRecord] = dict(issued or {})
        self._revoked: dict[int, Revocation] = dict(revoked or {})
        self._directory = directory
        self._revoked_mtime: float | None = None
        self._issued_pem: dict[int, bytes] = {}  # issued here and not yet saved to issued/
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str = "Gateway Root CA", days: int = 3650) -> CertificateAuthority:
        key = SM2PrivateKey.generate()
        not_before = datetime.now(UTC) - _BACKDATE
        subject = build_name(name, CA_KIND)
        certificate = sign_certificate(
            issuer_key=key,
            issuer_name=subject,
            subject_name=subject,
            subject_key=key.public_key,
            serial=secrets.randbits(127) | 1,
            not_before=not_before,
            not_after=not_before + timedelta(days=days),
            is_ca=True,
        )
        return cls(key, certificate)

    # --- issuing ------------------------------------------------------------------------------------

    def _new_serial(self) -> int:
        while True:
            serial = secrets.randbits(127) | 1  # positive, at most 16 bytes, never zero (RFC 5280 §4.1.2.2)
            if serial not in self._issued and serial != self.certificate.serial:
                return serial

    def issue(
        self,
        public_key: SM2PublicKey,
        party_code: str,
        party_kind: str,
        days: int = 825,
        *,
        not_before: datetime | None = None,
    ) -> Certificate:
        """A participant certificate (CN = code, OU = kind), valid `days` from `not_before` (default now)."""
        check_party(party_code, party_kind)
        if days < 1:
            raise InputError("validity must be at least one day", "有效期至少一天")
        start = not_before if not_before is not None else datetime.now(UTC) - _BACKDATE
        end = min(start + timedelta(days=days), self.certificate.not_after)  # never outlive the root
        with self._lock:
            certificate = sign_certificate(
                issuer_key=self._key,
                issuer_name=build_name(self._ca_common_name(), CA_KIND),
                subject_name=build_name(party_code, party_kind),
                subject_key=public_key,
                serial=self._new_serial(),
                not_before=start,
                not_after=end,
                is_ca=False,
            )
            self._issued[certificate.serial] = IssuedRecord(
                certificate.serial,
                party_code,
                party_kind,
                certificate.not_before,
                certificate.not_after,
                certificate.fingerprint,
            )
            self._issued_pem[certificate.serial] = certificate.pem
        return certificate

    def issue_from_csr(self, csr_pem: bytes, party_kind: str, days: int = 825) -> Certificate:
        """Issue for the key and CN of a PKCS#10 request whose self-signature verifies."""
        party_code, public_key = read_csr(csr_pem)
        return self.issue(public_key, party_code, party_kind, days)

    def _ca_common_name(self) -> str:
        return self.certificate.party_code

    def issued(self) -> list[IssuedRecord]:
        return sorted(self._issued.values(), key=lambda record: record.not_before)

    # --- revocation ---------------------------------------------------------------------------------

    def revoke(self, serial: int, reason: str = "unspecified") -> None:
        if reason not in REVOCATION_REASONS:
            raise InputError(
                f"unknown revocation reason {reason!r}; use one of {', '.join(sorted(REVOCATION_REASONS))}",
                f"未知的吊销原因 {reason!r}",
            )
        if serial not in self._issued:
            raise NotFound(
                f"this CA issued no certificate with serial {_serial_hex(serial)}",
                f"本 CA 未签发序列号为 {_serial_hex(serial)} 的证书",
            )
        with self._lock:
            if serial not in self._revoked:
                self._revoked[serial] = Revocation(serial, reason, datetime.now(UTC).replace(microsecond=0))

    def is_revoked(self, serial: int) -> bool:
        return serial in self._revoked

    def revocations(self) -> list[Revocation]:
        return sorted(self._revoked.values(), key=lambda revocation: revocation.revoked_at)

    def refresh_revocations(self) -> None:
        """Re-read revoked.json if another process (the CLI) changed it since the last read."""
        if self._directory is None:
            return
        path = self._directory / REVOKED_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime != self._revoked_mtime:
            revoked = _read_revocations(path)
            with self._lock:
                self._revoked.update(revoked)
                self._revoked_mtime = mtime

    # --- verification -------------------------------------------------------------------------------

    def verify(self, cert: Certificate, at: datetime | None = None) -> None:
        """Chain, policy, revocation and validity at `at` (default now), in that order.

        Raises BadSignature (not issued by this CA, bad signature, not a participant certificate),
        CertificateRevoked or CertificateExpired (also for not yet valid).
        """
        moment = at if at is not None else datetime.now(UTC)
        if cert == self.certificate:
            self._check_validity(cert, moment)
            return
        self.check_chain(cert)
        self.check_status(cert, moment)

    def check_chain(self, cert: Certificate) -> None:
        """Signature by this root, name chaining and key policy; no clock, no revocation."""
        if cert.issuer_der != self.certificate.subject_der:
            raise BadSignature(
                f"certificate {cert.serial:X} was not issued by {self.certificate.subject}",
                f"证书 {cert.serial:X} 不是由本网关 CA 签发的",
            )
        try:
            self.certificate.public_key.verify(cert.signature.to_der(), cert.tbs)
        except BadSignature as exc:
            raise BadSignature(
                f"certificate {cert.serial:X}: the CA signature does not verify",
                f"证书 {cert.serial:X} 的 CA 签名验证失败",
            ) from exc
        if cert.is_ca or "digital_signature" not in cert.key_usage:
            raise BadSignature(
                f"certificate {cert.serial:X} is not a participant signing certificate",
                f"证书 {cert.serial:X} 不是参与方签名证书",
            )

    def check_status(self, cert: Certificate, at: datetime) -> None:
        """Revocation, then validity of the certificate and of the root at `at`."""
        revocation = self._revoked.get(cert.serial)
        if revocation is not None:
            raise CertificateRevoked(
                f"certificate {cert.serial:X} of {cert.party_code} was revoked ({revocation.reason})",
                f"参与方 {cert.party_code} 的证书 {cert.serial:X} 已被吊销（{revocation.reason}）",
            )
        self._check_validity(cert, at)
        self._check_validity(self.certificate, at)

    @staticmethod
    def _check_validity(cert: Certificate, at: datetime) -> None:
        if at > cert.not_after:
            raise CertificateExpired(
                f"certificate {cert.serial:X} of {cert.party_code} expired at {cert.not_after.isoformat()}",
                f"{cert.party_code} 的证书 {cert.serial:X} 已于 {cert.not_after.isoformat()} 过期",
            )
        if at < cert.not_before:
            raise CertificateExpired(
                f"certificate {cert.serial:X} of {cert.party_code} is not valid before "
                f"{cert.not_before.isoformat()}",
                f"{cert.party_code} 的证书 {cert.serial:X} 在 {cert.not_before.isoformat()} 之前无效",
            )

    # --- persistence --------------------------------------------------------------------------------

    def save(self, directory: Path, password: bytes | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ISSUED_DIR).mkdir(exist_ok=True)
        key_path = directory / KEY_FILE
        if not key_path.exists():  # the key never changes; rewriting it would only widen exposure
            _write_atomically(key_path, self._key.to_pem(password=password), mode=0o600)
        _write_atomically(directory / CERT_FILE, self.certificate.pem)
        for serial, pem_bytes in self._issued_pem.items():
            path = directory / ISSUED_DIR / f"{_serial_hex(serial)}.pem"
            if not path.exists():
                _write_atomically(path, pem_bytes)
        serials = {
            _serial_hex(record.serial): {
                "party_code": record.party_code,
                "party_kind": record.party_kind,
                "not_before": record.not_before.isoformat(),
                "not_after": record.not_after.isoformat(),
                "fingerprint": record.fingerprint,
            }
            for record in self.issued()
        }
        _write_atomically(directory / SERIALS_FILE, json.dumps(serials, indent=2).encode())
        revoked = {
            _serial_hex(item.serial): {"reason": item.reason, "revoked_at": item.revoked_at.isoformat()}
            for item in self.revocations()
        }
        _write_atomically(directory / REVOKED_FILE, json.dumps(revoked, indent=2).encode())
        self._directory = directory
        self._revoked_mtime = (directory / REVOKED_FILE).stat().st_mtime

    @classmethod
    def load(cls, directory: Path, password: bytes | None = None) -> CertificateAuthority:
        try:
            key = SM2PrivateKey.from_pem((directory / KEY_FILE).read_bytes(), password)
            certificate = Certificate.from_pem((directory / CERT_FILE).read_bytes())
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no CA in {directory} (run: gw-certs ca-init --dir {directory})",
                f"{directory} 中没有 CA（请先运行 gw-certs ca-init --dir {directory}）",
            ) from exc
        issued: dict[int, IssuedRecord] = {}
        serials_path = directory / SERIALS_FILE
        if serials_path.exists():
            for serial_hex, entry in json.loads(serials_path.read_text()).items():
                serial = int(serial_hex, 16)
                issued[serial] = IssuedRecord(
                    serial,
                    entry["party_code"],
                    entry["party_kind"],
                    datetime.fromisoformat(entry["not_before"]),
                    datetime.fromisoformat(entry["not_after"]),
                    entry["fingerprint"],
                )
        revoked_path = directory / REVOKED_FILE
        revoked = _read_revocations(revoked_path) if revoked_path.exists() else {}
        authority = cls(key, certificate, issued=issued, revoked=revoked, directory=directory)
        if revoked_path.exists():
            authority._revoked_mtime = revoked_path.stat().st_mtime
        return authority

    def issued_certificate(self, serial: int) -> Certificate:
        """The PEM kept for `serial` in the CA directory (or issued in this process)."""
        pem_bytes = self._issued_pem.get(serial)
        if pem_bytes is None and self._directory is not None:
            path = self._directory / ISSUED_DIR / f"{_serial_hex(serial)}.pem"
            if path.exists():
                pem_bytes = path.read_bytes()
        if pem_bytes is None:
            raise NotFound(
                f"no certificate with serial {_serial_hex(serial)}",
                f"没有序列号为 {_serial_hex(serial)} 的证书",
            )
        return Certificate.from_pem(pem_bytes)


def _read_revocations(path: Path) -> dict[int, Revocation]:
    return {
        int(serial_hex, 16): Revocation(
            int(serial_hex, 16), entry["reason"], datetime.fromisoformat(entry["revoked_at"])
        )
        for serial_hex, entry in json.loads(path.read_text()).items()
    }
