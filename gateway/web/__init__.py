"""Server-rendered pages (the back office; the portals reuse it): templates, catalogues, static files, security."""

from gateway.web.setup import is_page_path, setup_web

__all__ = ["is_page_path", "setup_web"]
