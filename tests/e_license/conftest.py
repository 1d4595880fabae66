"""A registry key and certificate issued by a fresh gateway CA, and signed sample certificates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import certs
from e_license.samples import sample_ownership, sample_proof
from e_license.signing import SignedCertificate, issue

SAMPLES_SIGNED_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def ca() -> certs.CertificateAuthority:
    return certs.CertificateAuthority.create("Test Root CA")


@pytest.fixture(scope="session")
def registry_key() -> certs.SM2PrivateKey:
    return certs.SM2PrivateKey.generate()


@pytest.fixture(scope="session")
def registry_cert(ca: certs.CertificateAuthority, registry_key: certs.SM2PrivateKey) -> certs.Certificate:
    # Valid since before the samples' issue date (2026-11-27): a verifier checks it was valid that day.
    return ca.issue(registry_key.public_key, "registry", "registry", not_before=SAMPLES_SIGNED_FROM)


@pytest.fixture(scope="session")
def signed_ownership(
    registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate
) -> SignedCertificate:
    return issue(sample_ownership(), registry_key, registry_cert)


@pytest.fixture(scope="session")
def signed_proof(registry_key: certs.SM2PrivateKey, registry_cert: certs.Certificate) -> SignedCertificate:
    return issue(sample_proof(), registry_key, registry_cert)
