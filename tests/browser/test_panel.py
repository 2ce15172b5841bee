"""The JupyterLab "Tunnels" panel in a real browser, as a user drives it.

One ``jupyter lab`` and one Chromium page serve every test; each test exposes its own web app
under its own name, so the tests do not depend on each other's tunnels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests._apps import Services, start_services
from tests._sockets import closed_port
from tests.browser._lab import JupyterLab
from tests.browser._panel import PANEL_ID, TunnelsPanel

ACTION_TIMEOUT = 15_000
"""Milliseconds a panel change may take to show (the list polls every 2 s)."""
APP_TEXT = "hello from the app"
HIDE_NOTIFICATIONS = ".Toastify { display: none !important; }"
"""Screenshot style: the pictures show the panel, not the toasts of earlier actions."""

expect.set_options(timeout=ACTION_TIMEOUT)


@pytest.fixture(scope="module")
def start_app() -> Iterator[Callable[[str], Services]]:
    """Start small web apps (``GET /peer`` answers their name); all stop at the end."""
    started: list[Services] = []

    def start(name: str) -> Services:
        services = start_services(name)
        started.append(services)
        return services

    yield start
    for services in started:
        services.stop()


def wait_for_saved_layout(page: Page, lab: JupyterLab) -> None:
    """Wait until JupyterLab has saved the open panel in its workspace (it saves a moment
    after each layout change)."""
    workspace = f"{lab.url}lab/api/workspaces/default"
    deadline = time.monotonic() + ACTION_TIMEOUT / 1000
    while True:
        layout = page.request.get(workspace).json()["data"].get("layout-restorer:data", {})
        if layout.get("left", {}).get("current") == PANEL_ID:
            return
        assert time.monotonic() < deadline, f"JupyterLab did not save the open panel: {layout}"
        time.sleep(0.2)


def visit(url: str, method: str = "GET") -> httpx.Response:
    """A request from someone else's machine: no Jupyter credentials, no proxy, a connection
    of its own."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        return client.request(method, url)


def test_the_panel_has_a_sidebar_tab_and_stays_open_across_a_reload(
    page: Page, panel: TunnelsPanel, lab: JupyterLab
) -> None:
    expect(panel.tab).to_have_attribute("title", "Tunnels")
    expect(panel.root.get_by_role("heading", name="Tunnels")).to_be_visible()

    wait_for_saved_layout(page, lab)
    page.reload()
    page.locator("#jupyterlab-splash").wait_for(state="detached")

    expect(panel.root).to_be_visible()


def test_an_exposed_port_appears_live_and_its_url_opens_the_app(
    page: Page, panel: TunnelsPanel, start_app: Callable[[str], Services]
) -> None:
    app = start_app("dashboard")

    row = panel.expose(app.http_port, "dashboard")

    expect(row).to_have_attribute("data-status", "active")
    expect(row).to_contain_text(f"http → 127.0.0.1:{app.http_port} · private")
    expect(row).to_contain_text("lease until")
    with page.expect_popup() as opened:
        row.get_by_role("link").click()
    visitor_page = opened.value
    expect(visitor_page.locator("body")).to_contain_text(APP_TEXT)
    visitor_page.close()


def test_tunnels_made_and_closed_elsewhere_show_up_without_a_click(
    lab: JupyterLab, panel: TunnelsPanel, start_app: Callable[[str], Services]
) -> None:
    """What a kernel's ``%tunnel expose`` does through the server, the panel picks up by
    polling."""
    app = start_app("from-a-kernel")
    api = httpx.Client(
        base_url=f"{lab.url}tunnels/",
        headers={"Authorization": f"token {lab.token}"},
        timeout=10.0,
        trust_env=False,
    )
    with api:
        tunnel = api.post("expose", json={"port": app.http_port, "name": "from-a-kernel"})
        tunnel.raise_for_status()

        expect(panel.row("from-a-kernel")).to_have_attribute("data-status", "active")
        # the server builds URLs on its configured public address; the panel on the page's
        assert tunnel.json()["url"] == f"http://localhost:{lab.port}/tunnels/t/from-a-kernel/"
        link = panel.row("from-a-kernel").get_by_role("link")
        assert link.inner_text() == f"{lab.url}tunnels/t/from-a-kernel/"
        assert link.get_attribute("href") == link.inner_text()

        api.delete(f"v1/tunnels/{tunnel.json()['id']}").raise_for_status()

        expect(panel.row("from-a-kernel")).to_have_count(0)


def test_pause_resume_and_rotate_change_what_visitors_get(
    page: Page, panel: TunnelsPanel, start_app: Callable[[str], Services]
) -> None:
    first, second = start_app("model-api-v1"), start_app("model-api-v2")
    row = panel.expose(first.http_port, "model-api")
    expect(row).to_have_attribute("data-status", "active")
    url = row.get_by_role("link").inner_text()

    panel.button("Pause model-api").click()
    expect(row).to_have_attribute("data-status", "paused")
    assert page.request.get(url).status == 503

    panel.button("Resume model-api").click()
    expect(row).to_have_attribute("data-status", "active")
    assert page.request.get(f"{url}peer").json()["app"] == "model-api-v1"

    panel.button("Rotate model-api to another port").click()
    panel.dialog.locator('input[name="port"]').fill(str(second.http_port))
    panel.accept_dialog("Rotate")
    expect(row).to_contain_text(f"127.0.0.1:{second.http_port}")
    assert page.request.get(f"{url}peer").json()["app"] == "model-api-v2"
    assert row.get_by_role("link").inner_text() == url


