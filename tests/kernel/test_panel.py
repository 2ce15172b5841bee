"""``%tunnel panel``: the widget against a real hub and a real connector.

Outside a kernel ipywidgets' comm drops its messages, so the widgets work in plain pytest:
the tests click the buttons and read the cells, and check the hub through the SDK.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import ipywidgets
import pytest
from IPython.core.interactiveshell import InteractiveShell
from ipywidgets.widgets.widget import _instances as live_widget_models

from jupyter_tunnels import AsyncTunnelsClient, Tunnel, TunnelStatus
from jupyter_tunnels.connector import Connector
from jupyter_tunnels.kernel._panel import NO_LOOP, TunnelPanel
from jupyter_tunnels.kernel._panel_rows import TunnelRow
from tests._apps import Services, start_services
from tests._hubs import RunningHub
from tests._sockets import closed_port
from tests._tunnels import connector_for, until
from tests.kernel._servers import JupyterServerProcess

pytestmark = pytest.mark.anyio

WAIT = 10.0


@pytest.fixture
def apps() -> Iterator[tuple[Services, Services]]:
    """Two apps to expose."""
    first, second = start_services("panel-a"), start_services("panel-b")
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
async def connector(hub: RunningHub) -> AsyncIterator[Connector]:
    """A connector of the hub's admin."""
    async with connector_for(hub) as running:
        yield running


class ProbeClient(AsyncTunnelsClient):
    """The real SDK client, which records its closing and can hold back one listing."""

    def __init__(self, hub: RunningHub) -> None:
        super().__init__(hub.url, hub.token)
        self.closed = False
        self.hold: asyncio.Event | None = None
        """When set, the next listing waits for this event after the hub has answered."""
        self.holding = asyncio.Event()

    async def list(self, **options: Any) -> builtins.list[Tunnel]:
        tunnels = await super().list(**options)
        if self.hold is not None:
            release, self.hold = self.hold, None
            self.holding.set()
            await release.wait()
        return tunnels

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


def factory(hub: RunningHub) -> Callable[[], AsyncTunnelsClient]:
    """A fresh SDK client for the hub, as the magic's backend makes one."""
    return lambda: AsyncTunnelsClient(hub.url, hub.token)


def cells(row: TunnelRow) -> dict[str, str]:
    """What a row shows."""
    return {
        "name": row.name_cell.value,
        "link": row.link_cell.value,
        "protocol": row.protocol_cell.value,
        "target": row.target_cell.value,
        "status": row.status_cell.value,
        "lease": row.lease_cell.value,
        "ready": row.ready_cell.value,
        "toggle": row.toggle_button.description,
    }


