"""SM2/SM3/SM4 and the gateway CA: the only place in the project that calls a crypto primitive."""

from __future__ import annotations

from certs.anchor import TrustAnchor
from certs.async_ops import shutdown_crypto_executor, sign_async, verify_async
from certs.backends import available_backends, backend_name, use_backend
from certs.ca import CertificateAuthority, IssuedRecord, Revocation
from certs.curve import DEFAULT_SIGNER_ID
from certs.field_cipher import FieldCipher, field_context
from certs.hashing import SM3Hasher, hmac_sm3, sm3, sm3_hex
from certs.keys import SM2PrivateKey, SM2PublicKey
from certs.nonces import MemoryNonceStore, NonceStore, RedisNonceStore
from certs.request_signing import (
    RequestVerifier,
    canonical_request,
    sign_request,
    sign_response,
    verify_response,
)
from certs.trust import CATrustStore, Participant, PartyKey, RevocationState, TrustStore
from certs.webhooks import sign_webhook, verify_webhook, verify_webhook_async
from certs.x509 import PARTY_KINDS, Certificate, make_csr

__all__ = [
    "DEFAULT_SIGNER_ID",
    "PARTY_KINDS",
    "CATrustStore",
    "Certificate",
    "CertificateAuthority",
    "FieldCipher",
    "IssuedRecord",
    "MemoryNonceStore",
    "NonceStore",
    "Participant",
    "PartyKey",
    "RedisNonceStore",
    "RequestVerifier",
    "Revocation",
    "RevocationState",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SM3Hasher",
    "TrustAnchor",
    "TrustStore",
    "available_backends",
    "backend_name",
    "canonical_request",
    "field_context",
    "hmac_sm3",
    "make_csr",
    "shutdown_crypto_executor",
    "sign_async",
    "sign_request",
    "sign_response",
    "sign_webhook",
    "sm3",
    "sm3_hex",
    "use_backend",
    "verify_async",
    "verify_response",
    "verify_webhook",
    "verify_webhook_async",
]
