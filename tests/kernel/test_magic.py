"""``%tunnel`` in a real IPython shell whose kernel belongs to a real Jupyter server.

The shell finds the server by itself (``JPY_PARENT_PID`` and the server's runtime file), and
the tunnels it makes are the server's: the tests check them through the server's API too.
"""

from __future__ import annotations

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_tunnels import ExposedTunnel, TunnelStatus
from jupyter_tunnels.kernel import TunnelDetails, TunnelList
from jupyter_tunnels.kernel._magic import USAGE, build_parser
from jupyter_tunnels.kernel._request_log import RequestLog
from jupyter_tunnels.kernel._session import chosen_backend
from jupyter_tunnels.kernel._shares import SharedLink, ShareList
from tests._apps import Services
from tests._sockets import closed_port
from tests.kernel._servers import JupyterServerProcess

SUBCOMMANDS = (
    "expose",
    "run",
    "logs",
    "list",
    "info",
    "close",
    "pause",
    "resume",
    "rotate",
    "log",
    "share",
    "shares",
    "unshare",
    "connect",
    "disconnect",
    "connections",
    "panel",
    "help",
)
APP_BODY = "hello from the app\n"


def tunnel(shell: InteractiveShell, line: str) -> object:
    """Run ``%tunnel line`` and return its result."""
    return shell.run_line_magic("tunnel", line)


def exposed(shell: InteractiveShell, line: str) -> ExposedTunnel:
    result = tunnel(shell, line)
    assert isinstance(result, ExposedTunnel)
    return result


def listed(shell: InteractiveShell, line: str) -> TunnelList:
    result = tunnel(shell, line)
    assert isinstance(result, TunnelList)
    return result


def usage_error(shell: InteractiveShell, line: str) -> str:
    """The one-line message of the UsageError that ``%tunnel line`` raises."""
    with pytest.raises(UsageError) as raised:
        tunnel(shell, line)
    message = str(raised.value)
    assert "\n" not in message
    return message


def live_names(server: JupyterServerProcess) -> list[str]:
    with server.client() as client:
        return sorted(t.name for t in client.list())


def test_load_unload_and_reload(ipython: InteractiveShell) -> None:
    line_magics = ipython.magics_manager.magics["line"]
    ipython.run_line_magic("load_ext", "jupyter_tunnels")
    assert "tunnel" in line_magics
    ipython.run_line_magic("reload_ext", "jupyter_tunnels")
    assert "tunnel" in line_magics
    ipython.run_line_magic("unload_ext", "jupyter_tunnels")
    assert "tunnel" not in line_magics
    with pytest.raises(UsageError, match="not found"):
        ipython.run_line_magic("tunnel", "list")
    ipython.run_line_magic("load_ext", "jupyter_tunnels")
    assert "tunnel" in line_magics
    ipython.run_line_magic("unload_ext", "jupyter_tunnels")


