"""Schemathesis over the live OpenAPI document: signing and token auth for `requests`, per-operation runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import certs
from gateway.api.routing import BACKOFFICE_API, SIGNED_PREFIXES
from sandbox.pdf import SAMPLE_PDF

__all__ = [
    "PDF",
    "Failure",
    "FuzzReport",
    "Signer",
    "SigningAuth",
    "fuzz",
    "register_pdf_bodies",
]

# No 5xx; and every response as documented: its status, its content type, its body's schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass(frozen=True)
class Signer:
    """A participant that signs the requests under `prefix` (the longest matching prefix wins)."""

    prefix: str
    party: str
    key: certs.SM2PrivateKey


class SigningAuth(requests.auth.AuthBase):
    """Signs the prepared request (the exact bytes and request line sent) as DESIGN Appendix A says, adds a
    fresh Idempotency-Key to every POST, and a bearer token on back-office routes when given one."""

    def __init__(
        self,
        signers: Iterable[Signer] = (),
        token: str | None = None,
        fresh_token: Callable[[], str] | None = None,
    ) -> None:
        self.signers = sorted(signers, key=lambda s: len(s.prefix), reverse=True)
        self.token = token
        # Logout ends the session it is called with: each logout gets a session of its own.
        self.fresh_token = fresh_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path_qs = request.path_url
        if path_qs.startswith(SIGNED_PREFIXES):
            body = _body_bytes(request)
            signer = next(s for s in self.signers if path_qs.startswith(s.prefix))
            method = (request.method or "GET").upper()
            request.headers.update(certs.sign_request(signer.key, signer.party, method, path_qs, body))
            if method == "POST":
                request.headers["Idempotency-Key"] = uuid.uuid4().hex
        elif path_qs.startswith(BACKOFFICE_API) and self.token is not None:
            token = self.token
            if path_qs.startswith(BACKOFFICE_API + "logout") and self.fresh_token is not None:
                token = self.fresh_token()
            request.headers["Authorization"] = f"Bearer {token}"
        return request


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    """The body as bytes; a str body is encoded here so that what is signed is what http.client sends."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        request.body = body.encode()
        request.prepare_content_length(request.body)
        return request.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    raise TypeError(f"cannot sign a streamed body ({type(body).__name__})")


@dataclass(frozen=True)
class Failure:
    operation: str
    detail: str


@dataclass
class FuzzReport:
    """What one pass sent and what it found, per operation (`statuses` counts response codes)."""

    examples: dict[str, int] = field(default_factory=dict)
    seconds_by_operation: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    # The first response body seen per operation and status, for reading what the fuzzer reached.
    samples: dict[tuple[str, int], bytes] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.examples.values())

    def count(self, operation: str, status: int, body: bytes = b"") -> None:
        self.samples.setdefault((operation, status), body[:300])
        self.examples[operation] = self.examples.get(operation, 0) + 1
        by_status = self.statuses.setdefault(operation, {})
        by_status[status] = by_status.get(status, 0) + 1

    def summary(self) -> str:
        lines = [f"{self.total} requests over {len(self.examples)} operations in {self.seconds:.1f} s"]
        slowest = sorted(self.seconds_by_operation.items(), key=lambda item: -item[1])[:5]
        lines.append("slowest: " + ", ".join(f"{op} {s:.1f} s" for op, s in slowest))
        seen: set[tuple[str, str]] = set()
        for failure in self.failures:
            kind = (failure.operation, failure.detail.partition("\n")[0])
            if kind not in seen:  # the same failure of the same operation is listed once
                seen.add(kind)
                lines.append(f"- {failure.operation}: {failure.detail}")
        lines.append(f"{len(self.failures)} failing requests, {len(seen)} distinct")
        return "\n".join(lines)


ResponseCheck = Callable[[schemathesis.Case, schemathesis.Response], None]


