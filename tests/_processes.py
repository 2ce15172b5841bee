"""Child processes of the ``jupyter-tunnels`` command, with their output collected as it comes."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CLI = (sys.executable, "-m", "jupyter_tunnels.cli")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
API_LINE = re.compile(r"API:\s+(?P<url>http://\S+)/v1/")
READY_LINE = re.compile(r"Stop with Ctrl-C")
ENV_APP = str(Path(__file__).parent / "_env_app.py")
"""The app of ``run``'s tests (tests/_env_app.py): it serves back the environment it got."""


def process_gone(pid: int, wait: float = 30.0) -> bool:
    """Whether the process ``pid`` is gone within ``wait`` seconds (polled)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


class CliHub:
    """A long-running ``jupyter-tunnels`` process (``hub``, ``demo``, ``expose``)."""

    def __init__(self, env: dict[str, str], *args: str, prefix: tuple[str, ...] = ()) -> None:
        """Start ``jupyter-tunnels args...``, behind ``prefix`` if given (``ip netns exec NS``)."""
        self.process = subprocess.Popen(
            [*prefix, *CLI, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            self._fresh.put(line)
        self._fresh.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr_lines.extend(self.process.stderr)

    @property
    def stdout(self) -> str:
        """Everything printed on stdout so far."""
        return "".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        """Everything printed on stderr so far."""
        return "".join(self.stderr_lines)

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern``; fail with the output if none comes."""
        while True:
            try:
                line = self._fresh.get(timeout=START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern.pattern!r}; stdout:\n{self.stdout}")
            if line is None:
                self.process.wait(STOP_TIMEOUT)
                pytest.fail(f"exited with {self.process.returncode}; stderr:\n{self.stderr}")
            match = pattern.search(line)
            if match is not None:
                return match

    def wait_until_ready(self) -> str:
        """Wait until the banner is out and return the hub's base URL."""
        url = self.wait_for(API_LINE)["url"]
        self.wait_for(READY_LINE)
        return url

    def stop(self, signum: signal.Signals = signal.SIGINT) -> int:
        """Send ``signum``, wait for the process to end, and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(STOP_TIMEOUT)
        finally:
            self.kill()
        return code

    def kill(self) -> None:
        """Make sure the process is gone and its output read."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        for reader in self._readers:
            reader.join(STOP_TIMEOUT)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop a child process: SIGTERM (it may shut down cleanly), then SIGKILL; wait for it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