def test_bare_magic_and_help_print_the_usage(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    for line in ("", "help", "  "):
        assert tunnel(shell, line) is None
        printed = capsys.readouterr().out
        assert printed == USAGE + "\n"
    for name in SUBCOMMANDS:
        assert f"%tunnel {name}" in USAGE
    assert "--no-check" in USAGE
    assert set(SUBCOMMANDS) == set(build_parser().commands)
    assert chosen_backend() is None, "help needs no server"


def test_expose_manage_and_close_through_the_server(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    services: Services,
    other_services: Services,
) -> None:
    port = services.http_port
    t = exposed(shell, f"expose {port} --name web")
    assert t.status is TunnelStatus.ACTIVE
    assert t.name == "web"
    assert t.url == f"{server_kernel.url}tunnels/t/web/"
    assert repr(t) == (
        f"ExposedTunnel(name='web', url='{t.url}', status='active', target='127.0.0.1:{port}')"
    )
    page = t._repr_html_()
    assert f'<a href="{t.url}"' in page
    assert ">active</span>" in page
    assert "<svg" in page and "the Jupyter server at" in page
    server_port = httpx.URL(server_kernel.url).port
    assert t.origin_url == f"http://web.localhost:{server_port}/", "the server is on loopback"
    assert f'in a browser: <a href="{t.origin_url}"' in page
    (row,) = listed(shell, "list")
    assert row.origin_url == t.origin_url, "every tunnel of the server, not only this one"

    again = exposed(shell, f"expose {port} --name web")
    assert again.id == t.id, "re-running the cell must not make a second tunnel"
    assert live_names(server_kernel) == ["web"]

    # the Jupyter server's ingress serves the tunnel to a Jupyter-authenticated visitor
    answer = httpx.get(t.url, headers=server_kernel.headers, timeout=10)
    assert (answer.status_code, answer.text) == (200, APP_BODY)

    second = exposed(shell, f"expose {other_services.http_port} --name api --public")
    listing = listed(shell, "list")
    assert [x.name for x in listing] == ["api", "web"]
    lines = repr(listing).splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "TARGET", "URL"]
    assert lines[1].split() == ["api", "active", second.target, second.url]
    assert lines[2].split() == ["web", "active", t.target, t.url]
    assert "<table" in listing._repr_html_()

    details = tunnel(shell, "info web")
    assert isinstance(details, TunnelDetails)
    assert details.tunnel.id == t.id
    assert t.id in repr(details)
    assert repr(details).splitlines()[-1].startswith("via:")

    paused = exposed(shell, "pause web")
    assert (paused.id, paused.status) == (t.id, TunnelStatus.PAUSED)
    assert httpx.get(t.url, headers=server_kernel.headers, timeout=10).status_code == 503
    resumed = exposed(shell, "resume web")
    assert resumed.status is TunnelStatus.ACTIVE

    rotated = exposed(shell, f"rotate web {other_services.http_port}")
    assert (rotated.id, rotated.url) == (t.id, t.url)
    assert rotated.target == f"127.0.0.1:{other_services.http_port}"

    closed = exposed(shell, "close web")
    assert closed.status is TunnelStatus.STOPPED
    assert "<svg" not in closed._repr_html_(), "no QR code for a URL that no longer works"
    back = exposed(shell, f"expose {port} --name web")
    assert (back.url, back.status) == (t.url, TunnelStatus.ACTIVE), "the slug was kept for us"
    assert back.id != t.id
    exposed(shell, "close web")
    assert [x.name for x in listed(shell, "list")] == ["api"]
    everything = listed(shell, "list --all")
    stopped = {x.id: x.status for x in everything if x.name == "web"}
    assert {t.id, back.id} <= stopped.keys(), "both stay listed (the server may hold others)"
    assert {stopped[t.id], stopped[back.id]} == {TunnelStatus.STOPPED}
    everything = listed(shell, "close --all")
    assert [(x.name, x.status) for x in everything] == [("api", TunnelStatus.STOPPED)]
    assert repr(tunnel(shell, "list")) == (
        "no live tunnels (%tunnel list --all shows stopped ones too)"
    )