def test_a_share_link_with_a_qr_code_lets_an_outsider_in_for_allowed_methods_only(
    panel: TunnelsPanel, start_app: Callable[[str], Services], screenshot_dir: Path
) -> None:
    app = start_app("report")
    row = panel.expose(app.http_port, "report")
    expect(row).to_have_attribute("data-status", "active")
    url = row.get_by_role("link").inner_text()

    panel.button("Share report").click()
    form = panel.dialog
    form.locator('select[name="expiration"]').select_option("1h")
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        form.get_by_label(method, exact=True).uncheck()
    form.locator('input[name="rateLimitPerMinute"]').fill("30")
    form.get_by_role("button", name="Create link", exact=True).click()

    result = panel.dialog.filter(has_text="Share link for report")
    expect(result.locator(".jp-TunnelsResult-qr svg")).to_be_visible()
    expect(result).to_contain_text("GET, HEAD · 30 requests a minute")
    link = result.get_by_label("Share link").input_value()
    panel.page.screenshot(path=screenshot_dir / "tunnels-share.png", style=HIDE_NOTIFICATIONS)
    panel.accept_dialog("Done")

    assert visit(url).status_code in (401, 403)  # private: it needs a login
    shared = visit(link)
    assert shared.status_code == 200, shared.text
    assert APP_TEXT in shared.text
    assert visit(link, "POST").status_code == 405


def test_connect_reaches_a_tunnel_at_a_local_port_of_the_server(
    panel: TunnelsPanel, start_app: Callable[[str], Services]
) -> None:
    app = start_app("warehouse")
    row = panel.expose(app.http_port, "warehouse")
    expect(row).to_have_attribute("data-status", "active")

    panel.button("Connect to warehouse").click()
    panel.dialog.get_by_role("button", name="Connect", exact=True).click()

    result = panel.dialog.filter(has_text="warehouse on this server")
    address = result.get_by_label("Address").input_value()
    panel.accept_dialog("Done")
    assert APP_TEXT in visit(f"http://{address}/").text


def test_closing_a_tunnel_removes_its_row_and_turns_visitors_away(
    page: Page, panel: TunnelsPanel, start_app: Callable[[str], Services]
) -> None:
    app = start_app("scratch")
    row = panel.expose(app.http_port, "scratch", public=True)
    expect(row).to_have_attribute("data-status", "active")
    expect(row).to_contain_text("public")
    url = row.get_by_role("link").inner_text()
    assert visit(url).status_code == 200  # public: anyone with the URL

    panel.button("Close scratch").click()
    panel.accept_dialog("Close tunnel")

    expect(row).to_have_count(0)
    assert visit(url).status_code >= 400


def test_exposing_a_port_nothing_listens_on_warns_and_the_row_says_so(
    panel: TunnelsPanel,
) -> None:
    port = closed_port()

    row = panel.expose(port, "not-started")

    toast = panel.toast(f"nothing is listening on port {port} yet: start your app")
    expect(toast).to_contain_text("not-started is exposed at")
    expect(toast).to_have_class(re.compile(r"Toastify__toast--warning"))
    expect(row).to_have_attribute("data-status", "active")  # exposed all the same
    expect(row).to_contain_text(f"app not answering: port {port} is not listening")
    toast.get_by_role("button", name="Hide notification").click()

    # the later tests (and the README's picture) want every tunnel's app answering
    panel.button("Close not-started").click()
    panel.accept_dialog("Close tunnel")
    expect(row).to_have_count(0)


def test_an_api_error_shows_as_a_notification_with_the_api_message(
    panel: TunnelsPanel,
) -> None:
    panel.button("Expose a port").click()
    panel.dialog.locator('input[name="port"]').fill("8050")
    panel.dialog.locator('input[name="name"]').fill("x" * 101)  # the API allows 1-100
    panel.accept_dialog("Expose")

    toast = panel.toast("Could not expose port 8050")
    expect(toast).to_contain_text("at most 100 characters")
    toast.get_by_role("button", name="Hide notification").click()
    expect(toast).to_have_count(0)


def test_the_expose_form_refuses_a_port_out_of_range_before_asking_the_server(
    panel: TunnelsPanel,
) -> None:
    panel.button("Expose a port").click()
    panel.dialog.locator('input[name="port"]').fill("70000")

    expect(panel.dialog.get_by_role("button", name="Expose", exact=True)).to_be_disabled()
    panel.page.keyboard.press("Escape")
    expect(panel.dialog).to_have_count(0)


def test_the_command_palette_offers_the_main_actions(page: Page, panel: TunnelsPanel) -> None:
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("tunnel")
    for label in (
        "Open the Tunnels Panel",
        "Expose a Port Through a Tunnel…",
        "Refresh the Tunnels List",
    ):
        expect(palette.get_by_text(label, exact=True)).to_be_visible()

    palette.get_by_text("Expose a Port Through a Tunnel…", exact=True).click()

    expect(panel.dialog.get_by_text("Expose a port", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel.dialog).to_have_count(0)


def test_screenshot_of_the_panel(
    page: Page,
    panel: TunnelsPanel,
    start_app: Callable[[str], Services],
    lab: JupyterLab,
    screenshot_dir: Path,
) -> None:
    """The README's picture: the panel beside JupyterLab's launcher, with live tunnels and the
    share link made by the share test unfolded under its tunnel."""
    app = start_app("streamlit")
    expect(panel.expose(app.http_port, "streamlit")).to_have_attribute("data-status", "active")
    report = panel.row("report")
    report.get_by_role("button", name="Show the share links of report", exact=True).click()
    expect(report.get_by_role("region")).to_contain_text("report link")
    page.mouse.move(1, 1)  # no hover highlight in the picture

    page.screenshot(path=screenshot_dir / "tunnels-panel.png", style=HIDE_NOTIFICATIONS)

    assert lab.process.poll() is None
