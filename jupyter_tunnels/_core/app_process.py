"""An app started by ``run``: its process group, its log file, and the wait for its port.

The app runs in a session (a process group) of its own, so stopping it stops what it started
too (Streamlit's and uvicorn's reloaders, ``npm``'s children): ``SIGTERM`` to the group, then
``SIGKILL`` after :data:`STOP_GRACE` seconds. Its output (stdout and stderr) goes to a log
file, never to the terminal or the notebook; :meth:`AppProcess.tail` reads its end, and every
error about the app quotes it.

Blocking and asyncio waits are both here: the kernel's ``%tunnel run`` waits in a cell, the
command line on its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import TunnelError
from .probe import aaccepts, accepts

__all__ = [
    "LOG_TAIL_LINES",
    "READY_TIMEOUT",
    "STOP_GRACE",
    "AppFailed",
    "AppProcess",
    "free_port",
]

READY_TIMEOUT = 60.0
"""Seconds an app may take to listen on its port (Streamlit and MLflow take a few)."""
STOP_GRACE = 5.0
"""Seconds between ``SIGTERM`` and ``SIGKILL`` when an app is stopped."""
POLL_INTERVAL = 0.1
"""Seconds between two looks at the port while waiting for the app."""
CONNECT_TIMEOUT = 1.0
"""Seconds one look at the port may take."""
LOG_TAIL_LINES = 20
"""Lines of the log quoted in an error."""
LOG_TAIL_BYTES = 64 * 1024
"""The most of the log's end read for a tail (a chatty app's log may be large)."""


class AppFailed(TunnelError):
    """The app could not be started, exited, or never listened on its port."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now (the app is told to take it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class AppProcess:
    """A running app; make it with :meth:`start`, end it with :meth:`stop`."""

    def __init__(self, popen: subprocess.Popen[bytes], argv: Sequence[str], log_path: Path):
        self.popen = popen
        self.argv = tuple(argv)
        self.log_path = log_path

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        cwd: str | None = None,
    ) -> AppProcess:
        """Start ``argv`` with ``env``, its output appended to ``log_path``.

        :raises AppFailed: the program does not exist or cannot be run.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            try:
                popen = subprocess.Popen(
                    list(argv),
                    env=dict(env),
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except FileNotFoundError:
                raise AppFailed(
                    f"cannot run {argv[0]!r}: no such program (is it installed in this "
                    "environment, and on PATH?)"
                ) from None
            except PermissionError:
                raise AppFailed(f"cannot run {argv[0]!r}: it is not executable") from None
        return cls(popen, argv, log_path)

    @property
    def pid(self) -> int:
        """The app's process id (also its process group's)."""
        return self.popen.pid

    @property
    def command(self) -> str:
        """The command line, as a shell would show it."""
        return shlex.join(self.argv)

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (negative: killed by that signal), else None."""
        return self.popen.poll()

    def exit_reason(self) -> str:
        """``the app exited with code 3`` (or ``was killed by SIGKILL``), for its tunnel."""
        code = self.returncode
        if code is not None and code < 0:
            return f"the app ({self.argv[0]}) was killed by {signal.Signals(-code).name}"
        return f"the app ({self.argv[0]}) exited with code {code}"

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the app's log (empty when it wrote nothing)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> AppFailed:
        """An :class:`AppFailed` saying ``what`` happened, with the log's path and tail."""
        tail = self.tail()
        quoted = f"; the last lines of its log:\n{tail}" if tail else " (its log is empty)"
        return AppFailed(f"{self.command}: {what}; log: {self.log_path}{quoted}")

    def wait_listening(self, host: str, port: int, timeout: float = READY_TIMEOUT) -> None:
        """Block until ``host:port`` accepts a connection.

        :raises AppFailed: the app exited first, or ``timeout`` passed (the app is left
            running: the caller stops it).
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.returncode is not None:
                raise self.failure(f"{self.exit_reason()} before listening on {host}:{port}")
            if accepts(host, port, CONNECT_TIMEOUT):
                return
            if time.monotonic() >= deadline:
                raise self.failure(f"nothing listened on {host}:{port} within {timeout:g} s")
            time.sleep(POLL_INTERVAL)

    async def await_listening(self, host: str, port: int, timeout: float = READY_TIMEOUT) -> None:
        """:meth:`wait_listening` on the running event loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.returncode is not None:
                raise self.failure(f"{self.exit_reason()} before listening on {host}:{port}")
            if await aaccepts(host, port, CONNECT_TIMEOUT):
                return
            if loop.time() >= deadline:
                raise self.failure(f"nothing listened on {host}:{port} within {timeout:g} s")
            await asyncio.sleep(POLL_INTERVAL)

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """Stop the app and its process group (blocking, at most ``grace`` seconds and a
        little); its exit code. Stopping a stopped app does nothing."""
        if self.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.popen.wait()
        self._signal(signal.SIGKILL)  # what it started and left behind
        return self.returncode

    async def astop(self, grace: float = STOP_GRACE) -> int | None:
        """:meth:`stop` without blocking the running loop."""
        return await asyncio.to_thread(self.stop, grace)

    async def await_exit(self) -> int:
        """Wait for the app to exit (by itself or stopped); its exit code."""
        return await asyncio.to_thread(self.popen.wait)

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)
