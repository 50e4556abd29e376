"""Browser fixtures of the console's and the desk's tests: one Chromium (Debian's,
``/usr/bin/chromium``) per test module, one page shared by the module's tests, and a watcher that
fails a test on any console error, page error, failed request or error reply in the page.
A test that needs pages of its own opens them with :func:`watched_pages`. The conftests of
tests/console and tests/desk import the fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ROOT

CHROMIUM = Path(os.environ.get("VNSB_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "var" / "screenshots"
#: The two screens the console is made for: a phone and a projector.
VIEWPORTS = ({"width": 390, "height": 844}, {"width": 1366, "height": 768})


@dataclass
class Tenant:
    """A tenant of the gateway with its first consumer's credentials, as an operator or an
    officer signs in with them; ``call`` uses its API key."""

    name: str
    client_id: str
    client_secret: str
    api_key: str
    gateway: str

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"X-API-Key": self.api_key, **kw.pop("headers", {})}
        return httpx.request(method, self.gateway + path, headers=headers, timeout=30, **kw)


class Problems:
    """What went wrong in the page since the last check."""

    def __init__(self) -> None:
        self.items: list[str] = []
        #: Replies with these statuses are expected by the test running now.
        self.expected_statuses: set[int] = set()

    def watch(self, page: Any) -> None:
        # Browsers ask every site for /favicon.ico on their own; the platforms' pages (VNeID's
        # login page) have none, and that is not a failure of the page.
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and not str(m.location.get("url", "")).endswith("/favicon.ico")
                and self.items.append(f"console error: {m.text} ({m.location.get('url')})")
            ),
        )
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.items.append(f"request failed: {r.method} {r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: (
                r.status >= 400
                and r.status not in self.expected_statuses
                and self.items.append(f"HTTP {r.status}: {r.request.method} {r.url}")
            ),
        )

    def take(self) -> list[str]:
        items, self.items = self.items, []
        return items


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in the test thread while
    the browser is open, so the browser closes with its module, before any other module's tests
    (which may run their own event loop in the same worker) start."""
    if not CHROMIUM.exists():
        if os.environ.get("VNSB_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (./sandbox test installs the Debian package chromium)")
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package chromium (./sandbox test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def problems() -> Problems:
    return Problems()


def new_context(browser: Any, viewport: dict[str, int] = VIEWPORTS[1], locale: str | None = "vi-VN") -> Any:
    """A browser context at ``viewport`` (the projector's by default) that waits up to 20 s."""
    context = browser.new_context(viewport=viewport, locale=locale)
    context.set_default_timeout(20_000)
    return context


@contextmanager
def watched_pages(
    browser: Any, count: int, viewport: dict[str, int] = VIEWPORTS[1], locale: str | None = "vi-VN"
) -> Iterator[tuple[Problems, list[Any]]]:
    """``count`` pages of a context of their own, watched by a :class:`Problems` of their own (a
    page the test opens later, a popup, it watches itself); the block fails when the watcher saw
    anything it did not take, and the context closes with the block."""
    context = new_context(browser, viewport, locale)
    try:
        pages = [context.new_page() for _ in range(count)]
        watcher = Problems()
        for page in pages:
            watcher.watch(page)
        yield watcher, pages
        found = watcher.take()
        assert not found, "\n".join(found)
    finally:
        context.close()


@pytest.fixture(scope="module")
def page(browser: Any, problems: Problems) -> Iterator[Any]:
    context = new_context(browser)
    page = context.new_page()
    problems.watch(page)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def no_problems_in_the_page(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every browser test fails on a console error or a failed request in its page."""
    if "page" not in request.fixturenames:
        yield
        return
    watcher: Problems = request.getfixturevalue("problems")
    watcher.take()
    yield
    found = watcher.take()
    watcher.expected_statuses.clear()
    assert not found, "\n".join(found)


def shoot(page: Any, name: str) -> list[Path]:
    """Screenshots of the page at both screen sizes: ``var/screenshots/<name>-<w>x<h>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for size in VIEWPORTS:
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    return paths