def fuzz(
    schema: schemathesis.BaseSchema,
    base_url: str,
    session: requests.Session,
    *,
    max_examples: int,
    coverage_cases: int,
    known: Mapping[str, str] | None = None,
    known_for: Mapping[str, Mapping[str, str]] | None = None,
    bodies: Mapping[str, Sequence[Any]] | None = None,
    caps: Mapping[str, int] | None = None,
    extra_check: ResponseCheck | None = None,
) -> FuzzReport:
    """Run every operation of `schema` and collect what fails `CHECKS` (and `extra_check`).

    Per operation: the first `coverage_cases` of schemathesis' coverage phase (boundary and invalid values),
    then `max_examples` Hypothesis examples drawn in positive and negative modes, also with path parameters
    from `known` (real ids; `known_for` overrides them per operation label) and with `bodies` (label → valid
    bodies, sent as they are or with one value replaced), so that handlers past the lookup and the schema
    are reached too. `caps` lowers both numbers for operations slow by design (password hashing).
    Blocking: call it from a thread while the server's event loop runs."""
    report = FuzzReport()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis cannot read is a defect of the document
            report.failures.append(Failure("(document)", f"invalid operation: {result.err()}"))
            continue
        operation = result.ok()
        label = operation.label
        operation_started = time.perf_counter()

        def run(case: schemathesis.Case, label: str = label) -> None:
            response = case.call(base_url=base_url, session=session, timeout=30)
            report.count(label, response.status_code, response.content)
            try:
                case.validate_response(response, checks=CHECKS)
                if extra_check is not None:
                    extra_check(case, response)
            except (AssertionError, FailureGroup) as exc:
                report.failures.append(Failure(label, _describe(case, response, exc)))

        cap = (caps or {}).get(label, max(max_examples, coverage_cases))
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=list(MODES),
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        )
        for case in islice(coverage, min(coverage_cases, cap)):
            run(case)
        known_ids = {**(known or {}), **(known_for or {}).get(label, {})}
        fixed = {name: known_ids[name] for name in _path_names(operation) if name in known_ids}
        strategy = _cases(operation, fixed, (bodies or {}).get(label, ()))
        _hypothesis_run(strategy, run, min(max_examples, cap))
        report.seconds_by_operation[label] = time.perf_counter() - operation_started
    report.seconds = time.perf_counter() - started
    return report


def _cases(
    operation: schemathesis.APIOperation, fixed: dict[str, str], valid: Sequence[Any]
) -> st.SearchStrategy[schemathesis.Case]:
    strategies = [operation.as_strategy(generation_mode=mode) for mode in MODES]
    if fixed:
        strategies.append(operation.as_strategy(path_parameters=fixed))
        strategies.append(operation.as_strategy(path_parameters=_with_nul(fixed)))
    if valid:
        body = st.one_of(
            st.sampled_from(valid),
            st.sampled_from(valid).flatmap(_mutated),
            st.sampled_from(valid).map(_with_nul),
        )
        with_body = body.flatmap(
            lambda b: operation.as_strategy(
                path_parameters=fixed or None, body=b, media_type="application/json"
            )
        )
        strategies.append(with_body)
    return st.one_of(strategies)


JSON_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "0", "-1", "1e400", "NaN", "2026-02-30", "\x00", "a\x00b", "😀" * 3, "x" * 5000]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


PDF = SAMPLE_PDF  # a material must parse as a PDF to be accepted


def register_pdf_bodies() -> None:
    """Raw PDF bodies for application/pdf uploads: a minimal PDF, it cut or extended, and any bytes."""
    schemathesis.openapi.media_type(
        "application/pdf",
        st.one_of(
            st.just(PDF),
            st.integers(min_value=0, max_value=len(PDF)).map(lambda n: PDF[:n]),
            st.binary(max_size=64).map(lambda tail: PDF + tail),
            st.binary(max_size=256),
        ),
    )


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] + [path]
    return [path]


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


def _with_nul(value: Any) -> Any:
    """Every string in `value` with U+0000 inside: text that PostgreSQL cannot store."""
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if isinstance(value, dict):
        return {key: _with_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_nul(item) for item in value]
    return value


def _mutated(body: Any) -> st.SearchStrategy[Any]:
    """`body` with one value (a leaf, an object or a list, anywhere) replaced by another JSON value."""
    paths = [p for p in _leaves(body) if p]
    return st.tuples(st.sampled_from(paths), JSON_VALUES).map(lambda pv: _replaced(body, pv[0], pv[1]))


def _path_names(operation: schemathesis.APIOperation) -> list[str]:
    return [p.name for p in operation.path_parameters]


def _hypothesis_run(
    strategy: st.SearchStrategy[schemathesis.Case],
    run: Callable[[schemathesis.Case], None],
    max_examples: int,
) -> None:
    # Derandomized: CI sees the same examples on every run; failures are collected, not raised, so one
    # pass reports every operation's problems (and nothing is shrunk).
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def test(case: schemathesis.Case) -> None:
        run(case)

    test()


def _describe(case: schemathesis.Case, response: schemathesis.Response, exc: BaseException) -> str:
    """First line: the checks that failed and the status (failures are grouped by it); then the evidence."""
    if isinstance(exc, FailureGroup):
        titles = "; ".join(sorted({getattr(f, "title", type(f).__name__) for f in exc.exceptions}))
    else:
        titles = str(exc).partition("\n")[0]
    body = response.content[:400].decode(errors="replace")
    return f"{titles} [{response.status_code}]\n    {body}\n    {case.as_curl_command()}"
