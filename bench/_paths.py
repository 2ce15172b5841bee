"""The paths from the load generator to the origins, each started as a user would start it.

* ``direct``: straight to the origins.
* ``hub``: our standalone hub (``jupyter-tunnels hub --domain tun.localhost``) and a connector
  (``_connector_main.py``), two separate processes; visitors send
  ``Host: <slug>.tun.localhost:<port>`` to the hub's port.
* ``ssh``: ``ssh -N -R`` with Debian's OpenSSH, to an sshd of our own on loopback.

The paths inside ``jupyter server`` (jupyter-tunnels embedded, jupyter-server-proxy) are in
``_jupyter_paths.py``.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _origin import Origins
from _tools import Children, StartupError, free_port, port_open, wait_until

__all__ = [
    "Endpoint",
    "PathUnderTest",
    "descendants",
    "direct_path",
    "hub_path",
    "ssh_path",
]

STARTUP_TIMEOUT = 60.0
HUB_DOMAIN = "tun.localhost"
LOOP_ENV = "JUPYTER_TUNNELS_LOOP"
_ALLOCATED = re.compile(r"Allocated port (\d+) for remote forward to [^:]+:(\d+)")

Processes = Callable[[], dict[str, list[int]]]
"""The relay's processes by role (``{"hub": [pid], ...}``), looked up when called."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """How a client reaches one origin through one path: always 127.0.0.1:``port``."""

    port: int
    host: str
    """The ``Host`` header to send."""
    prefix: str = ""
    """Prepended to the origin's path (``/proxy/8080`` for jupyter-server-proxy)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (authentication)."""

    def url(self, path: str) -> str:
        """The URL to connect to (the ``Host`` header is sent separately)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}{path}"

    def all_headers(self) -> list[tuple[str, str]]:
        """``Host`` and the extra headers."""
        return [("Host", self.host), *self.headers]


@dataclasses.dataclass(frozen=True)
class PathUnderTest:
    """One way to the origins: an endpoint for each origin, and the relay's processes."""

    name: str
    label: str
    web: Endpoint
    upload: Endpoint
    ws: Endpoint
    processes: Processes
    details: str = ""
    """Anything about how it ran that the report should say (the event loops)."""


def _no_processes() -> dict[str, list[int]]:
    return {}


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _local(port: int) -> Endpoint:
    return Endpoint(port, f"127.0.0.1:{port}")


def direct_path(origins: Origins) -> PathUnderTest:
    """Straight to the origins."""
    return PathUnderTest(
        "direct",
        "direct",
        _local(origins.web_port),
        _local(origins.upload_port),
        _local(origins.ws_port),
        _no_processes,
    )


