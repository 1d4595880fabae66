"""Schemathesis against the live OpenAPI document of a whole stage: no request, signed or not, gets a 5xx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from openapi_spec_validator import validate

from gateway.security.roles import Realm, Role
from gateway.security.users import UserDirectory
from gateway.seed import CERT_ZHANG, PROOF_LI_WANG_ICBC, UNITS
from sandbox.stage import DEMO_PASSWORD, Stage, StageOptions
from sandbox.story import submission
from tests.api.forgery import Target as Forged
from tests.api.forgery import forge
from tests.api.fuzzing import PDF, FuzzReport, Signer, SigningAuth, fuzz, register_pdf_bodies
from tests.services import builders

pytestmark = pytest.mark.slow

FUZZER = "fuzz-all-roles"
BANK = "psbc-dg"
# Per operation: Hypothesis examples (positive and negative) and coverage-phase cases. Bounded so that the
# whole file stays near a minute on two cores; derandomized, so every run sends the same requests.
SIGNED_EXAMPLES, SIGNED_COVERAGE = 25, 15
OPEN_EXAMPLES, OPEN_COVERAGE = 10, 10
FORGED_EXAMPLES = 300
# argon2 spends ~50 ms of CPU and 64 MiB per password check by design, and each logout needs a new login.
PASSWORD_CAPS = {"POST /backoffice/api/v1/login": 8, "POST /backoffice/api/v1/logout": 4}


@dataclass
class Target:
    stage: Stage
    schema: schemathesis.BaseSchema
    document: dict[str, Any]
    token: str
    case_id: str
    material_id: str
    # Withdrawing, rejecting and asking for material end or park a case: each gets a case of its own, so
    # the others keep reaching a case under review.
    spare_cases: dict[str, str]

    def login(self) -> str:
        """A fresh back-office session (blocking; called from the fuzzing thread)."""
        reply = requests.post(
            self.stage.base_url + "/backoffice/api/v1/login",
            json={"username": FUZZER, "password": DEMO_PASSWORD},
            timeout=30,
        )
        reply.raise_for_status()
        return str(reply.json()["token"])

    def protected(self) -> set[str]:
        return {
            f"{method.upper()} {path}"
            for path, operations in self.document["paths"].items()
            for method, operation in operations.items()
            if operation["security"]
        }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """The whole gateway with the demo register, a back-office user holding every registry role, real cases."""
    database_url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    stage = await Stage.start(StageOptions(data_dir=tmp_path / "stage", database_url=database_url))
    try:
        assert stage.container is not None
        await UserDirectory(stage.container.database).add(
            FUZZER, DEMO_PASSWORD, [r for r in Role if r.realm is Realm.REGISTRY]
        )
        staff = await stage.staff(FUZZER)
        bank = stage.bank(BANK)
        created = [await bank.post("/api/v1/cases", _registration()) for _ in range(1 + len(SPARE_CASE_FOR))]
        assert {reply.status for reply in created} == {201}, created[0].body
        case = (await bank.get(f"/api/v1/cases/{created[0].json()['id']}")).json()
        async with stage.session.get(stage.base_url + "/openapi.json") as response:
            document = await response.json()
        validate(document)  # a valid OpenAPI 3.1 document, every $ref resolving, before it drives the fuzzer
        register_pdf_bodies()
        schema = schemathesis.openapi.from_dict(document)
        yield Target(
            stage,
            schema,
            document,
            staff.token,
            case["id"],
            case["materials"][0]["id"],
            {op: reply.json()["id"] for op, reply in zip(SPARE_CASE_FOR, created[1:], strict=True)},
        )
    finally:
        await stage.stop()


SPARE_CASE_FOR = (
    "POST /api/v1/cases/{case_id}/withdraw",
    "POST /backoffice/api/v1/cases/{case_id}/reject",
    "POST /backoffice/api/v1/cases/{case_id}/request-material",
)


def _registration() -> dict[str, Any]:
    mortgage = builders.terms("PSBC-DK-2026-1127", "600000.00")
    return submission(builders.mortgage_registration(mortgage=mortgage), "松山湖支行", "柜员0101")


def _valid_bodies(case_id: str) -> dict[str, list[Any]]:
    """Bodies that pass the schema, so that the fuzzer also reaches the rules behind it (and mutates them)."""
    kinds = [
        builders.mortgage_registration(),
        builders.mortgage_release(),
        builders.transfer(utilities=[]),
        builders.conversion(),
        builders.contract_filing(),
    ]
    backoffice = "POST /backoffice/api/v1/"
    return {
        "POST /api/v1/cases": [submission(kind, "松山湖支行", "柜员0101") for kind in kinds],
        "POST /api/v1/cases/{case_id}/withdraw": [{"reason": "客户撤回"}],
        "POST /api/v1/cases/{case_id}/resubmit": [{"note": "已补正"}],
        backoffice + "cases/{case_id}/review": [{"stage": "first"}, {"stage": "second"}],
        backoffice + "cases/{case_id}/reject": [{"reason": "材料不齐"}],
        backoffice + "cases/{case_id}/request-material": [{"reason": "请补充身份证明"}],
        backoffice + "cases/{case_id}/assign": [{"assignee": FUZZER}],
        backoffice + "units/{unit_code}/seizures": [
            {"authority": "东莞市第一人民法院", "document_no": "(2026)粤1971执1号"}
        ],
        backoffice + "units/{unit_code}/first-registration": [{"developer": "dg-dev"}],
        "POST /callbacks/v1/banks/contract-confirmed": [{"case_id": case_id, "confirmed": True}],
        "POST /callbacks/v1/banks/loan-settled": [
            {"case_id": case_id, "proof_number": PROOF_LI_WANG_ICBC, "settled": True}
        ],
        "POST /api/v1/utility-jobs/{id}/ack": [{"result": "done"}],
        "POST /backoffice/api/v1/login": [{"username": FUZZER, "password": DEMO_PASSWORD}],
    }


def _known_ids(t: Target) -> dict[str, str]:
    return {
        "case_id": t.case_id,
        "material_id": t.material_id,
        "unit_code": UNITS.single_owner,
        "number": CERT_ZHANG,
    }


def _operations(t: Target) -> set[str]:
    return {f"{m.upper()} {p}" for p, ops in t.document["paths"].items() for m in ops}


async def test_signed_and_authorised_requests_never_get_a_server_error(target: Target) -> None:
    stage = target.stage
    assert stage.parties.tax is not None
    network = stage.utilities.network
    bank_key = stage.parties.banks[BANK].key
    signers = [
        Signer("/api/v1/", BANK, bank_key),
        Signer("/callbacks/v1/", BANK, bank_key),
        Signer("/callbacks/v1/tax/", stage.parties.tax.code, stage.parties.tax.key),
        Signer("/api/v1/utility-jobs", network.code, network.key),
    ]
    session = requests.Session()
    session.auth = SigningAuth(signers, target.token, fresh_token=target.login)
    report: FuzzReport = await asyncio.to_thread(
        fuzz,
        target.schema,
        stage.base_url,
        session,
        max_examples=SIGNED_EXAMPLES,
        coverage_cases=SIGNED_COVERAGE,
        known=_known_ids(target),
        known_for={op: {"case_id": case_id} for op, case_id in target.spare_cases.items()},
        bodies=_valid_bodies(target.case_id),
        caps=PASSWORD_CAPS,
    )
    print(report.summary())
    for operation, statuses in sorted(report.statuses.items()):
        print(operation, dict(sorted(statuses.items())))
        for status in sorted(statuses):
            print(f"    {status}: {report.samples[operation, status][:160]!r}")
    assert not report.failures, report.summary()
    assert set(report.examples) == _operations(target)
    # The signatures and the token were accepted: the fuzzer got past authentication everywhere.
    for operation in target.protected():
        assert 401 not in report.statuses[operation] or operation.endswith("/login"), (
            operation,
            report.statuses[operation],
        )
    assert report.statuses["POST /api/v1/cases"].get(201), "no valid submission went through"
    assert report.statuses["GET /backoffice/api/v1/me"].get(200)


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
async def test_requests_without_credentials_get_problem_json_4xx(target: Target) -> None:
    protected = target.protected()

    def refused_as_a_problem(case: schemathesis.Case, response: schemathesis.Response) -> None:
        label = case.operation.label
        if label not in protected or response.status_code == 405:
            return
        assert 400 <= response.status_code < 500, f"{label} without credentials: {response.status_code}"
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), f"{label}: {content_type}"

    report = await asyncio.to_thread(
        fuzz,
        target.schema,
        target.stage.base_url,
        requests.Session(),
        max_examples=OPEN_EXAMPLES,
        coverage_cases=OPEN_COVERAGE,
        known=_known_ids(target),
        caps=PASSWORD_CAPS,
        extra_check=refused_as_a_problem,
    )
    print(report.summary())
    assert not report.failures, report.summary()
    assert set(report.examples) == _operations(target)
    refused = sum(report.statuses[op].get(401, 0) for op in protected)
    assert refused >= len(protected) * OPEN_EXAMPLES // 2, "most requests were refused as unauthenticated"


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
async def test_forged_credentials_and_content_types_get_problem_json_4xx(target: Target) -> None:
    stage = target.stage
    key = stage.parties.banks[BANK].key
    confirm = json.dumps({"case_id": target.case_id, "confirmed": True}).encode()
    targets = [
        Forged("GET", "/api/v1/cases", party=BANK, key=key),
        Forged("POST", "/callbacks/v1/banks/contract-confirmed", confirm, party=BANK, key=key),
        Forged(
            "POST",
            f"/api/v1/cases/{target.case_id}/materials?name=a.pdf",
            PDF,
            "application/pdf",
            party=BANK,
            key=key,
        ),
        Forged("GET", "/backoffice/api/v1/me", token=target.token),
        Forged("POST", "/public/api/v1/verify", PDF, "application/pdf"),
    ]
    report = await asyncio.to_thread(forge, stage.base_url, targets, examples=FORGED_EXAMPLES)
    print(report.summary())
    for operation, statuses in sorted(report.statuses.items()):
        print(operation, dict(sorted(statuses.items())))
    assert not report.failures, report.summary()
    # Untouched credentials still pass, so the refusals above were for the forged parts.
    for operation, statuses in report.statuses.items():
        assert any(200 <= status < 300 for status in statuses), (operation, statuses)
