"""The Python API (``jupyter_tunnels.expose`` / ``aexpose`` and friends) against a real
Jupyter server with the extension."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

import jupyter_tunnels
from jupyter_tunnels import ExposedTunnel, TunnelError, TunnelsClient, TunnelStatus, kernel
from jupyter_tunnels.kernel import InvalidArgument, PortNotListening, UnknownTunnel
from jupyter_tunnels.kernel._session import chosen_backend
from tests._apps import Services
from tests._sockets import closed_port
from tests.kernel._relay import loop_relay
from tests.kernel._servers import JupyterServerProcess

APP_BODY = "hello from the app\n"


def test_expose_and_manage_from_code(
    server_kernel: JupyterServerProcess, services: Services, other_services: Services
) -> None:
    port = services.http_port
    t = jupyter_tunnels.expose(port, name="code")
    assert isinstance(t, ExposedTunnel)
    assert (t.name, t.status, t.target) == ("code", TunnelStatus.ACTIVE, f"127.0.0.1:{port}")
    assert jupyter_tunnels.expose(port, name="code").id == t.id
    assert t.refresh() is t
    assert t.where.startswith(f"the Jupyter server at {server_kernel.url}")
    conn = kernel.connection()
    assert (conn.mode, conn.where, conn.hub_url) == (
        "server",
        t.where,
        f"{server_kernel.url}tunnels",
    )
    with TunnelsClient(conn.hub_url, conn.token) as client:
        assert client.get(t.id).name == "code"

    assert t.pause().status is TunnelStatus.PAUSED
    assert t.resume().status is TunnelStatus.ACTIVE
    assert kernel.tunnel("code").id == t.id
    assert kernel.tunnel(t.tunnel.slug).id == t.id
    assert kernel.tunnel(t.id).id == t.id
    assert [x.id for x in kernel.tunnels()] == [t.id]
    assert t.rotate(other_services.http_port).target == f"127.0.0.1:{other_services.http_port}"
    answer = httpx.get(t.url, headers=server_kernel.headers, timeout=10)
    assert answer.status_code == 200

    assert t.close().status is TunnelStatus.STOPPED
    assert list(kernel.tunnels()) == []
    with pytest.raises(UnknownTunnel):
        kernel.tunnel("code")
    assert kernel.tunnel("code", include_inactive=True).id == t.id
    with pytest.raises(UnknownTunnel, match="is stopped"):
        kernel.tunnel(t.id)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"port": 0}, "port must be a number from 1 to 65535, not 0"),
        ({"port": 70000}, "port must be a number from 1 to 65535, not 70000"),
        ({"port": "abc"}, "port must be a number from 1 to 65535, not 'abc'"),
        ({"port": True}, "port must be a number from 1 to 65535, not True"),
        ({"port": 8050, "name": "n" * 101}, "a tunnel name has 1 to 100 characters, not 101"),
        ({"port": 8050, "name": ""}, "a tunnel name has 1 to 100 characters, not 0"),
        ({"port": 8050, "protocol": "ftp"}, "protocol must be one of auto, http, https"),
        ({"port": 8050, "host": " "}, "host must not be empty"),
    ],
)
def test_bad_arguments_raise_before_anything_happens(
    server_kernel: JupyterServerProcess, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as raised:
        # deliberately ill-typed arguments: what a notebook user may pass
        jupyter_tunnels.expose(**arguments, check=False)  # type: ignore[arg-type]
    assert isinstance(raised.value, TunnelError)
    assert chosen_backend() is None


def test_a_host_the_connector_may_not_dial_is_refused(
    server_kernel: JupyterServerProcess,
) -> None:
    with pytest.raises(TunnelError, match=re.escape("192.0.2.1")) as raised:
        jupyter_tunnels.expose(8050, host="192.0.2.1", check=False)
    assert "\n" not in str(raised.value)
    with server_kernel.client() as client:
        assert client.list() == []


def test_a_port_nobody_listens_on(server_kernel: JupyterServerProcess) -> None:
    port = closed_port()
    with pytest.raises(PortNotListening) as raised:
        jupyter_tunnels.expose(port)
    assert str(raised.value) == (
        f"nothing listens on 127.0.0.1:{port}: start your app first, "
        "or pass check=False to expose it anyway"
    )
    assert chosen_backend() is None
    assert jupyter_tunnels.expose(port, check=False).status is TunnelStatus.ACTIVE


@pytest.mark.anyio
async def test_async_api_leaves_the_running_loop_free(
    jupyter_server: JupyterServerProcess,
    monkeypatch: pytest.MonkeyPatch,
    services: Services,
    other_services: Services,
) -> None:
    port = int(jupyter_server.url.rsplit(":", 1)[1].strip("/"))
    try:
        async with loop_relay(port) as relay_port:
            # every call of the API goes through this loop: one that blocked it would hang
            monkeypatch.setenv(kernel.SERVER_URL_ENV, f"http://127.0.0.1:{relay_port}/")
            monkeypatch.setenv(kernel.SERVER_TOKEN_ENV, jupyter_server.token)
            t = await asyncio.wait_for(jupyter_tunnels.aexpose(services.http_port), 20)
            assert (t.name, t.status) == (f"port-{services.http_port}", TunnelStatus.ACTIVE)
            again = await jupyter_tunnels.aexpose(services.http_port)
            assert again.id == t.id
            assert (await t.apause()).status is TunnelStatus.PAUSED
            assert (await t.aresume()).status is TunnelStatus.ACTIVE
            assert await t.arefresh() is t
            rotated = await t.arotate(other_services.http_port)
            assert rotated.target == f"127.0.0.1:{other_services.http_port}"
            assert [x.id for x in await kernel.atunnels()] == [t.id]
            assert (await kernel.aconnection()).hub_url == f"http://127.0.0.1:{relay_port}/tunnels"
            assert (await kernel.atunnel(t.name)).id == t.id
            with pytest.raises(PortNotListening):
                await jupyter_tunnels.aexpose(closed_port())
            with pytest.raises(UnknownTunnel):
                await kernel.atunnel("nothing-of-that-name")
            assert (await t.aclose()).status is TunnelStatus.STOPPED
            second = await jupyter_tunnels.aexpose(services.http_port, name="second")
            closed = await kernel.aclose_all()
            assert [(x.id, x.status) for x in closed] == [(second.id, TunnelStatus.STOPPED)]
    finally:
        jupyter_server.close_all_tunnels()
