"""Sign a rendered certificate with the registry's SM2 key and seal the signature into the distributed file.

How a certificate is signed and carried (what `verify.py` checks):

1. The signed bytes are the rendered PDF exactly as `render()` returned it. The registry signs them with
   SM2 over SM3 (GM/T 0009, signer ID `1234567812345678`), so OpenSSL 3 verifies the same bytes:
   `openssl dgst -sm3 -verify pub.pem -sigopt distid:1234567812345678 -signature sig.der signed.pdf`.
2. The record keeps the detached signature (DER), the signer certificate (PEM) and the SM3 of the bytes:
   `SignedCertificate`.
3. The distributed file (`SignedCertificate.distributable()`) is the signed bytes followed by one PDF
   incremental update that attaches `signature.json`:
   `{"format", "identifier", "number", "signed_length", "sm3", "signature" (base64 DER),
   "signature_algorithm", "signer_certificate" (PEM)}` — see `embedding.py`. Viewers open it and list the
   attachment. A verifier takes the first `signed_length` bytes, re-hashes and verifies them, checks that
   the identifier and number in the blob are the ones in the signed PDF's /Subject and /Keywords, and
   rebuilds the update to prove no byte was added or changed after the signed range.
"""

from __future__ import annotations

import asyncio
import base64
import json
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import certs
from gateway.errors import BadKey

from .content import CertificateContent
from .embedding import attach_signature_blob
from .render import render

BLOB_FORMAT = "re-gateway/e-licence-signature/1"
SIGNATURE_ALGORITHM = "SM2-with-SM3 (GM/T 0009, signer ID 1234567812345678, DER)"
REGISTRY_KIND = "registry"


@dataclass(frozen=True)
class SignedCertificate:
    """What the record keeps: the signed PDF bytes, the detached signature and who signed."""

    pdf: bytes  # the signed bytes, exactly as rendered
    signature: bytes  # DER SEQUENCE{r, s}
    signer_cert_pem: bytes
    sm3_hex: str  # SM3 of `pdf`, shown on the verification page
    identifier: str
    number: str

    def blob(self) -> bytes:
        """signature.json: canonical JSON (sorted keys, UTF-8), so the distributed file is reproducible."""
        document: dict[str, Any] = {
            "format": BLOB_FORMAT,
            "identifier": self.identifier,
            "number": self.number,
            "signed_length": len(self.pdf),
            "sm3": self.sm3_hex,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "signature_algorithm": SIGNATURE_ALGORITHM,
            "signer_certificate": self.signer_cert_pem.decode("ascii"),
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def distributable(self) -> bytes:
        """The file handed to the bank or the holder: the signed PDF with the signature attached."""
        return attach_signature_blob(self.pdf, self.blob())


def sign_pdf(
    pdf: bytes, key: certs.SM2PrivateKey, signer: certs.Certificate, identifier: str, number: str
) -> SignedCertificate:
    """Sign exact PDF bytes with the registry key; the certificate must be the key's registry certificate."""
    _check_signer(key, signer)
    return SignedCertificate(pdf, key.sign(pdf), signer.pem, certs.sm3_hex(pdf), identifier, number)


def issue(
    content: CertificateContent, key: certs.SM2PrivateKey, signer: certs.Certificate
) -> SignedCertificate:
    """Render and sign (CPU-bound: call from a worker thread or `issue_async`)."""
    return sign_pdf(render(content), key, signer, str(content.identifier), content.number_text)


async def issue_async(
    content: CertificateContent,
    key: certs.SM2PrivateKey,
    signer: certs.Certificate,
    executor: Executor | None = None,
) -> SignedCertificate:
    """Render in `executor` (a process pool scales rendering across cores) and sign off the event loop."""
    _check_signer(key, signer)
    pdf = await asyncio.get_running_loop().run_in_executor(executor, render, content)
    signature = await certs.sign_async(key, pdf)
    return SignedCertificate(
        pdf, signature, signer.pem, certs.sm3_hex(pdf), str(content.identifier), content.number_text
    )


def _check_signer(key: certs.SM2PrivateKey, signer: certs.Certificate) -> None:
    if signer.party_kind != REGISTRY_KIND:
        raise BadKey(
            f"certificates are signed with a registry certificate, not a {signer.party_kind!r} one",
            f"电子证照须以登记机构证书签名，而不是“{signer.party_kind}”证书",
        )
    if key.public_key.to_der() != signer.public_key.to_der():
        raise BadKey(
            "the signing key does not belong to the registry certificate",
            "签名私钥与登记机构证书不匹配",
        )