def test_the_magic_assigns_in_a_cell(
    shell: InteractiveShell, server_kernel: JupyterServerProcess, services: Services
) -> None:
    cell = f"t = %tunnel expose {services.http_port} --name cell"
    result = shell.run_cell(cell)  # type: ignore[no-untyped-call]  # IPython leaves it untyped
    result.raise_error()
    assert isinstance(shell.user_ns["t"], ExposedTunnel)
    assert shell.user_ns["t"].name == "cell"
    del shell.user_ns["t"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("expose 0", "port must be a number from 1 to 65535, not '0'"),
        ("expose 70000", "port must be a number from 1 to 65535, not '70000'"),
        ("expose abc", "port must be a number from 1 to 65535, not 'abc'"),
        ("expose", "the following arguments are required: PORT"),
        (f"expose 8050 --name {'n' * 101}", "a tunnel name has 1 to 100 characters, not 101"),
        ("expose 8050 --protocol ftp", "invalid choice: 'ftp'"),
        ("expose 8050 --bogus", "unrecognized arguments: --bogus"),
        ("expose 8050 --name 'unclosed", "No closing quotation"),
        ("teleport 8050", "invalid choice: 'teleport'"),
        ("close", "one of the arguments NAME --all is required"),
        ("rotate web", "the following arguments are required: PORT"),
        ("share web --expires 2h", "argument --expires: invalid choice: '2h'"),
        ("share web --methods GET,FETCH", "'FETCH' is not one of GET, HEAD"),
        ("share web --rate 0", "the rate must be between 1 and 1000 a minute, not 0"),
        ("share web --rate many", "'many' is not a whole number"),
        ("unshare", "the following arguments are required: SHARE_ID"),
        ("rotate web 0", "port must be a number from 1 to 65535, not '0'"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    shell: InteractiveShell, server_kernel: JupyterServerProcess, line: str, expected: str
) -> None:
    assert expected in usage_error(shell, line)
    assert live_names(server_kernel) == []
    assert chosen_backend() is None, "nothing was started for a bad argument"


def test_a_port_nobody_listens_on_is_refused_unless_no_check(
    shell: InteractiveShell, server_kernel: JupyterServerProcess
) -> None:
    port = closed_port()
    message = usage_error(shell, f"expose {port} --name idle")
    assert message == (
        f"nothing listens on 127.0.0.1:{port}: start your app first, or pass --no-check"
    )
    assert live_names(server_kernel) == []
    t = exposed(shell, f"expose {port} --name idle --no-check")
    assert (t.name, t.status) == ("idle", TunnelStatus.ACTIVE)
    assert httpx.get(t.url, headers=server_kernel.headers, timeout=10).status_code == 502
    assert live_names(server_kernel) == ["idle"]
    message = usage_error(shell, f"rotate idle {closed_port()}")
    assert message.startswith("nothing listens on 127.0.0.1:")


@pytest.mark.parametrize("command", ["info", "close", "pause", "resume", "rotate"])
def test_unknown_tunnels_are_one_line_usage_errors(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    services: Services,
    command: str,
) -> None:
    exposed(shell, f"expose {services.http_port} --name known")
    port = f" {services.http_port}" if command == "rotate" else ""
    message = usage_error(shell, f"{command} unknown{port}")
    assert message.startswith("no tunnel is named 'unknown'")
    with server_kernel.client() as client:
        assert [(t.name, t.status) for t in client.list()] == [("known", TunnelStatus.ACTIVE)]


def test_several_live_tunnels_of_one_name_need_a_slug(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    services: Services,
    other_services: Services,
) -> None:
    first = exposed(shell, f"expose {services.http_port} --name twin")
    second = exposed(shell, f"expose {other_services.http_port} --name twin")
    assert first.id != second.id
    message = usage_error(shell, "close twin")
    assert message.startswith("2 live tunnels are named 'twin': use a slug (")
    assert exposed(shell, f"close {second.tunnel.slug}").id == second.id
    assert live_names(server_kernel) == ["twin"]


def test_log_shows_requests_through_the_jupyter_ingress(
    shell: InteractiveShell, server_kernel: JupyterServerProcess, services: Services
) -> None:
    t = exposed(shell, f"expose {services.http_port} --name logged")
    try:
        # the Jupyter server's own ingress (tornado, _visitor_relay.py) records these
        for path in ("?key=secret", "missing"):
            httpx.get(t.url + path, headers=server_kernel.headers, timeout=10)
        shown = tunnel(shell, "log logged --limit 5")
        assert isinstance(shown, RequestLog)
        lines = repr(shown).splitlines()
        assert lines[0].split() == ["TIME", "METHOD", "PATH", "STATUS", "MS", "IN", "OUT"]
        assert [line.split()[1:4] for line in lines[1:3]] == [
            ["GET", "/missing", "404"],
            ["GET", "/", "200"],
        ]
        assert "secret" not in repr(shown)
        assert lines[-1].startswith("2 requests, 0 errors,")
        assert int(lines[2].split()[-1]) > len(APP_BODY), "bytes out include the answer"
        page = shown._repr_html_()
        assert "<table>" in page and "<td>/missing</td>" in page
        assert "--limit" in usage_error(shell, "log logged --limit 0")
    finally:
        tunnel(shell, "close logged")


def test_share_makes_a_link_that_opens_without_credentials(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    services: Services,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exposed(shell, f"expose {services.http_port} --name guests")
    try:
        link = tunnel(shell, "share guests --expires 1h --methods get,head --rate 60 --label team")
        assert isinstance(link, SharedLink)
        assert link.url is not None and link.url.endswith(f"?share_token={link.token}")
        text = repr(link).splitlines()
        assert text[0] == "guests shared as 'team'"
        assert text[1] == f"share link: {link.url}"
        assert "GET, HEAD; 60/min" in text[2]
        assert "<svg" in link._repr_html_(), "a QR code of the link"

        # nobody logged in to Jupyter: the link alone opens the private tunnel
        assert httpx.get(link.url, timeout=10).text == APP_BODY
        assert httpx.post(link.url, timeout=10).status_code == 405

        listed = tunnel(shell, "shares guests")
        assert isinstance(listed, ShareList)
        assert [(s.name, s.active, s.access_count) for s in listed] == [("team", True, 1)]
        assert repr(listed).splitlines()[0].split()[:3] == ["ID", "NAME", "STATE"]

        assert tunnel(shell, f"unshare {link.id}") is None
        assert "revoked 'team'" in capsys.readouterr().out
        assert httpx.get(link.url, timeout=10).status_code == 403
        after = tunnel(shell, "shares guests")
        assert isinstance(after, ShareList)
        assert [s.active for s in after] == [False]
        assert "no share 'nope'" in usage_error(shell, "unshare nope")
        assert usage_error(shell, "share unknown").startswith("no tunnel is named 'unknown'")
    finally:
        tunnel(shell, "close guests")
