"""The CA's revocations as an X.509 v2 CRL (RFC 5280 §5), SM2-with-SM3, as `openssl crl` and `verify` read it."""

from __future__ import annotations

from datetime import UTC, datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import pem

from certs.ca_store import Revocation
from certs.curve import DEFAULT_SIGNER_ID
from certs.der import parse_der
from certs.keys import SM2PrivateKey
from certs.x509 import SM2_WITH_SM3, Certificate, asn1_time, key_identifier
from gateway.errors import BadSignature

__all__ = ["OPENSSL_CRL_SIGNER_ID", "REVOCATION_REASONS", "armor_crl", "build_crl", "read_crl"]


# RFC 5280 §5.3.1 names (as revoked.json and `gw-certs revoke --reason` spell them) → asn1crypto's names.
_ASN1_REASONS = {
    "unspecified": "unspecified",
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "certificateHold": "certificate_hold",
    "privilegeWithdrawn": "privilege_withdrawn",
    "aACompromise": "aa_compromise",
}
# OpenSSL 3 checks a CRL's SM2 signature with an EMPTY signer ID: X509_CRL_verify passes no distid and
# `openssl verify -vfyopt distid:…` sets it only on certificates (openssl/openssl#23471, open on 3.0–3.6).
# A CRL signed with the GM/T 0009 default ID fails there with "CRL signature failure", so the CRL is signed
# with the empty ID by default; `gw-certs crl --signer-id 1234567812345678` serves relying parties that
# follow GM/T 0009 instead. `read_crl` accepts either.
OPENSSL_CRL_SIGNER_ID = b""
CRL_SIGNER_IDS = (OPENSSL_CRL_SIGNER_ID, DEFAULT_SIGNER_ID)
REVOCATION_REASONS = frozenset(_ASN1_REASONS)
_REASON_NAMES = {asn1: name for name, asn1 in _ASN1_REASONS.items()}


def build_crl(
    *,
    issuer_key: SM2PrivateKey,
    issuer: Certificate,
    revocations: list[Revocation],
    number: int,
    this_update: datetime,
    next_update: datetime,
    signer_id: bytes = OPENSSL_CRL_SIGNER_ID,
) -> bytes:
    """A DER CRL of `revocations`, signed by the CA key SM2-with-SM3 with Z of `signer_id`.

    Carries the CRL number and the authority key identifier (RFC 5280 §5.2.1, §5.2.3); an entry names its
    reason except "unspecified", which RFC 5280 §5.3.1 says to leave out.
    """
    entries = []
    for revocation in sorted(revocations, key=lambda item: (item.revoked_at, item.serial)):
        entry: dict[str, object] = {
            "user_certificate": revocation.serial,
            "revocation_date": asn1_time(revocation.revoked_at),
        }
        if revocation.reason != "unspecified":
            entry["crl_entry_extensions"] = [
                {"extn_id": "crl_reason", "critical": False, "extn_value": _ASN1_REASONS[revocation.reason]}
            ]
        entries.append(entry)
    fields: dict[str, object] = {
        "version": "v2",
        "signature": {"algorithm": SM2_WITH_SM3},
        "issuer": asn1_crl.Name.load(issuer.subject_der),
        "this_update": asn1_time(this_update),
        "next_update": asn1_time(next_update),
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": key_identifier(issuer.public_key)},
            },
        ],
    }
    if entries:  # RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked
        fields["revoked_certificates"] = entries
    tbs = asn1_crl.TbsCertList(fields)
    certificate_list = asn1_crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature": issuer_key.sign(tbs.dump(), signer_id),
        }
    )
    return bytes(certificate_list.dump())


def armor_crl(der: bytes) -> bytes:
    return bytes(pem.armor("X509 CRL", der))


def _bad_crl(reason_en: str, reason_zh: str) -> BadSignature:
    return BadSignature(f"unacceptable CRL: {reason_en}", f"吊销列表不可接受：{reason_zh}")


def read_crl(data: bytes, issuer: Certificate, at: datetime) -> dict[int, Revocation]:
    """The revocations of a PEM or DER CRL that `issuer` signed and that is current at `at`.

    BadSignature when it is malformed, of another issuer, not signed by `issuer`'s key, or out of date
    (thisUpdate after `at`, nextUpdate before it: a relying party must fetch a fresh one).
    """
    try:
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        parsed = asn1_crl.CertificateList.load(der, strict=True)
        tbs = parsed["tbs_cert_list"]
        algorithm = parsed["signature_algorithm"]["algorithm"].dotted
        issuer_der = tbs["issuer"].dump()
        signature = parse_der(parsed["signature"].native)
        this_update: datetime = tbs["this_update"].native
        next_update: datetime | None = tbs["next_update"].native
        entries = [
            (item["user_certificate"].native, item["revocation_date"].native, item.crl_reason_value)
            for item in tbs["revoked_certificates"]
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise _bad_crl("malformed X.509 CRL", "X.509 吊销列表格式错误") from exc
    if algorithm != SM2_WITH_SM3:
        raise _bad_crl("not signed with SM2-with-SM3", "签名算法不是 SM2-with-SM3")
    if issuer_der != issuer.subject_der:
        raise _bad_crl(f"not issued by {issuer.subject}", "不是本 CA 签发的吊销列表")
    if not any(_verifies(issuer, signature.to_der(), tbs.dump(), signer_id) for signer_id in CRL_SIGNER_IDS):
        raise _bad_crl("the CA signature does not verify", "CA 签名验证失败")
    if at < this_update.astimezone(UTC):
        raise _bad_crl(f"not valid before {this_update.isoformat()}", f"{this_update.isoformat()} 之前无效")
    if next_update is not None and at > next_update.astimezone(UTC):
        raise _bad_crl(
            f"out of date since {next_update.isoformat()} (fetch a fresh one)",
            f"已于 {next_update.isoformat()} 过期，请获取新的吊销列表",
        )
    return {
        serial: Revocation(
            serial,
            _REASON_NAMES.get(reason.native, "unspecified") if reason is not None else "unspecified",
            revoked_at,
        )
        for serial, revoked_at, reason in entries
    }


def _verifies(issuer: Certificate, signature: bytes, message: bytes, signer_id: bytes) -> bool:
    try:
        issuer.public_key.verify(signature, message, signer_id)
    except BadSignature:
        return False
    return True
