"""Headless Chromium (Debian's `chromium`, driven by Playwright; no downloaded browser) against one real server.

Every page runs with the network cut to loopback: any request to another host is aborted and recorded, and each
test fails if one was attempted, so the page and GraphiQL are proven to work from the server's own assets.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, Route, sync_playwright

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ROOT, ServerProcess

from .chat import LOOPBACK, install_recorder, is_loopback

VENDOR = ROOT / "persistream" / "web" / "static" / "vendor"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Settings for the browser suite's server: a small prompt limit to refuse, and a short silence timeout so the
# TIMEOUT state shows within seconds.
MAX_PROMPT_CHARS = 400
STREAM_TIMEOUT = 2


def _missing(reason: str) -> None:
    # In CI these tests must run: a missing browser or missing assets is a broken setup, not a reason to skip.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    if not (VENDOR / "graphql-ws").is_dir() or not (VENDOR / "graphiql").is_dir():
        _missing("the page's vendored libraries are missing: run scripts/build_assets.sh")
    assert path is not None
    return path


# Package scope, not session: Playwright's sync API keeps its own event loop running while it is open, and
# pytest-asyncio cannot start a test's loop inside it; the browser must be gone before the async suites run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def chat_server(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("browser-server")
    env = server_env(
        fake_openai,
        directory / "persistream.db",
        PERSISTREAM_MAX_PROMPT_CHARS=str(MAX_PROMPT_CHARS),
        PERSISTREAM_STREAM_TIMEOUT=str(STREAM_TIMEOUT),
        # A model silent from the start times out as fast as one that stops (not after the first-token limit).
        PERSISTREAM_FIRST_TOKEN_TIMEOUT=str(STREAM_TIMEOUT),
    )
    process = ServerProcess(env, log_path=directory / "server.log").start()
    yield process
    process.stop()


class OfflineContext:
    """A browser context whose requests to anything but loopback are aborted and remembered."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.blocked: list[str] = []
        context.route("**/*", self._guard)
        install_recorder(context)

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if is_loopback(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


def _offline_context(browser: Browser) -> Iterator[OfflineContext]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(15_000)
    guarded = OfflineContext(context)
    yield guarded
    context.close()
    assert guarded.blocked == [], f"the page tried to reach beyond {LOOPBACK}: {guarded.blocked}"


@pytest.fixture
def offline(browser: Browser) -> Iterator[OfflineContext]:
    yield from _offline_context(browser)


@pytest.fixture
def other_offline(browser: Browser) -> Iterator[OfflineContext]:
    """A second browser context: its own cookies and storage, so another person (another identity)."""
    yield from _offline_context(browser)
