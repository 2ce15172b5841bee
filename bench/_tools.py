"""What the benchmark needs from the machine, and the child processes it starts.

Every child runs in its own process group (``start_new_session``) with its output in a log
file, and :meth:`Children.stop_all` ends each group (SIGTERM, then SIGKILL) whatever happened,
so a failed or interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "APT_PACKAGES",
    "Child",
    "Children",
    "StartupError",
    "check_tools",
    "free_port",
    "port_open",
    "wait_until",
]

APT_PACKAGES: dict[str, str] = {
    "nginx": "nginx-light",
    "wrk": "wrk",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "curl": "curl",
}
"""Each tool the benchmark runs, and the Debian package that brings it."""
SBIN_DIRS = ("/usr/sbin", "/sbin")
STOP_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.05
LOG_TAIL_CHARS = 2000


class StartupError(RuntimeError):
    """A server of the benchmark did not come up; the message says which and why."""


def find_tool(name: str) -> str | None:
    """The absolute path of ``name`` on PATH or in the sbin folders, or None."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def check_tools(*, install: bool) -> dict[str, str]:
    """Return ``{tool: path}``; install what is missing with apt-get if ``install``.

    Without ``install``, a missing tool ends the run with the command that brings it.
    """
    missing = [tool for tool in APT_PACKAGES if find_tool(tool) is None]
    if missing and install:
        packages = sorted({APT_PACKAGES[tool] for tool in missing})
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", *packages], check=True)
        missing = [tool for tool in APT_PACKAGES if find_tool(tool) is None]
    if missing:
        needed = " ".join(sorted({APT_PACKAGES[tool] for tool in missing}))
        raise SystemExit(
            f"bench: missing {', '.join(missing)}: install with "
            f"`apt-get install -y {needed}` (or run again with --install)"
        )
    return {tool: path for tool in APT_PACKAGES if (path := find_tool(tool)) is not None}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Child:
    """A process started by the benchmark, in its own process group, logging to a file."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None

    def log_text(self) -> str:
        """Everything the process wrote so far (stdout and stderr together)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self) -> str:
        """The end of the log, for error messages."""
        return self.log_text()[-LOG_TAIL_CHARS:]

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not ended in time."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE_SECONDS)
        # Children of the child (sshd's session processes) may outlive it: end the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_GRACE_SECONDS)


class Children:
    """Every process the benchmark started; :meth:`stop_all` ends them, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start ``argv`` in a new process group, its output going to ``<log_dir>/<name>.log``."""
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self._children.append(child)
        return child

    def stop(self, child: Child) -> None:
        """Stop one child now."""
        child.stop()
        if child in self._children:
            self._children.remove(child)

    def stop_all(self) -> None:
        """Stop every child, newest first; never raises for one that already ended."""
        while self._children:
            self._children.pop().stop()


def wait_until(
    ready: Callable[[], bool], *, timeout: float, what: str, child: Child | None = None
) -> None:
    """Poll ``ready`` until it is true; raise :class:`StartupError` on timeout or exit."""
    deadline = time.monotonic() + timeout
    while not ready():
        if child is not None and not child.running():
            raise StartupError(
                f"{what}: {child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = f":\n{child.log_tail()}" if child is not None else ""
            raise StartupError(f"{what}: not ready after {timeout:.0f} s{tail}")
        time.sleep(POLL_SECONDS)