def models_under(widget: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    """``widget`` and every widget model below it: children, layouts, styles."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += models_under(child)
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if isinstance(part, ipywidgets.Widget):
            found += models_under(part)
    return found


async def test_a_row_shows_the_tunnels_own_origin_when_there_is_one(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    first, second = apps
    await connector.expose(first.http_port, name="own", public=True)
    await connector.expose(second.http_port, name="plain", public=True)

    def origin_of(tunnel: Tunnel) -> str | None:
        return f"http://{tunnel.slug}.localhost:8888/" if tunnel.name == "own" else None

    panel = TunnelPanel(factory(hub), interval=60, origin_of=origin_of)
    try:
        await panel.refresh()
        own, plain = (cells(row)["link"] for row in panel.table.children)
        assert 'in a browser: <a href="http://own.localhost:8888/"' in own
        assert "in a browser" not in plain
    finally:
        await panel.aclose()


async def test_rows_show_every_tunnel_and_update_in_place(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    first, second = apps
    beta = await connector.expose(first.http_port, name="beta", public=True)
    panel = TunnelPanel(factory(hub), interval=0.1)
    try:
        await panel.refresh()
        (row,) = panel.table.children
        shown = cells(row)
        assert "<b>beta</b>" in shown["name"]
        assert f'<a href="{beta.url}" target="_blank"' in shown["link"]
        assert "navigator.clipboard.writeText" in shown["link"]
        assert shown["protocol"] == "http"
        assert shown["target"] == f"127.0.0.1:{first.http_port}"
        assert "active" in shown["status"] and "#2e7d32" in shown["status"]
        assert shown["lease"].startswith("in ") and shown["lease"].endswith(" s")
        assert shown["ready"] in ("hub ✓ app ✓", "hub ✓ app ✗")  # the app check may lag
        assert shown["toggle"] == "Pause"
        assert repr(panel) == "TunnelPanel(1 tunnels: beta)"

        models = set(live_widget_models)
        await panel.refresh()
        assert set(live_widget_models) == models  # a tick makes no new widget models

        await connector.expose(second.http_port, name="alpha")
        panel.start()
        first_task = panel._task
        panel.start()  # a second start makes no second task
        assert panel._task is first_task and first_task is not None
        await until(lambda: len(panel.table.children) == 2)
        names = [cells(r)["name"] for r in panel.table.children]
        assert names == ["<b>alpha</b>", "<b>beta</b>"]  # sorted by name
        assert panel.rows[beta.id] is row  # the same widgets, updated in place
        assert not first_task.done()
    finally:
        await panel.aclose()


async def test_only_the_row_whose_port_is_silent_shows_it(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    """Readiness is each tunnel's own: a closed port warns on its row only."""
    port = closed_port()
    answering = await connector.expose(apps[0].http_port, name="answering")
    silent = await connector.expose(port, name="silent")
    panel = TunnelPanel(factory(hub), interval=0.1)
    try:
        panel.start()
        warning = f"⚠ port {port} is not listening on 127.0.0.1: start your app first"

        def shown() -> tuple[str, str] | None:
            rows = panel.rows
            if answering.id not in rows or silent.id not in rows:
                return None
            return cells(rows[answering.id])["ready"], cells(rows[silent.id])["ready"]

        await until(lambda: shown() == ("hub ✓ app ✓", warning))
    finally:
        await panel.aclose()


async def test_a_failed_tunnel_shows_why_among_the_stopped_ones(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    tunnel = await connector.expose(apps[0].http_port, name="crashed")
    async with AsyncTunnelsClient(hub.url, hub.token) as client:
        await client.update(tunnel.id, status="failed", last_error="the app exited with code 3")
    panel = TunnelPanel(factory(hub), interval=0.1)
    try:
        panel.start()
        panel.show_all.value = True

        def shown() -> tuple[str, str] | None:
            row = panel.rows.get(tunnel.id)
            return None if row is None else (cells(row)["status"], cells(row)["ready"])

        await until(lambda: (shown() or ("", ""))[1] == "⚠ the app exited with code 3")
        status = shown()
        assert status is not None and "failed" in status[0]
    finally:
        await panel.aclose()


async def test_a_tcp_tunnel_shows_its_address_as_text(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    raw = await connector.expose(apps[0].tcp_port, protocol="tcp", name="raw")
    panel = TunnelPanel(factory(hub))
    try:
        await panel.refresh()
        shown = cells(panel.rows[raw.id])
        assert raw.url.startswith("tcp://")
        assert f"<code>{raw.url}</code>" in shown["link"] and "<a " not in shown["link"]
        assert raw.url in shown["link"].split("onclick=")[1]  # Copy still copies it
        assert shown["protocol"] == "tcp"
    finally:
        await panel.aclose()


async def test_buttons_pause_resume_and_close(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    tunnel = await connector.expose(apps[0].http_port, name="clicky", public=True)
    panel = TunnelPanel(factory(hub), interval=60)
    async with AsyncTunnelsClient(hub.url, hub.token) as client:
        try:
            await panel.refresh()
            row = panel.rows[tunnel.id]

            row.toggle_button.click()
            assert row.toggle_button.disabled and row.close_button.disabled  # busy
            row.show(row.tunnel)  # a refresh landing meanwhile keeps the row busy
            assert row.toggle_button.disabled and row.close_button.disabled
            await until(lambda: row.toggle_button.description == "Resume")
            assert (await client.get(tunnel.id)).status is TunnelStatus.PAUSED
            assert "paused" in row.status_cell.value and not row.toggle_button.disabled
            assert "pause: 'clicky' done" in panel.status_line.value

            row.toggle_button.click()
            await until(lambda: row.toggle_button.description == "Pause")
            assert (await client.get(tunnel.id)).status is TunnelStatus.ACTIVE

            gone = models_under(row)
            row.close_button.click()
            await until(lambda: tunnel.id not in panel.rows)
            assert (await client.get(tunnel.id)).status is TunnelStatus.STOPPED
            assert panel.table.children == ()
            assert "close: 'clicky' done" in panel.status_line.value
            assert all(model.comm is None for model in gone)  # every model of the row closed

            panel.show_all.value = True  # stopped tunnels on demand
            await until(lambda: tunnel.id in panel.rows)
            stopped = panel.rows[tunnel.id]
            assert stopped.close_button.disabled and stopped.toggle_button.disabled
            assert "stopped" in stopped.status_cell.value
        finally:
            await panel.aclose()


async def test_a_listing_older_than_the_one_shown_is_dropped(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    tunnel = await connector.expose(apps[0].http_port, name="racy")
    client = ProbeClient(hub)
    panel = TunnelPanel(lambda: client, interval=60)
    try:
        await panel.refresh()
        row = panel.rows[tunnel.id]
        client.hold = release = asyncio.Event()
        late = asyncio.create_task(panel.refresh())  # the hub answers "active", then it waits
        await client.holding.wait()
        row.toggle_button.click()
        await until(lambda: row.toggle_button.description == "Resume")  # newer: "paused"
        release.set()
        await late
        assert row.toggle_button.description == "Resume"
        assert "paused" in row.status_cell.value
    finally:
        await panel.aclose()
    assert client.closed


async def test_a_refused_action_and_a_lost_hub_show_in_the_status_line(
    make_hub: Callable[..., RunningHub], apps: tuple[Services, Services]
) -> None:
    hub = make_hub()
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(apps[0].http_port, name="fragile")
        panel = TunnelPanel(factory(hub), interval=0.1)
        try:
            await panel.refresh()
            row = panel.rows[tunnel.id]
            async with AsyncTunnelsClient(hub.url, hub.token) as client:
                await client.delete(tunnel.id)  # closed behind the panel's back
            row.toggle_button.click()
            await until(lambda: "cannot pause 'fragile'" in panel.status_line.value)
            assert not row.toggle_button.disabled  # usable again after the refusal

            panel.start()
            hub.stop()
            await until(lambda: "cannot list the tunnels" in panel.status_line.value)
            assert panel._task is not None and not panel._task.done()  # still refreshing
            make_hub(db_path=hub.db_path, port=hub.server.port)
            await until(lambda: "cannot" not in panel.status_line.value)
            assert panel.rows == {}  # the tunnel closed behind its back is gone
        finally:
            await panel.aclose()


async def test_an_unexpected_error_is_shown_and_start_resumes(hub: RunningHub) -> None:
    broken = True

    def make() -> AsyncTunnelsClient:
        if broken:
            raise RuntimeError("no client today")
        return AsyncTunnelsClient(hub.url, hub.token)

    panel = TunnelPanel(make, interval=0.1)
    try:
        panel.start()
        await until(lambda: "no client today" in panel.status_line.value)
        assert "live refresh stopped" in panel.status_line.value
        assert panel._task is not None and panel._task.done()

        broken = False
        panel.start()
        await until(lambda: "0 tunnels" in panel.status_line.value)
    finally:
        await panel.aclose()


async def test_closing_frees_every_widget_model_and_the_client(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    await connector.expose(apps[0].http_port, name="tidy")
    models = set(live_widget_models)
    clients: list[ProbeClient] = []

    def make() -> AsyncTunnelsClient:
        clients.append(ProbeClient(hub))
        return clients[-1]

    panel = TunnelPanel(make, interval=0.1)
    panel.start()
    await until(lambda: len(panel.rows) == 1)
    task = panel._task
    panel.close()  # from the loop, without waiting
    panel.close()
    assert set(live_widget_models) == models
    await until(lambda: clients[0].closed)
    assert task is not None and task.cancelled()
    panel.start()  # a closed panel stays closed
    assert panel._task is None
    await panel.aclose()
    assert len(clients) == 1


def test_without_a_loop_it_says_so_and_close_is_safe(hub: RunningHub) -> None:
    made: list[AsyncTunnelsClient] = []

    def make() -> AsyncTunnelsClient:
        made.append(AsyncTunnelsClient(hub.url, hub.token))
        return made[-1]

    panel = TunnelPanel(make)
    panel.close()  # before start: nothing to stop
    panel.close()
    assert made == []

    panel = TunnelPanel(make)
    panel.start()  # terminal IPython: no running loop
    assert NO_LOOP.split(":")[0] in panel.status_line.value
    panel.status_line.value = ""
    panel.refresh_button.click()  # nowhere to run it: said, not raised
    assert NO_LOOP.split(":")[0] in panel.status_line.value
    panel.close()
    assert made == []


def test_the_magic_returns_a_started_panel(
    shell: InteractiveShell, server_kernel: JupyterServerProcess
) -> None:
    panel = shell.run_line_magic("tunnel", "panel")
    try:
        assert isinstance(panel, TunnelPanel)
        assert NO_LOOP.split(":")[0] in panel.status_line.value  # a plain shell has no loop
    finally:
        panel.close()


async def test_the_share_button_makes_a_link_that_works_without_credentials(
    hub: RunningHub, connector: Connector, apps: tuple[Services, Services]
) -> None:
    tunnel = await connector.expose(apps[0].http_port, name="shared")
    udp = await connector.expose(apps[1].udp_port, protocol="udp", name="datagrams")
    panel = TunnelPanel(factory(hub), interval=60)
    try:
        await panel.refresh()
        assert panel.rows[udp.id].share_button.disabled, "udp tunnels cannot be shared"
        row = panel.rows[tunnel.id]
        assert not row.share_button.disabled
        row.share_button.click()
        await until(lambda: panel.last_share is not None and not row.busy)
        grant = panel.last_share
        assert grant is not None and grant.share_url is not None
        assert grant.share_url in panel.status_line.value
        assert "Copy" in panel.status_line.value
        async with httpx.AsyncClient(trust_env=False, timeout=WAIT) as http:
            assert (await http.get(tunnel.url)).status_code == 401
            assert (await http.get(grant.share_url)).text == "hello from the app\n"
    finally:
        await panel.aclose()
