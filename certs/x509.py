"""SM2 X.509: parsing participants' certificates, building and signing TBS structures, PKCS#10 requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from asn1crypto import csr as asn1_csr
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as crypto_x509
from cryptography.x509.oid import ExtensionOID, NameOID

from certs.der import Signature, parse_der
from certs.hashing import sm3, sm3_hex
from certs.keys import SM2PrivateKey, SM2PublicKey
from gateway.errors import BadKey, BadSignature, InputError

SM2_WITH_SM3 = "1.2.156.10197.1.501"
PARTY_KINDS = frozenset({"bank", "tax", "utility", "registry"})
CA_KIND = "ca"
# Header-safe and file-name-safe: the code travels in X-GW-Party and names files and Redis keys.
PARTY_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_UTC_TIME_LIMIT = datetime(2050, 1, 1, tzinfo=UTC)  # RFC 5280 §4.1.2.5: UTCTime through 2049


def check_party(party_code: str, party_kind: str | None = None) -> None:
    if not PARTY_CODE.fullmatch(party_code):
        raise InputError(
            f"participant code {party_code!r} must be 1–63 characters of [a-z0-9_-], starting alphanumeric",
            f"参与方代码 {party_code!r} 须为 1–63 位小写字母、数字、下划线或连字符，且以字母或数字开头",
        )
    if party_kind is not None and party_kind not in PARTY_KINDS:
        raise InputError(
            f"participant kind {party_kind!r} must be one of {', '.join(sorted(PARTY_KINDS))}",
            f"参与方类型 {party_kind!r} 须为 {'、'.join(sorted(PARTY_KINDS))} 之一",
        )


def _bad_certificate(reason_en: str, reason_zh: str) -> BadSignature:
    return BadSignature(f"unacceptable certificate: {reason_en}", f"证书不可接受：{reason_zh}")


def _single_attribute(name: crypto_x509.Name, oid: crypto_x509.ObjectIdentifier, label: str) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:
        raise _bad_certificate(f"the subject needs exactly one {label}", f"主体须有且仅有一个 {label}")
    return str(values[0].value)


class Certificate:
    """An SM2 X.509 certificate of the gateway CA or of a participant (CN = code, OU = kind)."""

    def __init__(self, der: bytes) -> None:
        try:
            parsed = crypto_x509.load_der_x509_certificate(der)
            tbs = asn1_x509.TbsCertificate.load(parsed.tbs_certificate_bytes)
            spki = tbs["subject_public_key_info"].dump()
        except ValueError as exc:
            raise _bad_certificate("malformed X.509", "X.509 格式错误") from exc
        if parsed.signature_algorithm_oid.dotted_string != SM2_WITH_SM3:
            raise _bad_certificate("not signed with SM2-with-SM3", "签名算法不是 SM2-with-SM3")
        try:
            self.public_key: SM2PublicKey = SM2PublicKey.from_der(spki)
        except BadKey as exc:
            raise _bad_certificate("the subject key is not an SM2 key", "主体公钥不是 SM2 公钥") from exc
        self._parsed = parsed
        self.der = der
        self.pem = bytes(pem.armor("CERTIFICATE", der))
        self.serial: int = parsed.serial_number
        self.party_code = _single_attribute(parsed.subject, NameOID.COMMON_NAME, "CN")
        self.party_kind = _single_attribute(parsed.subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU")
        self.not_before: datetime = parsed.not_valid_before_utc
        self.not_after: datetime = parsed.not_valid_after_utc
        self.fingerprint = sm3_hex(der)
        self.subject_der: bytes = parsed.subject.public_bytes()
        self.issuer_der: bytes = parsed.issuer.public_bytes()
        self.tbs: bytes = parsed.tbs_certificate_bytes
        self.signature: Signature = parse_der(parsed.signature)
        self.is_ca = self._is_ca()
        self.key_usage = self._key_usage()

    @classmethod
    def from_pem(cls, data: bytes) -> Certificate:
        try:
            label, _, der = pem.unarmor(data)
        except ValueError as exc:
            raise _bad_certificate("malformed PEM", "PEM 格式错误") from exc
        if label != "CERTIFICATE":
            raise _bad_certificate(
                f"expected a CERTIFICATE block, got {label}", f"应为 CERTIFICATE，实为 {label}"
            )
        return cls(bytes(der))

    @classmethod
    def from_der(cls, data: bytes) -> Certificate:
        return cls(data)

    def _is_ca(self) -> bool:
        try:
            extension = self._parsed.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
        except crypto_x509.ExtensionNotFound:
            return False
        value = extension.value
        return isinstance(value, crypto_x509.BasicConstraints) and value.ca

    def _key_usage(self) -> frozenset[str]:
        try:
            value = self._parsed.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        except crypto_x509.ExtensionNotFound:
            return frozenset()
        assert isinstance(value, crypto_x509.KeyUsage)
        names = ("digital_signature", "content_commitment", "key_cert_sign", "crl_sign")
        return frozenset(name for name in names if getattr(value, name))

    @property
    def subject(self) -> str:
        return self._parsed.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self._parsed.issuer.rfc4514_string()

    @property
    def subject_key_id(self) -> bytes | None:
        try:
            value = self._parsed.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
        except crypto_x509.ExtensionNotFound:
            return None
        assert isinstance(value, crypto_x509.SubjectKeyIdentifier)
        return value.digest

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= at <= self.not_after

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"Certificate({self.party_kind}:{self.party_code}, serial={self.serial:X})"


# --- building --------------------------------------------------------------------------------------


def build_name(common_name: str, kind: str) -> asn1_x509.Name:
    return asn1_x509.Name.build(
        {"country_name": "CN", "organizational_unit_name": kind, "common_name": common_name},
        use_printable=False,
    )


def key_identifier(public_key: SM2PublicKey) -> bytes:
    # RFC 5280 §4.2.1.2 leaves the method open; SM3 keeps the CA free of SHA-1. 20 bytes like method 1.
    return sm3(public_key.uncompressed)[:20]


def asn1_time(moment: datetime) -> asn1_x509.Time:
    moment = moment.astimezone(UTC).replace(microsecond=0)
    return asn1_x509.Time({"utc_time" if moment < _UTC_TIME_LIMIT else "general_time": moment})


def sign_certificate(
    *,
    issuer_key: SM2PrivateKey,
    issuer_name: asn1_x509.Name,
    subject_name: asn1_x509.Name,
    subject_key: SM2PublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    is_ca: bool,
) -> Certificate:
    """A v3 certificate signed SM2-with-SM3 with the default signer ID (what OpenSSL verifies)."""
    if is_ca:
        constraints = {"ca": True, "path_len_constraint": 0}
        usage = {"key_cert_sign", "crl_sign"}
    else:
        constraints = {"ca": False}
        usage = {"digital_signature", "non_repudiation"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": constraints},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_identifier(subject_key)},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": key_identifier(issuer_key.public_key)},
        },
    ]
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": SM2_WITH_SM3},
            "issuer": issuer_name,
            "validity": {"not_before": asn1_time(not_before), "not_after": asn1_time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": asn1_x509.PublicKeyInfo.load(subject_key.to_der()),
            "extensions": extensions,
        }
    )
    signature = issuer_key.sign(tbs.dump())
    certificate = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature_value": signature,
        }
    )
    return Certificate(certificate.dump())


# --- certificate requests (PKCS#10) ----------------------------------------------------------------


def make_csr(key: SM2PrivateKey, party_code: str) -> bytes:
    """A PEM PKCS#10 request with CN = party code; `openssl req -verify -vfyopt distid:…` accepts it."""
    check_party(party_code)
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.build({"common_name": party_code}, use_printable=False),
            "subject_pk_info": asn1_x509.PublicKeyInfo.load(key.public_key.to_der()),
            "attributes": [],
        }
    )
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature": key.sign(info.dump()),
        }
    )
    return bytes(pem.armor("CERTIFICATE REQUEST", request.dump()))


