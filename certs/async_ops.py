"""SM2 off the event loop: one shared, bounded thread pool (tongsuopy releases the GIL, so it uses every core)."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from certs.curve import DEFAULT_SIGNER_ID
from certs.keys import SM2PrivateKey, SM2PublicKey

# Messages up to this size are signed or verified in place on the event loop (~0.3 ms of SM2); the hop to
# the pool and back costs about as much CPU again, so only larger ones (SM3 over megabytes) go to the pool.
INLINE_MAX_BYTES = 64 * 1024

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def crypto_executor() -> ThreadPoolExecutor:
    """The pool, created on first use: one thread per core (at most 8), named for thread dumps."""
    global _executor
    with _lock:
        if _executor is None:
            workers = min(8, os.cpu_count() or 2)
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gw-crypto")
        return _executor


def shutdown_crypto_executor() -> None:
    """For the application's shutdown hook; the next call creates a fresh pool."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)


async def sign_async(key: SM2PrivateKey, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID) -> bytes:
    """`key.sign(message, signer_id)` in the crypto pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(crypto_executor(), key.sign, message, signer_id)


async def verify_async(
    key: SM2PublicKey, signature: bytes, message: bytes, signer_id: bytes = DEFAULT_SIGNER_ID
) -> None:
    """`key.verify(signature, message, signer_id)` in the crypto pool; raises BadSignature."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(crypto_executor(), key.verify, signature, message, signer_id)
