"""SM2 through the pure-Python `gmssl` 3.2.2: portable, slow, and an independent cross-check in tests."""

from __future__ import annotations

import secrets

from gmssl import func as gmssl_func
from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3

from certs.backends.base import PrivateHandle, PublicHandle, random_private_scalar
from certs.curve import COORDINATE_SIZE, DEFAULT_SIGNER_ID, SM2_CURVE, compute_z
from certs.der import Signature
from certs.hashing import sm3

_HEX = 2 * COORDINATE_SIZE


def _nonce_hex() -> str:
    # gmssl draws k from `random` when none is given; k must come from a CSPRNG.
    return format(secrets.randbelow(SM2_CURVE.n - 1) + 1, f"0{_HEX}x")


def _engine(private_scalar: int | None, public_point: bytes) -> gmssl_sm2.CryptSM2:
    # gmssl works on the public key as 128 hex characters x‖y without the 04 prefix, but its constructor
    # "removes" a prefix with lstrip("04"): with or without one, a key whose x starts with byte 0x04 (1 in
    # 256) loses its leading x digits (every "0" and "4"), and every signature and Z computed from it is
    # wrong. So the engine is built with no key and given x‖y directly, never through that code.
    private_hex = format(private_scalar, f"0{_HEX}x") if private_scalar is not None else ""
    engine = gmssl_sm2.CryptSM2(private_key=private_hex, public_key="")
    engine.public_key = public_point.hex()
    return engine


def scalar_base_mult(private_scalar: int) -> bytes:
    """d·G in pure Python (a few milliseconds)."""
    engine = _engine(None, b"")
    point_hex: str = engine._kg(private_scalar, gmssl_sm2.default_ecc_table["g"])
    return bytes.fromhex(point_hex)


class _Private:
    def __init__(self, private_scalar: int, public_point: bytes) -> None:
        self._point = public_point
        self._engine = _engine(private_scalar, public_point)

    def sign(self, message: bytes, signer_id: bytes) -> Signature:
        while True:
            if signer_id == DEFAULT_SIGNER_ID:
                # gmssl's own Z and SM3 (fixed default ID): an implementation independent of ours.
                raw = self._engine.sign_with_sm3(message, _nonce_hex())
            else:
                # sign() takes the digest e = SM3(Z ‖ M), not the message.
                digest = sm3(compute_z(self._point, signer_id) + message)
                raw = self._engine.sign(digest, _nonce_hex())
            if raw:  # None when the random k gave r = 0, r + k = n or s = 0: draw another k
                return Signature(int(raw[:_HEX], 16), int(raw[_HEX:], 16))


class _Public:
    def __init__(self, public_point: bytes) -> None:
        self._point = public_point
        self._engine = _engine(None, public_point)

    def verify(self, signature: Signature, message: bytes, signer_id: bytes) -> bool:
        raw_hex = signature.to_raw().hex()  # r‖s hex; gmssl's own DER parser is malleable, never used
        try:
            if signer_id == DEFAULT_SIGNER_ID:
                return bool(self._engine.verify_with_sm3(raw_hex, message))
            digest = sm3(compute_z(self._point, signer_id) + message)
            return bool(self._engine.verify(raw_hex, digest))
        except (TypeError, ValueError):
            return False  # gmssl raises instead of returning False for some degenerate points


class GmsslPureBackend:
    name = "gmssl"
    releases_gil = False
    any_signer_id = True

    def generate(self) -> tuple[int, bytes]:
        private_scalar = random_private_scalar()
        return private_scalar, scalar_base_mult(private_scalar)

    def public_point(self, private_scalar: int) -> bytes:
        return scalar_base_mult(private_scalar)

    def load_private(self, private_scalar: int, public_point: bytes) -> PrivateHandle:
        return _Private(private_scalar, public_point)

    def load_public(self, public_point: bytes) -> PublicHandle:
        return _Public(public_point)

    def sm3(self, data: bytes) -> bytes:
        # sm3_hash() mutates the list it is given: hand it a fresh one.
        return bytes.fromhex(gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data)))
