"""Without a Jupyter server: a connector in the kernel, against ``JUPYTER_TUNNELS_HUB`` or a hub
started in the kernel; the notice that says so; and what happens when that hub is lost."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from tornado import httpserver, netutil

import jupyter_tunnels
from jupyter_tunnels import ExposedTunnel, HubUnreachable, TunnelsClient, TunnelStatus, kernel
from jupyter_tunnels.kernel._session import chosen_backend
from tests._apps import Services, make_app
from tests._hubs import RunningHub
from tests._sockets import closed_port

APP_BODY = "hello from the app\n"
NO_SERVER = "jupyter-tunnels: JPY_PARENT_PID is not set, so no Jupyter server started this kernel"


def exposed(shell: InteractiveShell, line: str) -> ExposedTunnel:
    result = shell.run_line_magic("tunnel", line)
    assert isinstance(result, ExposedTunnel)
    return result


def usage_error(shell: InteractiveShell, line: str) -> str:
    with pytest.raises(UsageError) as raised:
        shell.run_line_magic("tunnel", line)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_an_in_process_hub_when_there_is_no_server(
    shell: InteractiveShell,
    services: Services,
    other_services: Services,
    capsys: pytest.CaptureFixture[str],
) -> None:
    public = exposed(shell, f"expose {services.http_port} --name local --public")
    backend = kernel.connection()
    assert backend.mode == "in-process"
    assert backend.token not in repr(backend)
    assert capsys.readouterr().out == (
        f"{NO_SERVER}; using an in-process hub at {backend.hub_url} "
        "(its tunnels end with this kernel)\n"
    )
    assert public.url == f"{backend.hub_url}/t/local/"
    assert httpx.get(public.url, timeout=10).text == APP_BODY
    assert exposed(shell, f"expose {services.http_port} --name local --public").id == public.id
    assert capsys.readouterr().out == "", "the notice comes once"
    assert "in-process hub" in public._repr_html_()

    private = exposed(shell, f"expose {other_services.http_port} --name mine")
    assert httpx.get(private.url, timeout=10).status_code == 401
    bearer = {"Authorization": f"Bearer {backend.token}"}
    assert httpx.get(private.url, headers=bearer, timeout=10).text == APP_BODY
    assert [t.name for t in jupyter_tunnels.kernel.tunnels()] == ["local", "mine"]

    kernel.shutdown()  # the hub ends with the kernel, and its tunnels with it
    with pytest.raises(httpx.ConnectError):
        httpx.get(public.url, timeout=10)


def test_a_hub_from_the_environment(
    shell: InteractiveShell,
    hub: RunningHub,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JUPYTER_TUNNELS_HUB", hub.url)
    monkeypatch.setenv("JUPYTER_TUNNELS_TOKEN", hub.token)
    t = exposed(shell, f"expose {services.http_port} --name remote")
    assert capsys.readouterr().out == (
        f"{NO_SERVER}; using the hub at {hub.url} (JUPYTER_TUNNELS_HUB), through this kernel\n"
    )
    assert t.url == f"{hub.url}/t/remote/"
    answer = httpx.get(t.url, headers=hub.headers, timeout=10)
    assert answer.text == APP_BODY
    with TunnelsClient(hub.url, hub.token) as client:
        assert [x.id for x in client.list()] == [t.id]
        kernel.shutdown()  # the kernel's connector releases its lease: its tunnels stop
        assert client.get(t.id).status is TunnelStatus.STOPPED


def test_a_lost_hub_is_a_one_line_error(
    shell: InteractiveShell,
    make_hub: Callable[..., RunningHub],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = make_hub()
    monkeypatch.setenv("JUPYTER_TUNNELS_HUB", hub.url)
    monkeypatch.setenv("JUPYTER_TUNNELS_TOKEN", hub.token)
    t = exposed(shell, f"expose {services.http_port}")
    hub.stop()
    message = usage_error(shell, "list")
    assert message.startswith(f"cannot reach the hub at {hub.url} (JUPYTER_TUNNELS_HUB)")
    with pytest.raises(HubUnreachable):
        t.refresh()


def test_a_hub_setting_that_does_not_work(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("JUPYTER_TUNNELS_HUB", nowhere)
    message = usage_error(shell, "list")
    assert message.startswith("no API token: pass token=... or set JUPYTER_TUNNELS_TOKEN")
    monkeypatch.setenv("JUPYTER_TUNNELS_TOKEN", "jtu_anything")
    message = usage_error(shell, "list")
    assert message.startswith(f"cannot reach the hub at {nowhere} for POST /v1/leases")
    assert chosen_backend() is None, "nothing is left half-started"


def test_an_explicit_server_that_fails_is_an_error_not_a_fallback(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(kernel.SERVER_URL_ENV, f"http://127.0.0.1:{closed_port()}/")
    message = usage_error(shell, "list")
    assert message.startswith("JUPYTER_TUNNELS_SERVER_URL: the Jupyter server at http://127.0.0.1:")
    assert chosen_backend() is None


@pytest.mark.anyio
async def test_aexpose_with_the_app_on_the_callers_loop() -> None:
    # an app served by this very loop, as a notebook's app runs on the kernel's loop
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    app = httpserver.HTTPServer(make_app("same-loop"))
    app.add_sockets(sockets)
    try:
        t = await jupyter_tunnels.aexpose(sockets[0].getsockname()[1], public=True)
        backend = chosen_backend()
        assert backend is not None and backend.mode == "in-process"
        async with httpx.AsyncClient(timeout=10) as web:
            answer = await web.get(t.url)
        assert answer.text == APP_BODY
        assert (await t.aclose()).status is TunnelStatus.STOPPED
    finally:
        app.stop()
        await app.close_all_connections()
