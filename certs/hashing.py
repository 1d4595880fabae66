"""SM3 hashing and HMAC-SM3, backed by OpenSSL through hashlib (or `cryptography` where hashlib lacks SM3)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

SM3_DIGEST_SIZE = 32


@cache
def _hashlib_has_sm3() -> bool:
    # Python's OpenSSL may be built without SM3 (some distributions disable it); probe once.
    try:
        hashlib.new("sm3", b"")
    except ValueError:
        return False
    return True


def _sm3_cryptography(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _hmac_cryptography(key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


@cache
def _sm3_impl() -> Callable[[bytes], bytes]:
    if _hashlib_has_sm3():
        return lambda data: hashlib.new("sm3", data).digest()
    return _sm3_cryptography


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest (GB/T 32905) of `data`."""
    return _sm3_impl()(data)


def sm3_hex(data: bytes) -> str:
    """The SM3 digest of `data` as 64 lower-case hex characters."""
    return sm3(data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) with SM3: 32 bytes."""
    if _hashlib_has_sm3():
        return hmac.digest(key, data, "sm3")
    return _hmac_cryptography(key, data)


class SM3Hasher:
    """Incremental SM3 for large inputs (files) without holding them in memory."""

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.finalize()
