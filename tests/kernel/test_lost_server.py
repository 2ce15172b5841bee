"""A kernel whose Jupyter server goes away: every call is a clear one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import jupyter_tunnels
from jupyter_tunnels import ExposedTunnel, HubUnreachable
from tests._apps import Services
from tests.kernel._servers import JupyterServerProcess, start_jupyter_server


@pytest.fixture
def doomed_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[JupyterServerProcess]:
    """A Jupyter server of this test's own (the test stops it), with this process as kernel."""
    server = start_jupyter_server(tmp_path / "doomed")
    monkeypatch.setenv("JPY_PARENT_PID", str(server.pid))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(server.runtime_dir))
    yield server
    server.stop()


def test_a_lost_server_is_a_one_line_error(
    shell: InteractiveShell, doomed_server: JupyterServerProcess, services: Services
) -> None:
    t = shell.run_line_magic("tunnel", f"expose {services.http_port}")
    assert isinstance(t, ExposedTunnel)
    doomed_server.stop()
    lost = f"cannot reach the Jupyter server at {doomed_server.url} (its embedded hub)"
    for line in ("list", f"expose {services.http_port}", f"close {t.name}"):
        with pytest.raises(UsageError) as raised:
            shell.run_line_magic("tunnel", line)
        assert str(raised.value).startswith(lost)
        assert "\n" not in str(raised.value)
    with pytest.raises(HubUnreachable):
        t.refresh()
    with pytest.raises(HubUnreachable, match="is the server still running"):
        jupyter_tunnels.expose(services.http_port)