def read_csr(data: bytes) -> tuple[str, SM2PublicKey]:
    """(party code from CN, public key) of a PEM or DER request whose self-signature verifies."""
    try:
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        request = asn1_csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        algorithm = request["signature_algorithm"]["algorithm"].dotted
        subject = info["subject"].native
        public_key = SM2PublicKey.from_der(info["subject_pk_info"].dump())
        signature = request["signature"].native
    except (ValueError, TypeError, KeyError, BadKey) as exc:
        raise InputError("malformed SM2 certificate request", "SM2 证书请求格式错误") from exc
    if algorithm != SM2_WITH_SM3:
        raise InputError(
            "the certificate request is not signed SM2-with-SM3", "证书请求的签名算法不是 SM2-with-SM3"
        )
    try:
        public_key.verify(signature, info.dump())
    except BadSignature as exc:
        raise InputError(
            "the certificate request's signature does not verify with signer ID 1234567812345678 "
            "(with OpenSSL, pass -sigopt distid:1234567812345678)",
            "证书请求签名验证失败（签名者标识应为 1234567812345678；OpenSSL 需加 -sigopt distid:1234567812345678）",
        ) from exc
    common_name = subject.get("common_name")
    if not isinstance(common_name, str):
        raise InputError("the certificate request has no single CN", "证书请求缺少唯一的 CN")
    check_party(common_name)
    return common_name, public_key
