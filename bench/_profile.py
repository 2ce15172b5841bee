"""Where a relay's processes spend their time under load: py-spy and strace.

Run on our paths: the standalone hub and its connector, and the embedded path's jupyter
server. For each load (64 keep-alive connections, a new connection per request, bulk
downloads) this records each of the path's processes with ``py-spy record --format raw
--nonblocking`` (Python frames only: native frames would need pausing the processes at every
sample) and counts their system calls with ``strace -c -f``, in two separate passes so that
strace's overhead does not spoil the profile. It writes the raw stacks, the strace tables and
``summary.txt`` (CPU% of each process, user and kernel, the functions with the most samples,
and system calls per request) into the folder given.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _measure import Resources, bulk_download, run_wrk, watch
from _origin import BULK_PATH, PAGE_PATH, Origins
from _paths import PathUnderTest

__all__ = ["profile_path"]

SAMPLE_RATE = 250
ATTACH_SECONDS = 1.5
TOP = 25
STRACE_ROWS = 12
TRACER_EXIT_SECONDS = 30
_LINE = re.compile(r":\d+\)$")

Load = Callable[[], int]
"""Runs one load for the planned time; returns how many requests it made."""


def _find(name: str) -> str | None:
    beside_python = Path(sys.executable).with_name(name)
    return str(beside_python) if beside_python.is_file() else shutil.which(name)


def _function(frame: str) -> str:
    """``name (file.py:123)`` without the line number, so a function's lines add up."""
    return _LINE.sub(")", frame.strip())


def summarize(raw: Path, top: int = TOP) -> list[str]:
    """Self and inclusive sample shares of the functions in a py-spy raw (collapsed) file."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames[1:]):  # frames[0] is the thread
            inclusive[frame] += count
    if total == 0:
        return ["  (no samples)"]
    lines = [f"  {total} samples; self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return lines


def _strace_table(path: Path, requests: int) -> list[str]:
    """The busiest system calls of an ``strace -c`` table, with calls per request."""
    lines: list[str] = []
    for row in path.read_text(errors="replace").splitlines():
        parts = row.split()
        if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1].isidentifier():
            calls = int(parts[3])
            per = f"{calls / requests:6.2f}/request" if requests else ""
            lines.append(f"    {parts[-1]:<16} {calls:>9} calls {per}  {parts[0]}% of time")
        if len(lines) >= STRACE_ROWS:
            break
    return lines


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    """Let a tracer write its output after SIGINT; kill it if it hangs."""
    try:
        process.wait(TRACER_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run(
    load: Load,
    processes: dict[str, list[int]],
    tracer: Callable[[str, int], list[str]],
) -> tuple[int, dict[str, tuple[float, float]], Resources]:
    tracers = [
        subprocess.Popen(tracer(role, pids[0]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for role, pids in processes.items()
    ]
    try:
        time.sleep(ATTACH_SECONDS)
        with watch(processes) as used:
            requests = load()
    finally:
        for tracer_process in tracers:
            if tracer_process.poll() is None:
                tracer_process.send_signal(signal.SIGINT)
        for tracer_process in tracers:
            _wait_or_kill(tracer_process)
    split = {
        role: (used.cpu_percent[role] - used.system_percent[role], used.system_percent[role])
        for role in processes
    }
    return requests, split, used


def profile_path(
    path: PathUnderTest,
    tools: dict[str, str],
    seconds: int,
    work: Path,
    origins: Origins,
    out: Path,
    say: Callable[[str], None],
) -> None:
    """Profile ``path``'s processes under each load; write everything into ``out``."""
    py_spy, strace = _find("py-spy"), shutil.which("strace")
    if py_spy is None:
        say("profile: py-spy is missing: pip install py-spy")
        return
    out.mkdir(parents=True, exist_ok=True)

    def wrk_load(connections: int, close: bool) -> Load:
        def load() -> int:
            result = run_wrk(
                tools["wrk"],
                path.web,
                PAGE_PATH,
                connections=connections,
                seconds=seconds,
                close=close,
                script_dir=work,
            )
            return result.requests

        return load

    def download_load() -> int:
        deadline, done = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            bulk_download(tools["curl"], path.web, BULK_PATH, origins.bulk_bytes)
            done += 1
        return done

    loads: dict[str, Load] = {
        "c64": wrk_load(64, close=False),
        "newconn": wrk_load(16, close=True),
        "download": download_load,
    }
    summary: list[str] = []
    processes = path.processes()
    for name, load in loads.items():
        say(f"profile: {path.label}, {name} under py-spy")

        def spy(role: str, pid: int, name: str = name) -> list[str]:
            raw = out / f"{name}-{role}.txt"
            # fmt: off
            return [
                py_spy, "record", "-p", str(pid), "-r", str(SAMPLE_RATE), "-f", "raw",
                "-o", str(raw), "--nonblocking", "-d", str(seconds + 5),
            ]
            # fmt: on

        requests, cpu, used = _run(load, processes, spy)
        unit = "downloads" if name == "download" else "requests"
        summary.append(
            f"== {name}: {requests} {unit} in {seconds} s under py-spy; the whole machine "
            f"{used.machine_busy_percent:.0f}% busy (100 per core)"
        )
        summary.append(
            "   busiest processes: "
            + ", ".join(f"{who} {percent:.0f}%" for who, percent in used.busiest)
        )
        for role in processes:
            user, system = cpu[role]
            summary.append(f"-- {role}: {user + system:.0f}% CPU ({system:.0f}% in the kernel)")
            raw = out / f"{name}-{role}.txt"
            summary += summarize(raw) if raw.is_file() else ["  (py-spy wrote nothing)"]
        if strace is None:
            continue
        say(f"profile: {path.label}, {name} under strace")

        def trace(role: str, pid: int, name: str = name) -> list[str]:
            return [strace, "-c", "-f", "-o", str(out / f"{name}-{role}.strace"), "-p", str(pid)]

        requests, _, _ = _run(load, processes, trace)
        summary.append(f"== {name}: system calls ({requests} {unit} under strace)")
        for role in processes:
            table = out / f"{name}-{role}.strace"
            summary.append(f"-- {role}")
            summary += _strace_table(table, requests) if table.is_file() else ["    (none)"]
    (out / "summary.txt").write_text("\n".join(summary) + "\n")
    say(f"profile: wrote {out}/summary.txt")
