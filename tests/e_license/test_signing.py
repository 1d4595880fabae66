"""Signed certificates: the embedded signature verifies offline, and any change anywhere is caught."""

from __future__ import annotations

import base64
import io
import json
import logging
import multiprocessing
import random
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pypdf
import pytest

import certs
from e_license.embedding import read_signature_blob
from e_license.render import render
from e_license.samples import sample_ownership, sample_proof
from e_license.signing import SignedCertificate, issue_async, sign_pdf
from e_license.verify import verify_detached, verify_file
from gateway.errors import BadKey, BadSignature, InputError


def _reason(data: bytes, cert: certs.Certificate) -> str:
    with pytest.raises(BadSignature) as caught:
        verify_file(data, cert)
    return caught.value.message_en


def test_both_kinds_verify_offline_and_name_what_they_are(
    signed_ownership: SignedCertificate, signed_proof: SignedCertificate, registry_cert: certs.Certificate
) -> None:
    for signed, content in [(signed_ownership, sample_ownership()), (signed_proof, sample_proof())]:
        result = verify_file(signed.distributable(), registry_cert)
        assert result.identifier == str(content.identifier)
        assert result.number == content.number_text
        assert result.sm3_hex == signed.sm3_hex == certs.sm3_hex(render(content))
        assert result.signed_length == len(signed.pdf)
        assert (result.signer_party_code, result.signer_fingerprint) == (
            "registry",
            registry_cert.fingerprint,
        )


def test_the_record_keeps_a_detached_signature_over_the_exact_rendered_bytes(
    signed_proof: SignedCertificate, registry_cert: certs.Certificate
) -> None:
    assert signed_proof.pdf == render(sample_proof())
    assert verify_detached(signed_proof.pdf, signed_proof.signature, registry_cert) == signed_proof.sm3_hex
    assert signed_proof.signer_cert_pem == registry_cert.pem
    with pytest.raises(BadSignature, match="not the one the registry signed"):
        verify_detached(render(sample_proof(seq=2)), signed_proof.signature, registry_cert)


def test_the_distributed_file_still_opens_and_lists_the_signature(
    signed_ownership: SignedCertificate, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = signed_ownership.distributable()
    assert data.startswith(signed_ownership.pdf)
    with caplog.at_level(logging.WARNING, logger="pypdf"):
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        assert len(reader.pages) == 1
    assert not caplog.records, [record.getMessage() for record in caplog.records]  # nothing to repair
    assert "中华人民共和国不动产权证书" in reader.pages[0].extract_text()
    blob = json.loads(reader.attachments["signature.json"][0])
    assert blob["signed_length"] == len(signed_ownership.pdf)
    assert blob["sm3"] == signed_ownership.sm3_hex
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    listing = subprocess.run(
        ["pdfdetach", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert "signature.json" in listing
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    assert signed_ownership.number in text


def test_distribution_is_reproducible(signed_ownership: SignedCertificate) -> None:
    assert signed_ownership.distributable() == signed_ownership.distributable()


def test_one_changed_byte_anywhere_in_the_signed_range_fails(
    signed_ownership: SignedCertificate, registry_cert: certs.Certificate
) -> None:
    data = signed_ownership.distributable()
    signed_length = len(signed_ownership.pdf)
    rng = random.Random(6)
    # Every 53rd byte (header, content streams, font subsets, xref, trailer) plus both ends and random picks.
    positions = {0, signed_length - 1, *range(0, signed_length, 53), *rng.sample(range(signed_length), 200)}
    for position in sorted(positions):
        tampered = bytearray(data)
        tampered[position] ^= 1 << rng.randrange(8)
        with pytest.raises(BadSignature, match="changed after signing"):
            verify_file(bytes(tampered), registry_cert)


def test_changes_outside_the_signed_range_fail_too(
    signed_ownership: SignedCertificate, registry_cert: certs.Certificate
) -> None:
    data = signed_ownership.distributable()
    assert "added or changed after the signed range" in _reason(data + b"%extra\n", registry_cert)
    xref = data.rindex(b"startxref")
    moved = data[:xref] + data[xref:].replace(b"startxref\n", b"startxref\n1", 1)
    assert "added or changed after the signed range" in _reason(moved, registry_cert)


def _with_blob(data: bytes, **changes: object) -> bytes:
    blob = read_signature_blob(data)
    edited = json.loads(blob)
    edited.update(changes)
    new = json.dumps(edited, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    head = data.rindex(b"/Length %d >>\nstream\n" % len(blob))
    rest = data[head:].replace(b"/Length %d" % len(blob), b"/Length %d" % len(new), 1).replace(blob, new, 1)
    return data[:head] + rest


def test_a_forged_blob_is_refused_with_the_reason(
    signed_ownership: SignedCertificate,
    signed_proof: SignedCertificate,
    registry_cert: certs.Certificate,
    ca: certs.CertificateAuthority,
) -> None:
    data = signed_ownership.distributable()
    other_sig = base64.b64encode(signed_proof.signature).decode()
    assert "does not verify" in _reason(_with_blob(data, signature=other_sig), registry_cert)
    assert "embedded identifier" in _reason(
        _with_blob(data, identifier=signed_proof.identifier), registry_cert
    )
    assert "embedded number" in _reason(_with_blob(data, number=signed_proof.number), registry_cert)
    assert "malformed" in _reason(_with_blob(data, signature="not base64!"), registry_cert)
    assert "malformed" in _reason(_with_blob(data, format="other/1"), registry_cert)
    assert "does not fit" in _reason(_with_blob(data, signed_length=10**9), registry_cert)

    # An impostor signs the same bytes with its own key and certificate from the same CA.
    impostor_key = certs.SM2PrivateKey.generate()
    impostor = ca.issue(impostor_key.public_key, "fake-registry", "registry")
    resigned = sign_pdf(
        signed_ownership.pdf, impostor_key, impostor, signed_ownership.identifier, signed_ownership.number
    )
    assert "not by the trusted registry certificate" in _reason(resigned.distributable(), registry_cert)


def test_a_file_without_an_embedded_signature_is_refused(registry_cert: certs.Certificate) -> None:
    assert "no embedded signature" in _reason(render(sample_ownership()), registry_cert)


def test_only_the_registry_key_and_certificate_sign(
    ca: certs.CertificateAuthority, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    pdf = render(sample_proof())
    bank_cert = ca.issue(registry_key.public_key, "icbc-dg", "bank")
    with pytest.raises(BadKey, match="registry certificate"):
        sign_pdf(pdf, registry_key, bank_cert, "x", "y")
    with pytest.raises(BadKey, match="does not belong"):
        sign_pdf(pdf, certs.SM2PrivateKey.generate(), registry_cert, "x", "y")


def test_a_distributed_file_is_not_sealed_twice(
    signed_ownership: SignedCertificate, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    resigned = sign_pdf(signed_ownership.distributable(), registry_key, registry_cert, "x", "y")
    with pytest.raises(InputError, match="name dictionary"):
        resigned.distributable()


async def test_issue_async_matches_the_sync_path(
    signed_proof: SignedCertificate, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    signed = await issue_async(sample_proof(), registry_key, registry_cert)
    assert signed.pdf == signed_proof.pdf
    assert verify_file(signed.distributable(), registry_cert).sm3_hex == signed_proof.sm3_hex


async def test_rendering_in_a_process_pool_gives_the_same_signed_bytes(
    signed_ownership: SignedCertificate, registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        signed = await issue_async(sample_ownership(), registry_key, registry_cert, executor=pool)
    assert signed.pdf == signed_ownership.pdf
    verify_detached(signed.pdf, signed.signature, registry_cert)
