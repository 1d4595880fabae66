"""`/openapi.json` and `/docs`: the generated document and a self-contained HTML rendering of it (no CDN)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from aiohttp import web

from gateway.api.keys import API_DOCS
from gateway.api.openapi import build_openapi
from gateway.api.routing import endpoint

__all__ = ["cached_openapi", "render_docs", "routes"]

routes = web.RouteTableDef()


def cached_openapi(app: web.Application) -> bytes:
    """The document is built once per application (the route table is frozen once the app runs)."""
    cache = app[API_DOCS]
    if "json" not in cache:
        cache["json"] = json.dumps(build_openapi(app), ensure_ascii=False, indent=1).encode()
    return cache["json"]


def _json_block(value: Any) -> str:
    return f"<pre>{escape(json.dumps(value, ensure_ascii=False, indent=2))}</pre>"


def render_docs(spec: dict[str, Any]) -> str:
    """A plain page: principles, each operation with its parameters and schemas, problem codes, schemas."""
    info = spec["info"]
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{escape(info['title'])}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
        "pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:85%}"
        ".op{border-top:1px solid #ccc;padding:.5em 0}.m{font-weight:bold;display:inline-block;width:4em}"
        "code{background:#f0f0f0}</style></head><body>",
        f"<h1>{escape(info['title'])}</h1><p>OpenAPI {escape(spec['openapi'])} · "
        "<a href='/openapi.json'>openapi.json</a></p>",
    ]
    parts += [f"<p>{escape(p)}</p>" for p in info["description"].split("\n\n")]
    parts.append("<h2>Operations 接口</h2>")
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            anchor = escape(op["operationId"])
            parts.append(
                f"<div class='op' id='{anchor}'><span class='m'>{escape(method.upper())}</span>"
                f"<code>{escape(path)}</code> — {escape(op['summary'])}"
            )
            if op["description"]:
                parts.append(f"<p>{escape(op['description'])}</p>")
            auth = ", ".join(name for s in op["security"] for name in s) or "none 无需认证"
            parts.append(f"<p>Authentication 认证: {escape(auth)}</p>")
            if op["parameters"]:
                parts.append("<ul>")
                for p in op["parameters"]:
                    required = " (required)" if p.get("required") else ""
                    parts.append(f"<li><code>{escape(p['name'])}</code> in {escape(p['in'])}{required}</li>")
                parts.append("</ul>")
            if "requestBody" in op:
                parts.append("<p>Request body 请求体:</p>" + _json_block(op["requestBody"]["content"]))
            statuses = ", ".join(f"{code} {escape(r['description'])}" for code, r in op["responses"].items())
            parts.append(f"<p>Responses 响应: {statuses}</p></div>")
    parts.append("<h2>Problem codes 错误代码</h2><table><tr><th>code</th><th>中文</th><th>English</th></tr>")
    for code, titles in spec["x-problem-codes"].items():
        parts.append(
            f"<tr id='problem-{escape(code)}'><td><code>{escape(code)}</code></td>"
            f"<td>{escape(titles['zh'])}</td><td>{escape(titles['en'])}</td></tr>"
        )
    parts.append("</table><h2>Schemas 数据结构</h2>")
    for name, schema in spec["components"]["schemas"].items():
        parts.append(f"<h3 id='schema-{escape(name)}'>{escape(name)}</h3>{_json_block(schema)}")
    parts.append("</body></html>")
    return "\n".join(parts)


@routes.get("/openapi.json")
@endpoint("This OpenAPI 3.1 document", summary_zh="OpenAPI 接口文档", tags=["ops"])
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=cached_openapi(request.app), content_type="application/json")


@routes.get("/docs")
@endpoint(
    "The API documentation as a page (self-contained)",
    summary_zh="接口文档页面",
    response_content_type="text/html",
    tags=["ops"],
)
async def docs(request: web.Request) -> web.Response:
    spec = json.loads(cached_openapi(request.app))
    return web.Response(text=render_docs(spec), content_type="text/html")
