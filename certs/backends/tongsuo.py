"""SM2 through tongsuopy (Tongsuo 8.3 in C, releases the GIL); default signer ID only."""

from __future__ import annotations

from typing import Any

from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

from certs.backends.base import PrivateHandle, PublicHandle
from certs.curve import COORDINATE_SIZE, DEFAULT_SIGNER_ID
from certs.der import Signature, parse_der

_ALGORITHM = ec.ECDSA(hashes.SM3())  # with an SM2 key Tongsuo applies Z with the default ID


def _check_id(signer_id: bytes) -> None:
    if signer_id != DEFAULT_SIGNER_ID:
        # The registry routes other IDs to a capable backend; reaching this is a bug.
        raise ValueError("tongsuopy signs and verifies with the default signer ID only")


def _point(public_key: Any) -> bytes:
    numbers = public_key.public_numbers()
    x: int = numbers.x
    y: int = numbers.y
    return x.to_bytes(COORDINATE_SIZE, "big") + y.to_bytes(COORDINATE_SIZE, "big")


class _Private:
    def __init__(self, key: Any) -> None:
        self._key = key

    def sign(self, message: bytes, signer_id: bytes) -> Signature:
        _check_id(signer_id)
        return parse_der(self._key.sign(message, _ALGORITHM))


class _Public:
    def __init__(self, key: Any) -> None:
        self._key = key

    def verify(self, signature: Signature, message: bytes, signer_id: bytes) -> bool:
        _check_id(signer_id)
        try:
            self._key.verify(signature.to_der(), message, _ALGORITHM)
        except InvalidSignature:
            return False
        return True


class TongsuoBackend:
    name = "tongsuopy"
    releases_gil = True
    any_signer_id = False

    def generate(self) -> tuple[int, bytes]:
        key = ec.generate_private_key(ec.SM2())
        return key.private_numbers().private_value, _point(key.public_key())

    def public_point(self, private_scalar: int) -> bytes:
        return _point(ec.derive_private_key(private_scalar, ec.SM2()).public_key())

    def load_private(self, private_scalar: int, public_point: bytes) -> PrivateHandle:
        return _Private(ec.derive_private_key(private_scalar, ec.SM2()))

    def load_public(self, public_point: bytes) -> PublicHandle:
        x = int.from_bytes(public_point[:COORDINATE_SIZE], "big")
        y = int.from_bytes(public_point[COORDINATE_SIZE:], "big")
        return _Public(ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key())

    def sm3(self, data: bytes) -> bytes:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        result: bytes = digest.finalize()
        return result
