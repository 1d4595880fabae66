"""The server errors the fuzzer found, each pinned: undecodable header bytes, a malformed tax callback, NUL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import certs
from gateway.client import GatewayClient
from gateway.errors import LoginRequired
from gateway.security.roles import Role
from gateway.security.users import UserDirectory
from sandbox.stage import Stage, StageOptions
from tests.api.demo_routes import count_effects, routes
from tests.api.support import Participants, SignedClient

Headers = list[tuple[bytes, bytes]]


async def raw_request(
    port: int, method: str, path: str, headers: Headers, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with header bytes exactly as given (clients refuse to send undecodable ones)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Content-Length: %d" % len(body))
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), found, content


def problem(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert headers["Content-Type"].startswith("application/problem+json"), (status, headers, body)
    return dict(json.loads(body))


async def test_a_nonce_of_undecodable_bytes_is_refused_with_a_signed_401(
    serve: Any, participants: Participants
) -> None:
    # Was: a plain-text 500 from aiohttp, since the response signature echoed the nonce and could not encode it.
    client = await serve(routes)
    path = "/api/v1/demo/things/1"
    signed = certs.sign_request(participants.keys["icbc-dg"], "icbc-dg", "GET", path, b"")
    headers = [(k.encode(), v.encode()) for k, v in signed.items() if k != "X-GW-Nonce"]
    status, found, body = await raw_request(
        client.server.port, "GET", path, [*headers, (b"X-GW-Nonce", b"\xff\xfe" * 10)]
    )
    assert status == 401
    assert problem(status, found, body)["code"] == "invalid_signature"
    # Still signed by the registry, over an empty nonce since the request's was no nonce at all.
    certs.verify_response(participants.registry_key.public_key, status, "", found, body)


async def test_a_bearer_token_of_undecodable_bytes_is_a_401(serve: Any, database: Any) -> None:
    # Was: a 500 problem, from hashing a token that cannot be UTF-8 encoded.
    client = await serve(routes)
    token = b"Bearer " + b"\xff\xfe" * 20
    status, found, body = await raw_request(
        client.server.port, "GET", "/backoffice/api/v1/me", [(b"Authorization", token)]
    )
    assert status == 401
    assert problem(status, found, body)["code"] == "login_required"
    with pytest.raises(LoginRequired):
        await UserDirectory(database).authenticate("\udcff" * 43)


async def test_a_multipart_boundary_of_undecodable_bytes_is_a_422(serve: Any) -> None:
    # Was: a 500 problem, from re-encoding the Content-Type header as latin-1.
    client = await serve(routes)
    content_type = b"multipart/form-data; boundary=\xff\xfe"
    body = b"--\xff\xfe\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--\xff\xfe--\r\n"
    status, found, reply = await raw_request(
        client.server.port, "POST", "/public/api/v1/verify", [(b"Content-Type", content_type)], body
    )
    assert status == 422
    assert problem(status, found, reply)["errors"][0]["field"] == "file"


async def test_nul_in_a_json_body_is_a_422_naming_the_field_and_stores_nothing(
    serve: Any, bank: Any, database: Any
) -> None:
    # Was, on PostgreSQL: a 500, since neither text nor jsonb can hold U+0000 (SQLite stored it).
    signed: SignedClient = bank(await serve(routes))
    reply = await signed.post("/api/v1/demo/things", {"name": "a\x00b"})
    assert reply.status == 422, reply.body
    assert reply.json()["errors"] == [
        {
            "field": "name",
            "reason_zh": "不得包含空字符（U+0000）",
            "reason_en": "must not contain NUL (U+0000)",
        }
    ]
    assert await count_effects(database) == 0
    # An escaped backslash before "u0000" is not a NUL: that text is stored.
    assert (await signed.post("/api/v1/demo/things", {"name": "a\\u0000b"})).status == 201


async def test_nul_in_a_path_parameter_or_a_query_is_a_422(serve: Any, database: Any) -> None:
    # Was, on PostgreSQL: a 500 from looking the id up.
    client = await serve(routes)
    users = UserDirectory(database)
    await users.add("admin-nul", "admin-password-1", [Role.ADMIN])
    token = (await users.login("admin-nul", "admin-password-1")).token
    auth = [(b"Authorization", f"Bearer {token}".encode())]
    port = client.server.port
    status, found, body = await raw_request(port, "POST", "/backoffice/api/v1/deliveries/a%00b/replay", auth)
    assert (status, problem(status, found, body)["errors"][0]["field"]) == (422, "path")
    status, found, body = await raw_request(port, "GET", "/backoffice/api/v1/deliveries?offset=1%00", auth)
    assert (status, problem(status, found, body)["errors"][0]["field"]) == (422, "query")
    status, _, _ = await raw_request(port, "GET", "/no/such/route/a%00b", [])
    assert status == 404


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage"))
    try:
        yield running
    finally:
        await running.stop()


async def test_a_malformed_tax_callback_is_the_bureaus_422_not_a_502(stage: Stage) -> None:
    # Was: 502 party_protocol_error, telling the bureau that *we* had failed and that it should retry.
    tax = stage.parties.tax
    assert tax is not None
    bureau = GatewayClient(stage.session, stage.base_url, tax.code, tax.key, stage.registry_public_key)
    for payload in ({}, {"tzid": 1}, [], "x"):
        reply = await bureau.post("/callbacks/v1/tax/payment-cleared", payload)
        assert reply.status == 422, (payload, reply.body)
        assert reply.json()["errors"][0]["field"] == "body"
    empty = await bureau.request(
        "POST", "/callbacks/v1/tax/payment-cleared", body=b"", idempotency_key="empty-body-callback"
    )
    assert empty.status == 422


async def test_raw_uploads_and_login_failures_are_in_the_openapi_document(stage: Stage) -> None:
    # Without a documented body the fuzzer never sent one; login's 401/422 were undocumented.
    async with stage.session.get(stage.base_url + "/openapi.json") as response:
        paths = (await response.json())["paths"]
    binary = {"type": "string", "format": "binary"}
    upload = paths["/api/v1/cases/{case_id}/materials"]["post"]
    assert upload["requestBody"]["content"]["application/pdf"]["schema"] == binary
    assert any(p["name"] == "name" and p["in"] == "query" for p in upload["parameters"])
    verify = paths["/public/api/v1/verify"]["post"]
    assert verify["requestBody"]["content"]["application/pdf"]["schema"] == binary
    assert {"401", "422"} <= set(paths["/backoffice/api/v1/login"]["post"]["responses"])


async def test_deeply_nested_json_in_a_callback_is_the_callers_422(stage: Stage) -> None:
    # Was: a 500 for the tax bureau's callback (RecursionError out of json.loads).
    tax = stage.parties.tax
    assert tax is not None
    bureau = GatewayClient(stage.session, stage.base_url, tax.code, tax.key, stage.registry_public_key)
    bank = stage.bank("psbc-dg")
    for depth in (65, 100_000):
        nested = b"[" * depth + b"]" * depth
        reply = await bureau.request(
            "POST",
            "/callbacks/v1/tax/payment-cleared",
            body=b'{"tzid":' + nested + b"}",
            content_type="application/json",
            idempotency_key=f"deep-{depth}",
        )
        assert reply.status == 422, (depth, reply.status, reply.body[:200])
        assert reply.headers["Content-Type"] == "application/problem+json"
        confirm = await bank.request(
            "POST",
            "/callbacks/v1/banks/contract-confirmed",
            body=b'{"case_id":"x","confirmed":true,"message":' + nested + b"}",
            content_type="application/json",
            idempotency_key=f"deep-bank-{depth}",
        )
        assert confirm.status == 422, (depth, confirm.status, confirm.body[:200])
