"""The generated OpenAPI document covers every route; /docs, /healthz, /readyz and /metrics answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from gateway.api.openapi import undeclared_routes
from gateway.web.pages import is_page
from tests.api.demo_routes import routes


@pytest.fixture
async def client(serve: Any) -> Any:
    return await serve(routes)


async def test_every_route_is_declared_and_in_the_document(client: Any) -> None:
    app = client.server.app
    assert undeclared_routes(app) == []
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and not isinstance(r.resource, web.StaticResource) and not is_page(r.handler)
    }
    assert served == documented
    assert ("POST", "/api/v1/demo/things") in documented
    assert ("GET", "/backoffice/api/v1/deliveries") in documented


async def test_document_describes_security_idempotency_models_and_roles(client: Any) -> None:
    spec = await (await client.get("/openapi.json")).json()
    submit = spec["paths"]["/api/v1/demo/things"]["post"]
    assert submit["security"] == [{"gwSignature": []}]
    key = next(p for p in submit["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] and "24 hours" in key["description"]
    body_ref = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.rsplit("/", 1)[1] in spec["components"]["schemas"]
    assert set(submit["responses"]) >= {"201", "400", "401", "422"}
    replay = spec["paths"]["/backoffice/api/v1/deliveries/{id}/replay"]["post"]
    assert replay["security"] == [{"bearerAuth": []}]
    assert set(replay["x-roles"]) == {"admin", "supervisor"}
    assert replay["parameters"][0] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    assert spec["paths"]["/backoffice/api/v1/login"]["post"]["security"] == []
    assert set(spec["components"]["securitySchemes"]) == {"gwSignature", "bearerAuth"}


async def test_docs_page_is_self_contained(client: Any) -> None:
    response = await client.get("/docs")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert "/api/v1/demo/things" in page and "id='problem-idempotency_key_reused'" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from a CDN


async def test_healthz_and_readyz(client: Any) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"database": "ok"}


async def test_readyz_names_the_dependency_that_failed(serve: Any) -> None:
    # Nothing listens on port 1: Redis is configured but unreachable.
    client = await serve(routes, redis_url="redis://127.0.0.1:1/0")
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 503
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("failed")


async def test_metrics_count_requests_and_show_the_outbox(client: Any, bank: Any, database: Any) -> None:
    signed = bank(client)
    await signed.post("/api/v1/demo/things", {"name": "x"})
    text = await (await client.get("/metrics")).text()
    assert 'gateway_http_requests_total{method="POST",route="/api/v1/demo/things",status="201"}' in text
    assert "gateway_outbox_oldest_pending_age_seconds" in text
    assert 'gateway_outbox_backlog{status="pending"}' in text


async def test_log_lines_carry_the_request_id_and_mask_id_numbers(
    client: Any, bank: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.logging import configure_logging, get_logger

    configure_logging("INFO", json=True)
    capsys.readouterr()
    response = await client.get("/healthz", headers={"X-Request-ID": "req-abcdef12"})
    # Unsigned, so refused: the line still names the case asked for and who asked.
    await client.get("/api/v1/cases/0123456789abcdef0123456789abcdef")
    get_logger("test").info("citizen", note="身份证 441900199001011234 手机 13812345678")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert response.headers["X-Request-ID"] == "req-abcdef12"
    request_line = next(line for line in lines if line.get("event") == "request")
    assert request_line["request_id"] == "req-abcdef12" and request_line["status"] == 200
    assert request_line["client"] == "127.0.0.1"
    case_line = [line for line in lines if line.get("event") == "request"][-1]
    assert case_line["case_id"] == "0123456789abcdef0123456789abcdef" and case_line["status"] == 401
    citizen = next(line for line in lines if line.get("event") == "citizen")
    assert "441900199001011234" not in citizen["note"] and "441900********1234" in citizen["note"]
    assert "138****5678" in citizen["note"]
