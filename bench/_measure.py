"""The measurements: wrk runs, bulk transfers with curl, WebSocket echo round trips, and the
CPU and memory of a path's relay processes while they run.

Every path is measured with the same tools: wrk (one thread) for requests, curl for bulk
transfers (``-o /dev/null`` for downloads; ``-T FILE -X POST`` for uploads, which streams the
file with a ``Content-Length``), and the ``websockets`` client for round trips.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import connect

from _paths import Endpoint

__all__ = [
    "Resources",
    "Transfer",
    "WrkResult",
    "bulk_download",
    "bulk_upload",
    "memory_kib",
    "run_wrk",
    "watch",
    "ws_round_trips",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.1
WRK_TIMEOUT = "5s"
TRANSFER_TIMEOUT = 120
WS_MESSAGE = b"x" * 64
WS_WARMUP = 50
TOP_PROCESSES = 8
COMMAND_CHARS = 40
MIN_BUSY_PERCENT = 1.0

WRK_SCRIPT = """\
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"connect\\":%.0f," ..
    "\\"read\\":%.0f,\\"write\\":%.0f,\\"status\\":%.0f,\\"timeout\\":%.0f," ..
    "\\"p50_us\\":%.0f,\\"p99_us\\":%.0f}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    requests: int
    seconds: float
    errors: int
    """Connect, read, write and timeout errors, plus non-2xx/3xx answers."""
    p50_us: float
    p99_us: float

    @property
    def good_per_second(self) -> float:
        """Requests answered 2xx/3xx per second."""
        return max(0, self.requests - self.errors) / self.seconds


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    wrk: str,
    endpoint: Endpoint,
    path: str,
    *,
    connections: int,
    seconds: int,
    close: bool,
    script_dir: Path,
) -> WrkResult:
    """Run wrk with one thread against ``endpoint``; ``close`` sends ``Connection: close``."""
    headers = [*endpoint.all_headers(), *([("Connection", "close")] if close else [])]
    lines = [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers]
    script = script_dir / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    script.write_text(WRK_SCRIPT.format(headers="\n".join(lines)))
    # fmt: off
    argv = [
        wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", WRK_TIMEOUT,
        "-s", str(script), endpoint.url(path),
    ]
    # fmt: on
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
    script.unlink()
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                errors=int(errors),
                p50_us=float(data["p50_us"]),
                p99_us=float(data["p99_us"]),
            )
    raise RuntimeError(f"wrk gave no result: {result.stdout[-500:]} {result.stderr[-500:]}")


@dataclasses.dataclass(frozen=True)
class Transfer:
    """One bulk transfer: its speed, or why it failed."""

    mb_per_s: float | None
    error: str | None = None


def _curl_headers(endpoint: Endpoint) -> list[str]:
    args: list[str] = []
    for name, value in endpoint.all_headers():
        args += ["-H", f"{name}: {value}"]
    return args


def bulk_download(curl: str, endpoint: Endpoint, path: str, size: int) -> Transfer:
    """GET ``path`` into /dev/null with curl; MB/s (10^6 bytes) over the whole transfer."""
    # fmt: off
    argv = [
        curl, "-sS", "-o", "/dev/null", "--max-time", str(TRANSFER_TIMEOUT),
        "-w", "%{http_code} %{size_download} %{time_total}", *_curl_headers(endpoint),
        endpoint.url(path),
    ]
    # fmt: on
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=TRANSFER_TIMEOUT + 10, check=False
    )
    try:
        status, received, seconds = result.stdout.split()
    except ValueError:
        return Transfer(None, f"curl: {result.stderr.strip()[:200]}")
    if status != "200" or int(received) != size:
        detail = result.stderr.strip()[:200]
        return Transfer(None, f"HTTP {status}, {int(received)} of {size} bytes {detail}".strip())
    return Transfer(size / float(seconds) / 1e6)


def bulk_upload(
    curl: str, endpoint: Endpoint, path: str, body: Path, size: int, answer: Path
) -> Transfer:
    """POST ``body`` (streamed, with ``Content-Length``) and check the sink read all of it."""
    # fmt: off
    argv = [
        curl, "-sS", "-X", "POST", "-T", str(body), "-H", "Expect:",
        "-H", "Content-Type: application/octet-stream",
        "-o", str(answer), "--max-time", str(TRANSFER_TIMEOUT),
        "-w", "%{http_code} %{size_upload} %{time_total}", *_curl_headers(endpoint),
        endpoint.url(path),
    ]
    # fmt: on
    answer.unlink(missing_ok=True)
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=TRANSFER_TIMEOUT + 10, check=False
    )
    try:
        status, _sent, seconds = result.stdout.split()
    except ValueError:
        return Transfer(None, f"curl: {result.stderr.strip()[:200]}")
    read = answer.read_text(errors="replace").strip() if answer.exists() else ""
    if status != "200" or read != str(size):
        return Transfer(None, f"HTTP {status}, the sink read {read[:80]!r} of {size} bytes")
    return Transfer(size / float(seconds) / 1e6)


