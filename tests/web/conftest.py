"""Browser tests: Debian's chromium driven by playwright (never `playwright install`), against a Stage.

Outside CI a missing chromium skips them with the reason; in CI (CI=true) it fails them, like the
PostgreSQL and Redis tests. Screenshots at 1366×768 go to var/screenshots/ (kept as test artifacts).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.stage import DEMO_PASSWORD, Stage, StageOptions
from tests.conftest import IN_CI

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if IN_CI:
        pytest.fail(
            "chromium is not installed; CI never skips the browser tests (scripts/install-system-deps.sh)"
        )
    pytest.skip("chromium is not installed: apt-get install chromium (scripts/install-system-deps.sh)")


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    running = await Stage.start(StageOptions(data_dir=tmp_path / "stage"))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


class Person:
    """One member of staff at their own browser (own cookies), taking screenshots as they go."""

    def __init__(self, page: Any, base_url: str, username: str) -> None:
        self.page = page
        self.base_url = base_url
        self.username = username

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.base_url + path)

    async def sign_in(self, password: str = DEMO_PASSWORD, *, area: str = "backoffice") -> None:
        """Sign in to an area's own sign-in page (backoffice, bank, provider)."""
        await self.goto(f"/{area}/login")
        await self.page.fill("#username", self.username)
        await self.page.fill("#password", password)
        async with self.page.expect_navigation():  # the next page, not the sign-in form still showing
            await self.page.click("main button[type=submit]")

    async def shot(self, name: str, *, full_page: bool = False) -> Path:
        """The viewport, as a person sees the page first; `full_page` for what lies below the fold too."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def person(browser: Any, stage: Stage) -> Any:
    async def open_(username: str) -> Person:
        context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        return Person(await context.new_page(), stage.base_url, username)

    return open_
