"""SM2 through gmssl_pyx (GmSSL 3.2 in C): any signer ID; Z is cached per key and ID."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

import gmssl_pyx

from certs.backends.base import PrivateHandle, PublicHandle
from certs.curve import COORDINATE_SIZE, compute_z
from certs.der import Signature, parse_der
from certs.hashing import sm3

T = TypeVar("T")

# GmSSL in this wheel is built with its debug traces on: every failed verification prints
# "sm2_sign.c:265:sm2_fast_verify()" lines through C's `stderr`. A forged request must not write to the
# gateway's stderr, so failed-verify calls run with libc's `stderr` pointed at /dev/null. gmssl_pyx holds
# the GIL during the call, and Python's own writes go through file descriptor 2, not through C's
# `stderr`, so only C code printing from another thread in that instant could be affected.
_silence_lock = threading.Lock()


@cache
def _libc_stderr() -> tuple[ctypes.c_void_p, int] | None:
    try:
        libc = ctypes.CDLL(None)
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        devnull = libc.fopen(b"/dev/null", b"w")
        variable = ctypes.c_void_p.in_dll(libc, "stderr")
    except (OSError, ValueError, AttributeError):
        return None  # not glibc: traces stay visible, results are unaffected
    if not devnull:
        return None
    return variable, devnull


@contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    target = _libc_stderr()
    if target is None:
        yield
        return
    variable, devnull = target
    with _silence_lock:
        saved = variable.value
        variable.value = devnull
        try:
            yield
        finally:
            variable.value = saved


def _quiet(call: Callable[[], T]) -> T:
    with _c_stderr_silenced():
        return call()


class _ZCache:
    """Z depends only on the public key and the signer ID: compute it once per pair."""

    def __init__(self, public_point: bytes) -> None:
        self._point = public_point
        self._z: dict[bytes, bytes] = {}

    def digest(self, message: bytes, signer_id: bytes) -> bytes:
        z = self._z.get(signer_id)
        if z is None:
            z = self._z[signer_id] = compute_z(self._point, signer_id)
        return sm3(z + message)


class _Private:
    def __init__(self, private_scalar: int, public_point: bytes) -> None:
        self._d = private_scalar.to_bytes(COORDINATE_SIZE, "big")
        self._z = _ZCache(public_point)

    def sign(self, message: bytes, signer_id: bytes) -> Signature:
        return parse_der(gmssl_pyx.sm2_sign_sm3_digest(self._d, self._z.digest(message, signer_id)))


class _Public:
    def __init__(self, public_point: bytes) -> None:
        self._point = public_point
        self._z = _ZCache(public_point)

    def verify(self, signature: Signature, message: bytes, signer_id: bytes) -> bool:
        digest = self._z.digest(message, signer_id)
        der = signature.to_der()
        try:
            return bool(_quiet(lambda: gmssl_pyx.sm2_verify_sm3_digest(self._point, digest, der)))
        except gmssl_pyx.GmsslInnerError:
            return False


class GmsslPyxBackend:
    name = "gmssl_pyx"
    releases_gil = False
    any_signer_id = True

    def generate(self) -> tuple[int, bytes]:
        public, private = gmssl_pyx.sm2_key_generate()
        return int.from_bytes(private, "big"), bytes(public)

    def public_point(self, private_scalar: int) -> bytes:
        # gmssl_pyx exposes no scalar multiplication; the pure-Python code does it (a key load, not per
        # message).
        from certs.backends.gmssl_pure import scalar_base_mult

        return scalar_base_mult(private_scalar)

    def load_private(self, private_scalar: int, public_point: bytes) -> PrivateHandle:
        return _Private(private_scalar, public_point)

    def load_public(self, public_point: bytes) -> PublicHandle:
        return _Public(public_point)

    def sm3(self, data: bytes) -> bytes:
        return bytes(gmssl_pyx.sm3_hash(data))
