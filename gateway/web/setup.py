"""Wiring the pages into the gateway's application: Jinja2 environment, catalogues, static files, routes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.web.i18n import gettext, load_catalogues, ngettext
from gateway.web.keys import CATALOGUES
from gateway.web.labels import label_functions
from gateway.web.paths import is_page_path

__all__ = ["is_page_path", "setup_web"]

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
_CHINA = ZoneInfo("Asia/Shanghai")


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times on the pages are the registry's local time (the database keeps UTC)."""
    return "" if value is None else value.astimezone(_CHINA).strftime(fmt)


def setup_web(app: web.Application) -> None:
    """Templates live beside the views of each area (back office, bank portal, provider portal:
    `gateway/web/<area>/templates`), shared ones in `gateway/web/templates`; every string goes through the
    gettext catalogues."""
    from gateway.web import auth, backoffice, bank, provider, public

    loader = jinja2.PrefixLoader(
        {
            "common": jinja2.FileSystemLoader(HERE / "templates"),
            "backoffice": jinja2.FileSystemLoader(HERE / "backoffice" / "templates"),
            "bank": jinja2.FileSystemLoader(HERE / "bank" / "templates"),
            "provider": jinja2.FileSystemLoader(HERE / "provider" / "templates"),
            "public": jinja2.FileSystemLoader(HERE / "public" / "templates"),
        }
    )
    env = aiohttp_jinja2.setup(
        app,
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local"] = _local
    env.globals.update(label_functions())
    app[CATALOGUES] = load_catalogues()
    app.router.add_static("/static/", STATIC_DIR, name="static")
    for area_routes in (auth.routes, backoffice.routes, bank.routes, provider.routes, public.routes):
        app.router.add_routes(area_routes)
