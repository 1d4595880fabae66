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
4. The same page is rendered as OFD (GB/T 33190, `ofd.py`) and signed the same way over the package's
   bytes; its signature.json travels as the ZIP archive comment (`ofd_package.py`), and the record keeps
   the OFD's detached signature and SM3 beside the PDF's.
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
from .ofd_package import attach_ofd_signature
from .render import render_pair

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
    # The same page as OFD (GB/T 33190), signed the same way over its own bytes (empty: PDF only).
    ofd: bytes = b""
    ofd_signature: bytes = b""
    ofd_sm3_hex: str = ""

    def blob(self) -> bytes:
        """signature.json: canonical JSON (sorted keys, UTF-8), so the distributed file is reproducible."""
        return self._blob(self.pdf, self.signature, self.sm3_hex)

    def ofd_blob(self) -> bytes:
        return self._blob(self.ofd, self.ofd_signature, self.ofd_sm3_hex)

    def _blob(self, signed: bytes, signature: bytes, sm3_hex: str) -> bytes:
        document: dict[str, Any] = {
            "format": BLOB_FORMAT,
            "identifier": self.identifier,
            "number": self.number,
            "signed_length": len(signed),
            "sm3": sm3_hex,
            "signature": base64.b64encode(signature).decode("ascii"),
            "signature_algorithm": SIGNATURE_ALGORITHM,
            "signer_certificate": self.signer_cert_pem.decode("ascii"),
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def distributable(self) -> bytes:
        """The file handed to the bank or the holder: the signed PDF with the signature attached."""
        return attach_signature_blob(self.pdf, self.blob())

    def distributable_ofd(self) -> bytes:
        """The OFD handed out: the signed package with signature.json as its archive comment."""
        return attach_ofd_signature(self.ofd, self.ofd_blob()) if self.ofd else b""


def sign_pdf(
    pdf: bytes, key: certs.SM2PrivateKey, signer: certs.Certificate, identifier: str, number: str
) -> SignedCertificate:
    """Sign exact PDF bytes with the registry key; the certificate must be the key's registry certificate."""
    _check_signer(key, signer)
    return SignedCertificate(pdf, key.sign(pdf), signer.pem, certs.sm3_hex(pdf), identifier, number)


def issue(
    content: CertificateContent, key: certs.SM2PrivateKey, signer: certs.Certificate
) -> SignedCertificate:
    """Render both formats and sign each (CPU-bound: call from a worker thread or `issue_async`)."""
    _check_signer(key, signer)
    pdf, ofd = render_pair(content)
    return SignedCertificate(
        pdf,
        key.sign(pdf),
        signer.pem,
        certs.sm3_hex(pdf),
        str(content.identifier),
        content.number_text,
        ofd,
        key.sign(ofd),
        certs.sm3_hex(ofd),
    )


async def issue_async(
    content: CertificateContent,
    key: certs.SM2PrivateKey,
    signer: certs.Certificate,
    executor: Executor | None = None,
) -> SignedCertificate:
    """Render in `executor` (a process pool scales rendering across cores) and sign off the event loop."""
    _check_signer(key, signer)
    pdf, ofd = await asyncio.get_running_loop().run_in_executor(executor, render_pair, content)
    pdf_signature, ofd_signature = await asyncio.gather(
        certs.sign_async(key, pdf), certs.sign_async(key, ofd)
    )
    return SignedCertificate(
        pdf,
        pdf_signature,
        signer.pem,
        certs.sm3_hex(pdf),
        str(content.identifier),
        content.number_text,
        ofd,
        ofd_signature,
        certs.sm3_hex(ofd),
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
