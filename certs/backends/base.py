"""The small interface every SM2 implementation sits behind: keys, sign, verify, SM3."""

from __future__ import annotations

import secrets
from typing import Protocol

from certs.curve import SM2_CURVE
from certs.der import Signature


class PrivateHandle(Protocol):
    """A private key loaded into one backend (parsed once, reused for every signature)."""

    def sign(self, message: bytes, signer_id: bytes) -> Signature: ...


class PublicHandle(Protocol):
    """A public key loaded into one backend; caches what the backend allows (e.g. Z per signer ID)."""

    def verify(self, signature: Signature, message: bytes, signer_id: bytes) -> bool: ...


class SM2Backend(Protocol):
    name: str
    # True when the C code runs without the GIL, so threads use both cores.
    releases_gil: bool
    # False when only the default signer ID 1234567812345678 can be used (tongsuopy).
    any_signer_id: bool

    def generate(self) -> tuple[int, bytes]:
        """A new key pair: (private scalar d, 64-byte public point x‖y)."""
        ...

    def public_point(self, private_scalar: int) -> bytes:
        """d·G as the 64-byte x‖y."""
        ...

    def load_private(self, private_scalar: int, public_point: bytes) -> PrivateHandle: ...

    def load_public(self, public_point: bytes) -> PublicHandle: ...

    def sm3(self, data: bytes) -> bytes: ...


def random_private_scalar() -> int:
    """A private key d in [1, n-2] (GB/T 32918.1 §6.1: d+1 must be invertible mod n)."""
    return secrets.randbelow(SM2_CURVE.n - 2) + 1
