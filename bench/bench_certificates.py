"""Certificates rendered and signed per second per core, and their size, beside a minimal reportlab page.

A certificate is what 缮证 makes: the PDF and the OFD of the same page, each SM2-signed and carrying its
signature, with the registry's seal (the demo's sample PNG) over 登记机构（章）; no 附图.

Run: `.venv/bin/python bench/bench_certificates.py [--seconds 6] [--strict]`. Throughput is CPU time of this
one process (a core), so a busy neighbour slows the wall clock but not the figure much; the minimal page
measured in the same run is the yardstick (run-to-run spread here is ±10–20 %, baselines.md).
Targets (issues 6, 19): ≥ 50 certificates (PDF + OFD) per second per core, each file < 150 KB.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from itertools import count

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

import certs
from e_license.content import CertificateContent
from e_license.render import render, render_pair
from e_license.samples import sample_ownership, sample_proof
from e_license.seal import sample_seal_png
from e_license.signing import issue

TARGET_PER_SECOND = 50.0
TARGET_KB = 150.0


def minimal_page() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.drawString(72, 770, "Hello, world")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def per_second(work: Callable[[], object], seconds: float) -> float:
    """Calls per CPU-second, measured over about `seconds` of CPU time after a warm-up call."""
    work()
    calls, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < seconds:
        work()
        calls += 1
    return calls / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="CPU seconds per measurement")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    ca = certs.CertificateAuthority.create("Bench CA")
    key = certs.SM2PrivateKey.generate()
    signer = ca.issue(key.public_key, "registry", "registry")
    # Distinct numbers, identifiers and QR payloads, built ahead: content comes from the register.
    seal = sample_seal_png("东莞市不动产登记中心")
    contents: list[CertificateContent] = []
    for seq in range(1, 401):
        sample = sample_ownership(seq=seq) if seq % 2 else sample_proof(seq=seq)
        contents.append(sample.model_copy(update={"seal": seal}))
    serial = count()

    def next_content() -> CertificateContent:
        return contents[next(serial) % len(contents)]

    def certificate() -> tuple[bytes, bytes]:
        signed = issue(next_content(), key, signer)
        return signed.distributable(), signed.distributable_ofd()

    sealed = {"seal": seal}
    ownership = issue(sample_ownership().model_copy(update=sealed), key, signer).distributable()
    proof = issue(sample_proof().model_copy(update=sealed), key, signer).distributable()
    pdf = render(sample_proof())

    results = {
        "minimal reportlab page (Helvetica, 1 line)": per_second(minimal_page, args.seconds / 2),
        "certificate: render PDF only": per_second(lambda: render(next_content()), args.seconds),
        "certificate: render PDF + OFD": per_second(lambda: render_pair(next_content()), args.seconds),
        "certificate: SM2 sign + SM3 of the bytes": per_second(lambda: key.sign(pdf), args.seconds / 3),
        "certificate: PDF + OFD, signed + embedded": per_second(certificate, args.seconds),
    }
    files = [certificate() for _ in range(40)]
    sizes = [len(f) / 1024 for pair in files for f in pair]
    ofd_sizes = [len(ofd) / 1024 for _pdf, ofd in files]

    print(
        f"backend {certs.backend_name()}, {args.seconds:g} CPU-seconds per measurement, one process (= one core)"
    )
    for name, rate in results.items():
        print(f"  {name:<46} {rate:8.1f} /s per core   {1000 / rate:7.2f} ms each")
    full = results["certificate: PDF + OFD, signed + embedded"]
    ratio = full / results["minimal reportlab page (Helvetica, 1 line)"]
    print(f"  a certificate costs as much as {1 / ratio:.1f} minimal pages")
    print(
        f"  size: 不动产权证书 {len(ownership) / 1024:.1f} KB, 不动产登记证明 {len(proof) / 1024:.1f} KB, ",
        end="",
    )
    print(
        f"mixed run median {statistics.median(sizes):.1f} KB, max {max(sizes):.1f} KB (OFD max {max(ofd_sizes):.1f} KB)"
    )

    misses = []
    if full < TARGET_PER_SECOND:
        misses.append(f"{full:.1f}/s per core is below the {TARGET_PER_SECOND:g}/s target")
    if max(sizes) >= TARGET_KB:
        misses.append(f"{max(sizes):.1f} KB is not under {TARGET_KB:g} KB")
    print("targets (≥ 50/s per core, < 150 KB):", "met" if not misses else "MISSED: " + "; ".join(misses))
    return 1 if misses and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
