"""The gateway's certificate authority: a self-signed SM2 root, participant certificates, revocation, CRLs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from certs import ca_store
from certs.anchor import TrustAnchor, check_validity, read_ca_certificate
from certs.ca_store import CERT_FILE, ISSUED_DIR, KEY_FILE, IssuedRecord, Revocation, serial_hex
from certs.crl import OPENSSL_CRL_SIGNER_ID, REVOCATION_REASONS, build_crl
from certs.keys import SM2PrivateKey, SM2PublicKey
from certs.x509 import CA_KIND, Certificate, build_name, check_party, read_csr, sign_certificate
from gateway.errors import ConfigError, InputError, NotFound

__all__ = [
    "ISSUED_DIR",
    "REVOCATION_REASONS",
    "CertificateAuthority",
    "IssuedRecord",
    "Revocation",
    "check_validity",
]

# Backdating absorbs small clock differences between the CA host and the parties.
_BACKDATE = timedelta(minutes=5)


class CertificateAuthority(TrustAnchor):
    """Issues and revokes participants' certificates and signs its CRL; `save`/`load` bind it to a directory.

    Directory layout: ca.key (PKCS#8, mode 0600, encrypted when a password is given), ca.pem, serials.json
    (every issued certificate), issued/<SERIAL>.pem, revoked.json, crlnumber, ca.lock. Once bound, every
    issue, revocation and CRL is one transaction on the directory: under its exclusive lock the records are
    re-read, changed and atomically replaced, so concurrent operators and a process that loaded the CA long
    ago never lose one another's writes. A running gateway re-reads revoked.json when it changes
    (`refresh_revocations`), so `gw-certs revoke` takes effect without a restart.
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
        super().__init__(certificate, revoked=revoked, directory=directory)
        self._key = key
        self._issued: dict[int, IssuedRecord] = dict(issued or {})
        self._issued_pem: dict[int, bytes] = {}  # issued here and not yet written to issued/
        self._crl_number = 0

    @classmethod
    def create(
        cls, name: str = "Gateway Root CA", days: int = 3650, *, not_before: datetime | None = None
    ) -> CertificateAuthority:
        """A new CA, valid from `not_before` (default: a few minutes ago, for clock skew)."""
        key = SM2PrivateKey.generate()
        not_before = not_before or datetime.now(UTC) - _BACKDATE
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

    # --- the directory as a transaction ---------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Serialise a change: with a directory, under its lock, from a fresh read, written back at the end."""
        with self._lock:
            directory = self._directory
            if directory is None:
                yield
                return
            with ca_store.locked(directory):
                self._absorb(directory)
                yield
                self._write(directory)

    def _absorb(self, directory: Path) -> None:
        """Take in what other processes wrote: records are only ever added, the first revocation stands."""
        for serial, record in ca_store.read_issued(directory).items():
            self._issued.setdefault(serial, record)
        stamp = ca_store.file_stamp(directory / ca_store.REVOKED_FILE)
        for serial, revocation in ca_store.read_revocations(directory).items():
            self._revoked[serial] = revocation
        self._revoked_stamp = stamp
        self._crl_number = max(self._crl_number, ca_store.read_crl_number(directory))

    def _write(self, directory: Path) -> None:
        for serial, pem_bytes in self._issued_pem.items():
            ca_store.write_issued_pem(directory, serial, pem_bytes)
        self._issued_pem.clear()
        ca_store.write_issued(directory, self.issued())
        ca_store.write_revocations(directory, self.revocations())
        if self._crl_number:
            ca_store.write_crl_number(directory, self._crl_number)
        self._revoked_stamp = ca_store.file_stamp(directory / ca_store.REVOKED_FILE)

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
        with self._transaction():
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
        with self._transaction():
            if serial not in self._issued:
                raise NotFound(
                    f"this CA issued no certificate with serial {serial_hex(serial)}",
                    f"本 CA 未签发序列号为 {serial_hex(serial)} 的证书",
                )
            if serial not in self._revoked:
                self._revoked[serial] = Revocation(serial, reason, datetime.now(UTC).replace(microsecond=0))

    def crl(
        self, days: int = 7, *, now: datetime | None = None, signer_id: bytes = OPENSSL_CRL_SIGNER_ID
    ) -> bytes:
        """A DER X.509 CRL of every revocation, valid `days` from now, with the next CRL number."""
        if days < 1:
            raise InputError("a CRL must be valid at least one day", "吊销列表有效期至少一天")
        this_update = (now if now is not None else datetime.now(UTC)).replace(microsecond=0)
        with self._transaction():
            self._crl_number += 1
            number = self._crl_number
            revocations = self.revocations()
        return build_crl(
            issuer_key=self._key,
            issuer=self.certificate,
            revocations=revocations,
            number=number,
            this_update=this_update,
            next_update=this_update + timedelta(days=days),
            signer_id=signer_id,
        )

    # --- persistence --------------------------------------------------------------------------------

    def save(self, directory: Path, password: bytes | None = None) -> None:
        """Bind to `directory` (made if new) and write everything, merged with what it already holds."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ISSUED_DIR).mkdir(exist_ok=True)
        with ca_store.locked(directory):
            cert_path = directory / CERT_FILE
            if cert_path.exists() and cert_path.read_bytes() != self.certificate.pem:
                raise ConfigError(f"{directory} holds another CA", f"{directory} 中已有另一个 CA")
            key_path = directory / KEY_FILE
            if not key_path.exists():  # the key never changes; rewriting it would only widen exposure
                ca_store.write_atomically(key_path, self._key.to_pem(password=password), mode=0o600)
            if not cert_path.exists():
                ca_store.write_atomically(cert_path, self.certificate.pem)
        with self._lock:
            self._directory = directory
        with self._transaction():
            pass

    @classmethod
    def load(cls, directory: Path, password: bytes | None = None) -> CertificateAuthority:
        certificate = read_ca_certificate(directory)
        try:
            key = SM2PrivateKey.from_pem((directory / KEY_FILE).read_bytes(), password)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no CA key in {directory}: verifying needs only ca.pem (gw-certs verify --ca-dir)",
                f"{directory} 中没有 CA 私钥（验证证书只需 ca.pem）",
            ) from exc
        authority = cls(key, certificate, directory=directory)
        authority._absorb(
            directory
        )  # no lock: files are replaced atomically, and reading needs no write access
        return authority

    def issued_certificate(self, serial: int) -> Certificate:
        """The PEM kept for `serial` in the CA directory (or issued in this process)."""
        pem_bytes = self._issued_pem.get(serial)
        if pem_bytes is None and self._directory is not None:
            pem_bytes = ca_store.read_issued_pem(self._directory, serial)
        if pem_bytes is None:
            raise NotFound(
                f"no certificate with serial {serial_hex(serial)}",
                f"没有序列号为 {serial_hex(serial)} 的证书",
            )
        return Certificate.from_pem(pem_bytes)
