"""``%tunnel panel``: the widget against a real hub and a real connector.

Outside a kernel ipywidgets' comm drops its messages, so the widgets work in plain pytest:
the tests click the buttons and read the cells, and check the hub through the SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_tunnels import AsyncTunnelsClient, TunnelStatus
from jupyter_tunnels.connector import Connector
from jupyter_tunnels.kernel._panel import NO_LOOP, TunnelPanel
from jupyter_tunnels.kernel._panel_rows import TunnelRow

from .._apps import Services, start_services
from .._hubs import RunningHub
from .._tunnels import connector_for
from ._servers import JupyterServerProcess

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


def factory(hub: RunningHub) -> Callable[[], AsyncTunnelsClient]:
    """A fresh SDK client for the hub, as the magic's backend makes one."""
    return lambda: AsyncTunnelsClient(hub.url, hub.token)


async def until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Wait (bounded) until ``condition`` holds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


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
        assert f'href="{beta.url}"' in shown["link"] and "clipboard" in shown["link"]
        assert shown["protocol"] == "http"
        assert shown["target"] == f"127.0.0.1:{first.http_port}"
        assert "active" in shown["status"] and "#2e7d32" in shown["status"]
        assert shown["lease"].startswith("in ")
        assert shown["toggle"] == "Pause"
        assert repr(panel) == "TunnelPanel(1 tunnels: beta)"

        await connector.expose(second.http_port, name="alpha")
        panel.start()
        panel.start()  # a second start makes no second task
        await until(lambda: len(panel.table.children) == 2)
        names = [cells(r)["name"] for r in panel.table.children]
        assert names == ["<b>alpha</b>", "<b>beta</b>"]  # sorted by name
        assert panel.rows[beta.id] is row  # the same widgets, updated in place
        assert sum(task is not None and not task.done() for task in [panel._task]) == 1
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
            assert row.toggle_button.disabled  # busy while the call runs
            await until(lambda: row.toggle_button.description == "Resume")
            assert (await client.get(tunnel.id)).status is TunnelStatus.PAUSED
            assert "paused" in row.status_cell.value and not row.toggle_button.disabled

            row.toggle_button.click()
            await until(lambda: row.toggle_button.description == "Pause")
            assert (await client.get(tunnel.id)).status is TunnelStatus.ACTIVE

            row.close_button.click()
            await until(lambda: tunnel.id not in panel.rows)
            assert (await client.get(tunnel.id)).status is TunnelStatus.STOPPED
            assert panel.table.children == ()
            assert "close: 'clicky' done" in panel.status_line.value

            panel.show_all.value = True  # stopped tunnels on demand
            await until(lambda: tunnel.id in panel.rows)
            stopped = panel.rows[tunnel.id]
            assert stopped.close_button.disabled and stopped.toggle_button.disabled
        finally:
            await panel.aclose()


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
        finally:
            await panel.aclose()


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
