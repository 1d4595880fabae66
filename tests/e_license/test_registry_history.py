"""A certificate is checked against the registry certificate that signed it, as valid on its issue day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import certs
from e_license.samples import sample_proof
from e_license.signing import issue
from e_license.verify import verify_file
from gateway.errors import BadSignature


def registry_certificate(
    ca: certs.CertificateAuthority, key: certs.SM2PrivateKey, start: datetime, days: int
) -> certs.Certificate:
    return ca.issue(key.public_key, "registry", "registry", days, not_before=start)


def test_a_certificate_signed_by_an_expired_registry_certificate_still_verifies(
    ca: certs.CertificateAuthority, registry_cert: certs.Certificate
) -> None:
    retired_key = certs.SM2PrivateKey.generate()
    # Valid 2026-11-20 … 2026-11-30: expired today, valid on the sample's issue day (2026-11-27).
    retired = registry_certificate(ca, retired_key, datetime(2026, 11, 20, tzinfo=UTC), 10)
    assert retired.not_after < datetime.now(UTC)
    data = issue(sample_proof(), retired_key, retired).distributable()

    result = verify_file(data, [registry_cert, retired])  # current first, then the history
    assert (result.signer_serial, result.signed_on) == (format(retired.serial, "X"), "2026-11-27")
    with pytest.raises(BadSignature, match="not by the trusted registry certificate"):
        verify_file(data, registry_cert)  # the current certificate alone does not vouch for it


def test_a_certificate_dated_outside_its_signers_validity_is_refused(
    ca: certs.CertificateAuthority, registry_cert: certs.Certificate
) -> None:
    key = certs.SM2PrivateKey.generate()
    later = registry_certificate(ca, key, datetime(2026, 12, 1, tzinfo=UTC), 825)
    data = issue(sample_proof(), key, later).distributable()  # dated 2026-11-27, before `later` existed
    with pytest.raises(
        BadSignature, match=r"issued on 2026-11-27, when the registry certificate .* was not valid"
    ):
        verify_file(data, [registry_cert, later])