def ws_round_trips(endpoint: Endpoint, messages: int) -> tuple[float, float]:
    """Median and 99th-percentile round trip (µs) of ``messages`` echoes of 64 bytes."""
    sock = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    uri = f"ws://{endpoint.host}{endpoint.prefix}/"
    samples: list[float] = []
    with connect(
        uri,
        sock=sock,
        additional_headers=list(endpoint.headers),
        compression=None,
        open_timeout=10,
    ) as ws:
        for index in range(WS_WARMUP + messages):
            started = time.perf_counter()
            ws.send(WS_MESSAGE)
            echoed = ws.recv(timeout=10)
            elapsed = time.perf_counter() - started
            if echoed != WS_MESSAGE:
                raise RuntimeError("the WebSocket echo answered something else")
            if index >= WS_WARMUP:
                samples.append(elapsed * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


# --- CPU and memory of the relay processes -------------------------------------------------


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of ``pid`` so far (zeros if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0, 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def _cpu(pids: list[int]) -> tuple[float, float]:
    times = [cpu_seconds(pid) for pid in pids]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def memory_kib(pid: int) -> tuple[int, int]:
    """RSS and PSS of ``pid`` in KiB, from /proc/<pid>/smaps_rollup ((0, 0) if gone)."""
    rss = pss = 0
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def machine_ticks() -> tuple[int, int, int]:
    """Busy, steal and total CPU ticks of the whole machine so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + steal + idle + iowait


def _reaped_children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def all_process_ticks() -> dict[int, tuple[str, int]]:
    """``{pid: (name, user+system ticks)}`` of every process now."""
    found: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        found[int(entry)] = (_describe(entry, stat), int(fields[11]) + int(fields[12]))
    return found


def _describe(pid: str, stat: str) -> str:
    """``name[pid]``, with the first arguments of the command line: who is this process."""
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    words = [Path(a.decode(errors="replace")).name for a in argv[1:4] if a]
    return f"{name}[{pid}]" + (f" {' '.join(words)}"[:COMMAND_CHARS] if words else "")


def busiest(
    before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], seconds: float
) -> list[tuple[str, float]]:
    """``(name[pid], CPU%)`` of the processes that used the most CPU in between."""
    used = []
    for pid, (name, ticks) in after.items():
        start = before.get(pid, (name, 0))[1]
        percent = 100.0 * (ticks - start) / CLOCK_TICKS / seconds if seconds > 0 else 0.0
        used.append((name, percent))
    return sorted(used, key=lambda item: -item[1])[:TOP_PROCESSES]


@dataclasses.dataclass
class Resources:
    """What a path's relay processes used during one measurement, by role."""

    cpu_percent: dict[str, float] = dataclasses.field(default_factory=dict)
    """CPU time over wall time, per role (100 = one core busy)."""
    system_percent: dict[str, float] = dataclasses.field(default_factory=dict)
    """The part of ``cpu_percent`` spent in the kernel."""
    peak_rss_kib: dict[str, int] = dataclasses.field(default_factory=dict)
    peak_pss_kib: dict[str, int] = dataclasses.field(default_factory=dict)
    cpu_seconds: float = 0.0
    """All roles together."""
    machine_busy_percent: float = 0.0
    """The whole machine's busy CPU (every process, the kernel), 100 per core."""
    machine_steal_percent: float = 0.0
    """CPU the hypervisor gave to others (a sign of a noisy neighbour), 100 per core."""
    busiest: list[tuple[str, float]] = dataclasses.field(default_factory=list)
    """The processes of the whole machine that used the most CPU (CPU%), our own or not."""


@contextmanager
def watch(processes: dict[str, list[int]]) -> Iterator[Resources]:
    """Measure CPU use and peak memory of ``processes`` while the ``with`` block runs."""
    found = Resources()
    started = time.monotonic()
    cpu_start = {role: _cpu(pids) for role, pids in processes.items()}
    busy_start, steal_start, total_start = machine_ticks()
    every_start = all_process_ticks()
    reaped_start = _reaped_children_cpu()
    stop = threading.Event()

    def sample() -> None:
        while True:
            for role, pids in processes.items():
                usage = [memory_kib(pid) for pid in pids]
                rss, pss = sum(u[0] for u in usage), sum(u[1] for u in usage)
                found.peak_rss_kib[role] = max(found.peak_rss_kib.get(role, 0), rss)
                found.peak_pss_kib[role] = max(found.peak_pss_kib.get(role, 0), pss)
            if stop.wait(SAMPLE_SECONDS):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        stop.set()
        sampler.join()
        wall = time.monotonic() - started
        busy, steal, total = machine_ticks()
        found.busiest = busiest(every_start, all_process_ticks(), wall)
        # wrk and curl have ended (so /proc no longer shows them); their CPU is in our rusage.
        load = 100.0 * (_reaped_children_cpu() - reaped_start) / wall if wall > 0 else 0.0
        found.busiest.append(("load generator (wrk or curl)", load))
        found.busiest = sorted(
            (item for item in found.busiest if item[1] >= MIN_BUSY_PERCENT), key=lambda i: -i[1]
        )
        cores = os.cpu_count() or 1
        if total > total_start:
            share = 100.0 * cores / (total - total_start)
            found.machine_busy_percent = (busy - busy_start) * share
            found.machine_steal_percent = (steal - steal_start) * share
        for role, pids in processes.items():
            user, system = _cpu(pids)
            user -= cpu_start[role][0]
            system -= cpu_start[role][1]
            found.cpu_seconds += user + system
            found.cpu_percent[role] = 100.0 * (user + system) / wall if wall > 0 else 0.0
            found.system_percent[role] = 100.0 * system / wall if wall > 0 else 0.0
