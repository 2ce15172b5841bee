"""Fixtures for the browser tests: one ``jupyter lab`` server, two small web apps and one
Chromium page for the whole session.

The browser is Debian's Chromium (``apt-get install chromium``), driven by Playwright with
``executable_path``: Playwright never downloads a browser here. Screenshots go to
``build/screenshots/``, or to the folder named by ``JUPYTER_TUNNELS_SCREENSHOTS`` (the README's
picture is made with ``JUPYTER_TUNNELS_SCREENSHOTS=docs/images pytest tests/browser``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from tests._apps import Services, start_services
from tests.browser._lab import JupyterLab
from tests.browser._panel import TunnelsPanel

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = ("--disable-gpu", "--disable-dev-shm-usage", "--disable-quic")
VIEWPORT: ViewportSize = {"width": 1280, "height": 760}
SCREENSHOTS_ENV = "JUPYTER_TUNNELS_SCREENSHOTS"
PROJECT = Path(__file__).parents[2]


def chromium_path() -> str:
    """The system Chromium; the tests fail (not skip) without it, saying how to install it."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("the browser tests need Debian's Chromium: apt-get install -y chromium")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the tests save their screenshots."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or PROJECT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A running ``jupyter lab`` with jupyter-tunnels, shared by every browser test."""
    server = JupyterLab(tmp_path_factory.mktemp("lab"))
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app() -> Iterator[Services]:
    """A web app to expose (its index page says ``hello from the app``)."""
    services = start_services("first-app")
    yield services
    services.stop()


@pytest.fixture(scope="session")
def other_app() -> Iterator[Services]:
    """A second web app, to rotate a tunnel to and from."""
    services = start_services("second-app")
    yield services
    services.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(), args=list(CHROMIUM_ARGS), headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def page(browser: Browser, lab: JupyterLab) -> Iterator[Page]:
    """JupyterLab, logged in with the token, in one page for the whole session."""
    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url.rstrip("/"))
    lab_page = context.new_page()
    lab_page.goto(f"{lab.url}lab?token={lab.token}")
    lab_page.locator("#jp-main-dock-panel").wait_for()
    lab_page.locator("#jupyterlab-splash").wait_for(state="detached")
    yield lab_page
    context.close()


@pytest.fixture
def panel(page: Page) -> TunnelsPanel:
    """The Tunnels panel, open, with no dialog left over from an earlier test."""
    tunnels = TunnelsPanel(page)
    tunnels.dismiss_dialogs()
    tunnels.open()
    return tunnels
