"""Forged credentials: Hypothesis varies the X-GW-* headers, bearer tokens and content types as raw bytes."""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import hypothesis
import requests
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

import certs
from certs.request_signing import canonical_request, new_nonce
from tests.api.fuzzing import Failure, FuzzReport

__all__ = ["Target", "forge"]

# Header values as RFC 9110 allows them (visible ASCII, space, tab, and any byte from 0x80): control
# characters never reach the application, aiohttp's parser refuses them with its own plain-text 400.
_FIELD_BYTES = [b for b in range(256) if b in (9, 32) or 33 <= b <= 126 or b >= 128]
_SENDABLE = re.compile(rb"^\S.*\S$|^\S$")  # and what `requests` sends: no leading or trailing whitespace
JUNK: st.SearchStrategy[bytes] = st.one_of(
    st.lists(st.sampled_from(_FIELD_BYTES), min_size=1, max_size=80).map(bytes),
    st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", "键".encode(), b"\xc0\xaf", b"=" * 200, b"-1", b"1e9"]),
).filter(lambda value: _SENDABLE.match(value) is not None)
# A nonce used over and over: the first request that carries it may pass, every later one is a replay.
REUSED_NONCE = "fuzz-reused-nonce-0001"
PARTY, TIMESTAMP, NONCE, SIGNATURE = "X-GW-Party", "X-GW-Timestamp", "X-GW-Nonce", "X-GW-Signature"


@dataclass(frozen=True)
class Target:
    """One request the forgeries are built around: `signed` by `party` with `key`, or not signed at all."""

    method: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"
    party: str = ""
    key: certs.SM2PrivateKey | None = None
    token: str = ""


def _either(valid: Any, *near: Any) -> st.SearchStrategy[Any]:
    """Mostly the valid value (so that the other headers' faults are seen alone), else a near miss or junk."""
    choices = {"valid": st.just(valid), "near": st.sampled_from(near), "junk": JUNK}
    # Hypothesis does not draw one_of's branches evenly: the share of valid values is set here.
    return st.sampled_from(["valid"] * 6 + ["near", "near", "junk", "junk"]).flatmap(choices.__getitem__)


@st.composite
def _signed_headers(draw: st.DrawFn, target: Target) -> dict[str, str | bytes]:
    assert target.key is not None
    now = int(time.time())
    party = draw(_either(target.party, "unknown-bank", "registry", "PSBC-DG", ""))
    timestamp = draw(_either(str(now), str(now - 301), str(now + 301), "0", "999999999999", f"+{now}"))
    nonce = draw(_either(new_nonce(), REUSED_NONCE, "short", "x" * 65, "é" * 20))
    headers: dict[str, str | bytes] = {PARTY: party, TIMESTAMP: timestamp, NONCE: nonce}
    if all(isinstance(v, str) for v in headers.values()) and str(timestamp).isdigit():
        message = canonical_request(
            target.method, target.path, int(timestamp), str(nonce), str(party), target.body
        )
        signature = target.key.sign(message)
    else:
        signature = draw(st.binary(min_size=8, max_size=72))
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    headers[SIGNATURE] = draw(
        _either(
            base64.b64encode(signature).decode(),
            base64.b64encode(flipped).decode(),
            base64.b64encode(draw(st.binary(max_size=100))).decode(),
            base64.b64encode(signature).decode()[:-4],
        )
    )
    missing = draw(st.sampled_from([None] * 6 + [PARTY, TIMESTAMP, NONCE, SIGNATURE]))
    return {name: value for name, value in headers.items() if name != missing}


@st.composite
def _request(draw: st.DrawFn, targets: list[Target]) -> tuple[Target, dict[str, str | bytes]]:
    target = draw(st.sampled_from(targets))
    headers: dict[str, str | bytes] = {}
    if target.key is not None:
        headers.update(draw(_signed_headers(target)))
    if target.token:
        headers["Authorization"] = draw(
            st.one_of(
                _either(
                    f"Bearer {target.token}", "Bearer", f"Basic {target.token}", f"Bearer {target.token}x"
                ),
                JUNK.map(lambda junk: b"Bearer " + junk),
            )
        )
    content_types = (
        "multipart/form-data",
        "multipart/form-data; boundary=\xff",
        "application/json; charset=latin-1",
    )
    headers["Content-Type"] = draw(_either(target.content_type, *content_types))
    if target.method == "POST":
        headers["Idempotency-Key"] = draw(_either(uuid.uuid4().hex, "", "k" * 256, REUSED_NONCE))
    headers["X-Request-ID"] = draw(_either("fuzz-request-0001", "x"))
    return target, headers


def forge(base_url: str, targets: list[Target], *, examples: int) -> FuzzReport:
    """Send `examples` forged requests; a failure is any 5xx, or a 4xx that is not problem+json.
    Blocking: call it from a thread while the server's event loop runs."""
    report = FuzzReport()
    started = time.perf_counter()
    session = requests.Session()

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(request=_request(targets))
    def send(request: tuple[Target, dict[str, str | bytes]]) -> None:
        target, headers = request
        label = f"{target.method} {target.path}"
        response = session.request(
            target.method, base_url + target.path, data=target.body, headers=headers, timeout=30
        )
        report.count(label, response.status_code, response.content)
        content_type = response.headers.get("Content-Type", "")
        if response.status_code >= 500 or (
            response.status_code >= 400 and not content_type.startswith("application/problem+json")
        ):
            sent = {k: v for k, v in headers.items() if k != "Authorization"}
            report.failures.append(
                Failure(
                    label,
                    f"{response.status_code} {content_type}\n    sent {sent!r}\n    {response.text[:300]}",
                )
            )

    send()
    report.seconds = time.perf_counter() - started
    return report
