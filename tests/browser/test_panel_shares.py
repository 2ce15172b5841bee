"""A tunnel's share links in the JupyterLab panel: listed under its row, revoked from there,
and the share form's warning about links without POST.

The share is made through the API, as a kernel's ``%tunnel share`` would; the panel lists it
and revokes it, and the API and the link itself then agree that it is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests._apps import Services, start_services
from tests.browser._lab import JupyterLab
from tests.browser._panel import TunnelsPanel

ACTION_TIMEOUT = 15_000
"""Milliseconds a panel change may take to show (the list polls every 2 s)."""
TUNNEL = "shared-notes"
HIDE_NOTIFICATIONS = ".Toastify { display: none !important; }"

expect.set_options(timeout=ACTION_TIMEOUT)


@pytest.fixture(scope="module")
def api(lab: JupyterLab) -> Iterator[httpx.Client]:
    """The server's tunnels API with the Jupyter token, as a kernel calls it."""
    client = httpx.Client(
        base_url=f"{lab.url}tunnels/",
        headers={"Authorization": f"token {lab.token}"},
        timeout=10.0,
        trust_env=False,
    )
    with client:
        yield client


@pytest.fixture(scope="module")
def tunnel(api: httpx.Client) -> Iterator[dict[str, Any]]:
    """A private tunnel to a small web app, closed at the end."""
    services: Services = start_services(TUNNEL)
    answer = api.post("expose", json={"port": services.http_port, "name": TUNNEL})
    answer.raise_for_status()
    yield answer.json()
    api.delete(f"v1/tunnels/{answer.json()['id']}")
    services.stop()


def visit(url: str) -> httpx.Response:
    """A request from someone without a Jupyter login."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        return client.get(url)


def test_the_panel_lists_a_share_link_and_revokes_it(
    lab: JupyterLab,
    panel: TunnelsPanel,
    api: httpx.Client,
    tunnel: dict[str, Any],
    screenshot_dir: Path,
) -> None:
    made = api.post(
        f"v1/tunnels/{tunnel['id']}/shares",
        json={
            "name": "for-alice",
            "expiration": "1h",
            "allowedMethods": ["GET", "HEAD"],
            "rateLimitPerMinute": 30,
        },
    )
    assert made.status_code == 201, made.text
    # the server names itself localhost (TunnelsApp.public_base_url); it listens on 127.0.0.1
    link = made.json()["shareUrl"].replace(f"http://localhost:{lab.port}/", lab.url)
    assert visit(link).status_code == 200

    row = panel.row(TUNNEL)
    row.get_by_role("button", name=f"Show the share links of {TUNNEL}", exact=True).click()
    shares = row.get_by_role("region", name=f"Share links of {TUNNEL}")
    alice = shares.locator("li").filter(has_text="for-alice")
    expect(alice).to_contain_text("until ")
    expect(alice).to_contain_text("GET, HEAD · 30/min · 1 use")
    panel.page.screenshot(path=screenshot_dir / "tunnels-shares.png", style=HIDE_NOTIFICATIONS)

    alice.get_by_role("button", name="Revoke the share link for-alice", exact=True).click()
    expect(panel.dialog).to_contain_text(f"Whoever has this link to {TUNNEL}")
    panel.accept_dialog("Revoke link")

    expect(shares).to_contain_text("No working share links.")
    expect(shares).to_contain_text("1 revoked or expired link")
    listed = api.get(f"v1/tunnels/{tunnel['id']}/shares").json()
    assert [(share["name"], share["active"]) for share in listed] == [("for-alice", False)]
    assert listed[0]["revokedAt"] is not None
    refused = visit(link)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "SHARE_REVOKED"


def test_the_share_form_warns_while_post_is_not_allowed(
    panel: TunnelsPanel, tunnel: dict[str, Any], screenshot_dir: Path
) -> None:
    panel.button(f"Share {TUNNEL}").click()
    form = panel.dialog
    warning = form.get_by_role("alert")
    expect(warning).to_have_count(0)  # every method allowed

    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        form.get_by_label(method, exact=True).uncheck()
    expect(warning).to_contain_text("Without POST, apps that send data break for visitors")
    expect(warning).to_contain_text("Dash callbacks")
    panel.page.screenshot(path=screenshot_dir / "tunnels-share-form.png")

    form.get_by_label("POST", exact=True).check()
    expect(warning).to_have_count(0)
    panel.page.keyboard.press("Escape")
    expect(panel.dialog).to_have_count(0)
