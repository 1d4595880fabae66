"""SM2 sign/verify per second and SM3 MB/s for every installed backend, side by side (about 40 s)."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

from certs import DEFAULT_SIGNER_ID, SM2PrivateKey, backends, sign_async, sm3, verify_async
from certs.der import parse_der

MESSAGE = os.urandom(1024)  # 1 KiB, as in reference/crypto.md
ROUND_SECONDS = 0.6
ROUNDS = 3  # medians of three: the machine is shared and noisy
THREADS = os.cpu_count() or 2
TOLERANCE = 0.10  # the default must be within 10 % of the fastest


def rate(operation: Callable[[], object], threads: int = 1) -> float:
    """Operations per second of `operation` run in `threads` threads for ROUND_SECONDS."""
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(index: int) -> None:
        barrier.wait()
        count = 0
        while not stop.is_set():
            operation()
            count += 1
        counts[index] = count

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(ROUND_SECONDS)
    stop.set()
    for thread in workers:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def median_rate(operation: Callable[[], object], threads: int = 1) -> float:
    return statistics.median(rate(operation, threads) for _ in range(ROUNDS))


def sm3_rate(hash_function: Callable[[bytes], bytes], size: int) -> float:
    data = os.urandom(size)
    return median_rate(lambda: hash_function(data)) * size / 1e6


def measure_backend(name: str) -> dict[str, float]:
    backend = backends.get_backend(name)
    key = SM2PrivateKey.generate()
    signer = key.handle(backend)
    verifier = key.public_key.handle(backend)
    signature = parse_der(key.sign(MESSAGE))

    def sign() -> None:
        signer.sign(MESSAGE, DEFAULT_SIGNER_ID)

    def verify() -> None:
        if not verifier.verify(signature, MESSAGE, DEFAULT_SIGNER_ID):
            raise AssertionError(f"{name} failed to verify a valid signature")

    result = {"sign": median_rate(sign), "verify": median_rate(verify)}
    result["sign_threads"] = median_rate(sign, THREADS)
    result["verify_threads"] = median_rate(verify, THREADS)
    pure = name == "gmssl"
    result["sm3"] = sm3_rate(backend.sm3, 16 * 1024 if pure else 1024 * 1024)
    return result


async def gateway_round_trips(seconds: float = 2.0, concurrency: int = 32) -> float:
    """Requests/s through the public async API: verify one request signature, sign one response."""
    key = SM2PrivateKey.generate()
    signature = key.sign(MESSAGE)
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await verify_async(key.public_key, signature, MESSAGE)
            await sign_async(key, MESSAGE)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def main() -> int:
    default = backends.use_backend(None).name
    names = backends.available_backends()
    print(f"SM2 over a 1 KiB message, signer ID 1234567812345678; {THREADS} threads; median of {ROUNDS}")
    print(f"installed: {', '.join(names)}; default (GW_CRYPTO_BACKEND unset): {default}\n")
    header = f"{'backend':<11}{'GIL':>6}{'sign/s':>10}{'verify/s':>10}{'sign/s':>10}{'verify/s':>10}{'SM3 MB/s':>10}"
    print(f"{'':<17}{'— 1 thread —':^20}{f'— {THREADS} threads —':^20}")
    print(header)
    results: dict[str, dict[str, float]] = {}
    for name in names:
        results[name] = measured = measure_backend(name)
        gil = "free" if backends.get_backend(name).releases_gil else "held"
        print(
            f"{name:<11}{gil:>6}{measured['sign']:>10,.0f}{measured['verify']:>10,.0f}"
            f"{measured['sign_threads']:>10,.0f}{measured['verify_threads']:>10,.0f}{measured['sm3']:>10,.1f}",
            flush=True,
        )
    print(f"{'certs.sm3':<11}{'free':>6}{'':>40}{sm3_rate(sm3, 1024 * 1024):>10,.1f}   (hashlib/OpenSSL)")

    def requests_per_second(name: str) -> float:
        # The gateway's work per request is one verification and one signature; a server uses every core
        # it has, so each backend is credited with its better thread count.
        measured = results[name]
        sign = max(measured["sign"], measured["sign_threads"])
        verify = max(measured["verify"], measured["verify_threads"])
        return 1 / (1 / sign + 1 / verify)

    print(
        "\nverify + sign pairs/s (best thread count): "
        + ", ".join(f"{name} {requests_per_second(name):,.0f}" for name in names)
    )
    fastest = max(names, key=requests_per_second)
    ratio = requests_per_second(default) / requests_per_second(fastest)
    print(f"fastest: {fastest}; the default {default} reaches {ratio:.0%} of it")
    per_second = asyncio.run(gateway_round_trips())
    print(f"gateway path (verify_async + sign_async, {default}): {per_second:,.0f} requests/s (target 500)")
    if ratio < 1 - TOLERANCE:
        print(
            f"FAIL: the default backend is more than {TOLERANCE:.0%} slower than {fastest}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
