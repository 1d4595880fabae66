"""The CA certificate, its records and revocations: all a relying party (or a gateway) needs, and no key."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from certs import ca_store
from certs.ca_store import CERT_FILE, REVOKED_FILE, IssuedRecord, Revocation, serial_hex
from certs.crl import read_crl
from certs.x509 import Certificate
from gateway.errors import BadSignature, CertificateExpired, CertificateRevoked, ConfigError, NotFound


class TrustAnchor:
    """Checks participants' certificates against the CA's certificate and revocation list.

    The revocations come from the CA directory's revoked.json (`load`, re-read by `refresh_revocations`
    when another process changed it) or from the CA's signed CRL (`from_crl`). Nothing here reads ca.key:
    checking a chain needs only ca.pem and the revocations.
    """

    def __init__(
        self,
        certificate: Certificate,
        *,
        revoked: dict[int, Revocation] | None = None,
        directory: Path | None = None,
    ) -> None:
        if not certificate.is_ca or "key_cert_sign" not in certificate.key_usage:
            raise ConfigError("the CA certificate is not a CA certificate", "CA 证书不具备签发证书的权限")
        try:
            certificate.public_key.verify(certificate.signature.to_der(), certificate.tbs)
        except BadSignature as exc:
            raise ConfigError("the CA certificate is not self-signed", "CA 证书不是自签名证书") from exc
        self.certificate = certificate
        self._revoked: dict[int, Revocation] = dict(revoked or {})
        self._directory = directory
        self._revoked_stamp: tuple[int, int, int] | None = None
        self._lock = threading.RLock()

    @classmethod
    def load(cls, directory: Path) -> TrustAnchor:
        """ca.pem and revoked.json of a CA directory (ca.key is neither read nor needed)."""
        stamp = ca_store.file_stamp(directory / REVOKED_FILE)  # before reading: a later change is re-read
        anchor = cls(
            read_ca_certificate(directory), revoked=ca_store.read_revocations(directory), directory=directory
        )
        anchor._revoked_stamp = stamp
        return anchor

    @classmethod
    def from_crl(cls, certificate: Certificate, crl: bytes, at: datetime | None = None) -> TrustAnchor:
        """The CA certificate with the revocations of its CRL (PEM or DER), whose signature and dates are
        checked first (CryptoError when it was not signed by this CA or is out of date at `at`)."""
        anchor = cls(certificate)
        anchor._revoked = read_crl(crl, certificate, at if at is not None else datetime.now(UTC))
        return anchor

    # --- revocations --------------------------------------------------------------------------------

    def is_revoked(self, serial: int) -> bool:
        return serial in self._revoked

    def revocations(self) -> list[Revocation]:
        return sorted(self._revoked.values(), key=lambda revocation: revocation.revoked_at)

    def refresh_revocations(self) -> None:
        """Re-read revoked.json if another process (the CLI) replaced it since the last read."""
        if self._directory is None:
            return
        stamp = ca_store.file_stamp(self._directory / REVOKED_FILE)
        if stamp is None or stamp == self._revoked_stamp:
            return
        revoked = ca_store.read_revocations(self._directory)
        with self._lock:
            for serial, revocation in revoked.items():
                self._revoked.setdefault(serial, revocation)  # never un-revoked
            self._revoked_stamp = stamp

    # --- what the CA issued (its directory's public records) ---------------------------------------

    def issued(self) -> list[IssuedRecord]:
        """Every certificate the CA directory records (serials.json), oldest first; none without a directory."""
        if self._directory is None:
            return []
        records = ca_store.read_issued(self._directory).values()
        return sorted(records, key=lambda record: record.not_before)

    def issued_certificate(self, serial: int) -> Certificate:
        """The PEM kept for `serial` in the CA directory's issued/."""
        pem_bytes = ca_store.read_issued_pem(self._directory, serial) if self._directory else None
        if pem_bytes is None:
            raise NotFound(
                f"no certificate with serial {serial_hex(serial)}",
                f"没有序列号为 {serial_hex(serial)} 的证书",
            )
        return Certificate.from_pem(pem_bytes)

    # --- verification -------------------------------------------------------------------------------

    def verify(self, cert: Certificate, at: datetime | None = None) -> None:
        """Chain, policy, revocation and validity at `at` (default now), in that order.

        Raises BadSignature (not issued by this CA, bad signature, not a participant certificate),
        CertificateRevoked or CertificateExpired (also for not yet valid).
        """
        moment = at if at is not None else datetime.now(UTC)
        if cert == self.certificate:
            check_validity(cert, moment)
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
        check_validity(cert, at)
        check_validity(self.certificate, at)


def check_validity(cert: Certificate, at: datetime) -> None:
    """CertificateExpired unless notBefore ≤ `at` ≤ notAfter (RFC 5280 §4.1.2.5)."""
    if at > cert.not_after:
        raise CertificateExpired(
            f"certificate {cert.serial:X} of {cert.party_code} expired at {cert.not_after.isoformat()}",
            f"{cert.party_code} 的证书 {cert.serial:X} 已于 {cert.not_after.isoformat()} 过期",
        )
    if at < cert.not_before:
        raise CertificateExpired(
            f"certificate {cert.serial:X} of {cert.party_code} is not valid before {cert.not_before.isoformat()}",
            f"{cert.party_code} 的证书 {cert.serial:X} 在 {cert.not_before.isoformat()} 之前无效",
        )


def read_ca_certificate(directory: Path) -> Certificate:
    try:
        return Certificate.from_pem((directory / CERT_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no CA in {directory} (run: gw-certs ca-init --dir {directory})",
            f"{directory} 中没有 CA（请先运行 gw-certs ca-init --dir {directory}）",
        ) from exc
