"""A CA and a gateway identity per test session: issuing is cheap, but a test needs no fresh CA."""

from __future__ import annotations

import pytest

import certs


@pytest.fixture(scope="session")
def ca() -> certs.CertificateAuthority:
    return certs.CertificateAuthority.create("Sandbox Test CA")


@pytest.fixture(scope="session")
def gateway_key() -> certs.SM2PrivateKey:
    return certs.SM2PrivateKey.generate()


@pytest.fixture(scope="session")
def gateway_certificate(
    ca: certs.CertificateAuthority, gateway_key: certs.SM2PrivateKey
) -> certs.Certificate:
    return ca.issue(gateway_key.public_key, "registry", "registry")
