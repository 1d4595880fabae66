"""Strictness at the HTTP boundary: bounded query integers, a valid OpenAPI document, one body limit,
problem+json for requests refused before routing, 405 for methods a route does not take."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from gateway.settings import Settings
from tests.api.demo_routes import routes
from tests.api.test_fuzz_regressions import problem, raw_request

INT64_MAX = 2**63 - 1


@pytest.fixture
async def client(serve: Any) -> Any:
    return await serve(routes)


@pytest.fixture
async def admin(client: Any, database: Any) -> dict[str, str]:
    users = UserDirectory(database)
    await users.add("admin-bounds", "admin-password-1", [Role.ADMIN])
    token = (await users.login("admin-bounds", "admin-password-1")).token
    return {"Authorization": f"Bearer {token}"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_an_offset_beyond_int64_is_a_422_naming_the_parameter(
    client: Any, admin: dict[str, str]
) -> None:
    # Was: a 500, from the database refusing the number (and on SQLite an OverflowError).
    for offset in (INT64_MAX + 1, 10**30, 2**31):
        reply = await client.get(f"/backoffice/api/v1/deliveries?offset={offset}", headers=admin)
        body = await reply.json()
        assert reply.status == 422, body
        assert reply.content_type == "application/problem+json"
        assert [e["field"] for e in body["errors"]] == ["offset"]
    assert (await client.get("/backoffice/api/v1/deliveries?offset=2147483647", headers=admin)).status == 200


async def test_the_served_document_is_valid_openapi_with_every_ref_resolving(client: Any) -> None:
    document = await (await client.get("/openapi.json")).json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    components = document["components"]["schemas"]
    for ref in refs(document):
        # Was: "#/$defs/CaseState" and "#/$defs/OutboxStatus" in query parameters, which nothing defines.
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in components, ref


async def test_every_integer_query_parameter_has_bounds_in_the_document(client: Any) -> None:
    document = await (await client.get("/openapi.json")).json()
    integers = [
        (path, parameter)
        for path, operations in document["paths"].items()
        for operation in operations.values()
        for parameter in operation["parameters"]
        if parameter["in"] == "query" and parameter["schema"].get("type") == "integer"
    ]
    assert integers, "the deliveries listing at least takes limit and offset"
    for path, parameter in integers:
        assert {"minimum", "maximum"} <= set(parameter["schema"]), (path, parameter)
        assert parameter["schema"]["maximum"] < INT64_MAX


async def test_a_request_line_over_8_kib_is_a_problem_not_a_plain_text_echo(client: Any) -> None:
    path = "/backoffice/api/v1/deliveries?offset=" + "9" * 9000
    status, headers, body = await raw_request(client.server.port, "GET", path, [])
    assert status == 414 or 400 <= status < 500
    found = problem(status, headers, body)
    assert found["status"] == status and "/" in found["title"]
    assert b"9999999999" not in body  # the request line is not echoed back


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS"])
async def test_trace_and_options_on_a_route_are_405_with_allow(client: Any, method: str) -> None:
    for path, allowed in (("/api/v1/demo/things", "POST"), ("/backoffice/api/v1/deliveries", "GET")):
        status, headers, body = await raw_request(client.server.port, method, path, [])
        assert status == 405, (method, path, status, body)
        assert problem(status, headers, body)["code"] == "method_not_allowed"
        assert allowed in headers["Allow"]
        assert json.loads(body)["status"] == 405


async def test_the_submission_limit_is_one_number_in_the_settings_the_document_and_the_413(
    serve: Any, bank: Any
) -> None:
    # Was: the route named 25,165,824 bytes while the app refused anything over 20 MiB on its own.
    signed = bank(await serve(routes))
    limit = Settings.model_fields["api"].default_factory().max_upload_bytes  # type: ignore[misc]
    document = await (await signed.client.get("/openapi.json")).json()
    submit = document["paths"]["/api/v1/cases"]["post"]
    assert submit["x-max-body-bytes"] == limit
    assert f"{limit:,} bytes" in submit["responses"]["413"]["description"]
    # Just under the limit the body is read and judged (not JSON: 422); one byte over, a 413 naming it.
    under = await signed.post("/api/v1/cases", body=b"x" * (limit - 1))
    assert under.status == 422, under.body[:300]
    over = await signed.post("/api/v1/cases", body=b"x" * (limit + 1))
    assert over.status == 413
    assert str(limit) in over.json()["detail"] and str(limit) in over.json()["detail_zh"]


async def test_a_smaller_configured_limit_holds_everywhere(serve: Any, bank: Any) -> None:
    signed = bank(await serve(routes, api={"max_upload_bytes": 3 * 1024 * 1024}))
    document = await (await signed.client.get("/openapi.json")).json()
    assert document["paths"]["/api/v1/cases"]["post"]["x-max-body-bytes"] == 3 * 1024 * 1024
    over = await signed.post("/api/v1/cases", body=b"x" * (3 * 1024 * 1024 + 1))
    assert over.status == 413 and str(3 * 1024 * 1024) in over.json()["detail"]
