"""``%tunnel connect`` in a real IPython shell whose kernel belongs to a real Jupyter server.

The server's own connector binds the port (so every kernel of the server can use it) and, the
tunnel being the server's own, reaches its target in-process through the embedded hub.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_tunnels.kernel._reach import ReachedPort
from tests._apps import Services
from tests.kernel._servers import JupyterServerProcess

APP_BODY = "hello from the app\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def test_connect_reaches_a_tunnel_as_a_local_port_of_the_server(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    services: Services,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shell.run_line_magic("tunnel", f"expose {services.http_port} --name web")
    port = free_port()
    reached = shell.run_line_magic("tunnel", f"connect web --port {port}")
    assert isinstance(reached, ReachedPort)
    assert reached.address == f"127.0.0.1:{port}"
    assert reached.connection_string == f"http://127.0.0.1:{port}/"
    assert repr(reached).startswith(f"web → http://127.0.0.1:{port}/  (open, connection ")
    assert f"<code>http://127.0.0.1:{port}/</code>" in reached._repr_html_()
    for _ in range(3):  # each request is a new local connection, carried on its own stream
        answer = httpx.get(f"http://127.0.0.1:{port}/", headers={"Connection": "close"})
        assert (answer.status_code, answer.text) == (200, APP_BODY)

    capsys.readouterr()
    shell.run_line_magic("tunnel", "connections")
    assert f"http://127.0.0.1:{port}/  open  {reached.connection.id}" in capsys.readouterr().out
    # the server holds that port: a second connection to it is refused, the first one stays
    with pytest.raises(UsageError, match="already in use"):
        shell.run_line_magic("tunnel", f"connect web --port {port}")
    shell.run_line_magic("tunnel", "disconnect web")
    assert f"released 127.0.0.1:{port}" in capsys.readouterr().out
    assert refused(port)
    with pytest.raises(UsageError, match="no tunnel is named 'nope'"):
        shell.run_line_magic("tunnel", "connect nope")