def _python_env(loop: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if loop is not None:
        env[LOOP_ENV] = loop
    return env


def hub_path(
    children: Children,
    work: Path,
    origins: Origins,
    python: str,
    loop: str | None,
    name: str = "hub",
) -> PathUnderTest:
    """Start ``jupyter-tunnels hub`` and a connector exposing the origins as public tunnels.

    ``loop`` (``asyncio`` or ``uvloop``) overrides the event loop both would choose; ``name``
    tells several such paths apart.
    """
    folder = work / name
    folder.mkdir()
    db = folder / "hub.db"
    # fmt: off
    hub = children.start(name, [
        python, "-m", "jupyter_tunnels.cli", "hub", "--host", "127.0.0.1", "--port", "0",
        "--db", str(db), "--domain", HUB_DOMAIN, "--tcp-ports", "none", "--log-level", "warning",
    ], env=_python_env(loop), cwd=folder)
    # fmt: on
    api = re.compile(r"API:\s+(http://\S+)/v1/")
    wait_until(
        lambda: api.search(hub.log_text()) is not None,
        timeout=STARTUP_TIMEOUT,
        what="jupyter-tunnels hub",
        child=hub,
    )
    match = api.search(hub.log_text())
    assert match is not None
    hub_url = match.group(1)
    hub_port = urlsplit(hub_url).port
    assert hub_port is not None
    token_file = folder / "admin-token"
    if not token_file.is_file():
        raise StartupError(f"the hub wrote no admin token at {token_file}:\n{hub.log_tail()}")

    script = Path(__file__).with_name("_connector_main.py")
    targets = {
        "web": origins.web_port,
        "upload": origins.upload_port,
        "ws": origins.ws_port,
    }
    connector = children.start(
        f"{name}-connector",
        [python, str(script), hub_url, str(token_file)]
        + [f"{name}={port}" for name, port in targets.items()],
        env=_python_env(loop),
    )

    def announced() -> dict[str, Any] | None:
        for line in connector.log_text().splitlines():
            if line.startswith("{"):
                found: dict[str, Any] = json.loads(line)
                return found
        return None

    wait_until(
        lambda: announced() is not None, timeout=STARTUP_TIMEOUT, what="connector", child=connector
    )
    connector_says = announced()
    assert connector_says is not None
    found_loop = re.search(r"event loop:\s+(\S+)", hub.log_text())
    hub_loop = found_loop.group(1) if found_loop else "asyncio"
    connector_loop = connector_says["loop"]
    loops = f"hub: {hub_loop}, connector: {connector_loop}"
    short = hub_loop if hub_loop == connector_loop else loops

    def endpoint(name: str) -> Endpoint:
        return Endpoint(hub_port, urlsplit(connector_says["urls"][name]).netloc)

    def processes() -> dict[str, list[int]]:
        return {"hub": [hub.pid], "connector": [connector.pid]}

    return PathUnderTest(
        name,
        f"jupyter-tunnels ({short})",
        endpoint("web"),
        endpoint("upload"),
        endpoint("ws"),
        processes,
        loops,
    )


SSHD_CONFIG = """\
ListenAddress 127.0.0.1:{port}
AddressFamily inet
HostKey {folder}/host_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding remote
GatewayPorts no
X11Forwarding no
PrintMotd no
UseDNS no
LogLevel ERROR
"""


def ssh_path(
    children: Children, work: Path, origins: Origins, tools: dict[str, str], cipher: str | None
) -> PathUnderTest:
    """Start an sshd on loopback with throwaway keys, then ``ssh -N -R`` for each origin.

    The remote ports are chosen by sshd (``-R 0:...``) and read from ssh's
    ``Allocated port`` messages. ``cipher`` (e.g. ``aes128-gcm@openssh.com``) replaces
    OpenSSH's default choice when given.
    """
    folder = work / "ssh"
    folder.mkdir()
    for key in ("host_key", "user_key"):
        subprocess.run(
            [tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)],
            check=True,
        )
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    port = free_port()
    conf = folder / "sshd_config"
    conf.write_text(SSHD_CONFIG.format(port=port, folder=folder))
    sshd = children.start("sshd", [tools["sshd"], "-D", "-e", "-f", str(conf)])
    wait_until(lambda: port_open(port), timeout=STARTUP_TIMEOUT, what="sshd", child=sshd)

    targets = [origins.web_port, origins.upload_port, origins.ws_port]
    # fmt: off
    argv = [
        tools["ssh"], "-N", "-T", "-F", "/dev/null", "-i", str(folder / "user_key"),
        "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes",
    ]
    # fmt: on
    if cipher:
        argv += ["-o", f"Ciphers={cipher}"]
    for target in targets:
        argv += ["-R", f"0:127.0.0.1:{target}"]
    argv.append(f"{getpass.getuser()}@127.0.0.1")
    client = children.start("ssh", argv)

    def allocated() -> dict[int, int]:
        return {int(t): int(p) for p, t in _ALLOCATED.findall(client.log_text())}

    wait_until(
        lambda: len(allocated()) == len(targets),
        timeout=STARTUP_TIMEOUT,
        what="ssh -R",
        child=client,
    )
    remote = allocated()
    wait_until(
        lambda: all(port_open(p) for p in remote.values()), timeout=STARTUP_TIMEOUT, what="ssh -R"
    )

    def processes() -> dict[str, list[int]]:
        return {"ssh": [client.pid], "sshd": descendants(sshd.pid)}

    label = f"ssh -R ({cipher})" if cipher else "ssh -R"
    return PathUnderTest(
        "ssh",
        label,
        _local(remote[origins.web_port]),
        _local(remote[origins.upload_port]),
        _local(remote[origins.ws_port]),
        processes,
    )
