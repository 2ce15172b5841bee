"""A Lab on a plain local server (no ``public_base_url``) shows each HTTP tunnel's own origin,
``http://{slug}.localhost:{port}/``, and its link opens the app there in Chromium (which
resolves ``*.localhost`` itself): a private tunnel after one redirect through Jupyter, where
the page is logged in, with the app at the root (docs/apps.md, which URL to use)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests._apps import Services
from tests.browser._lab import JupyterLab
from tests.browser._panel import TunnelsPanel
from tests.browser.conftest import VIEWPORT

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def local_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """``jupyter lab`` on 127.0.0.1 with no proxy in front: tunnels have their own origins."""
    server = JupyterLab(tmp_path_factory.mktemp("local-lab"), behind_a_proxy=False)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def local_page(browser: Browser, local_lab: JupyterLab) -> Iterator[Page]:
    """That Lab, logged in with its token."""
    context = browser.new_context(viewport=VIEWPORT)
    lab_page = context.new_page()
    lab_page.goto(f"{local_lab.url}lab?token={local_lab.token}")
    lab_page.locator("#jupyterlab-splash").wait_for(state="detached")
    yield lab_page
    context.close()


def test_a_private_tunnel_opens_at_its_own_origin_from_the_panel(
    local_page: Page, local_lab: JupyterLab, app: Services
) -> None:
    panel = TunnelsPanel(local_page)
    panel.open()
    row = panel.expose(app.http_port, "own-origin")
    origin = f"http://own-origin.localhost:{local_lab.port}/"
    expect(row).to_have_attribute("data-status", "active")
    link = row.get_by_role("link", name=origin)
    expect(link).to_be_visible()

    with local_page.expect_popup() as opened:
        link.click()
    visitor = opened.value
    visitor.wait_for_url(origin)
    expect(visitor.locator("body")).to_contain_text("hello from the app")
    visitor.goto(origin + "headers/x")
    seen = json.loads(visitor.locator("body").inner_text())
    assert seen["path"] == "/headers/x", "the app is at the root of its origin"
    assert "tunnels_login" not in seen["headers"].get("Cookie", "")
    visitor.close()
