"""Benchmark jupyter-tunnels (standalone hub, and embedded in jupyter server) side by side with
a direct connection, ssh -R and jupyter-server-proxy, in one run.

    python bench/run.py [--quick] [--rounds N] [--markdown out.md] [--json out.json]

See bench/README.md for what it needs and what it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from _jupyter_paths import embedded_path, ensure_jsp_venv, jsp_path
from _machine import describe, load_average
from _measure import bulk_download, bulk_upload, memory_kib, run_wrk, watch, ws_round_trips
from _origin import BULK_PATH, PAGE_PATH, UPLOAD_PATH, Origins, start_origins
from _paths import PathUnderTest, direct_path, hub_path, ssh_path
from _report import (
    COMPARED,
    Memory,
    Results,
    compared,
    markdown_report,
    result_rows,
    text_table,
    versus_rows,
)
from _targets import TITLE, judge, verdict_rows, verdicts_text
from _tools import Children, StartupError, check_tools

PATH_NAMES = ("direct", "hub", "ssh", "embedded", "jsp")
PROFILED = ("hub", "embedded")
"""The paths ``--profile`` profiles (those of jupyter-tunnels), when they ran."""
LOOPS = ("default", "asyncio", "uvloop")
SETTLE_SECONDS = 2.0
ERROR_SHARE = 0.01
"""Report wrk errors when more than this share of requests failed."""
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Plan:
    """How long and how much to measure."""

    rounds: int
    seconds: int
    """Length of each wrk run (wrk takes whole seconds)."""
    warmup: int
    ws_messages: int
    bulk_bytes: int


FULL = Plan(rounds=3, seconds=5, warmup=1, ws_messages=2000, bulk_bytes=256 * MIB)
QUICK = Plan(rounds=1, seconds=2, warmup=1, ws_messages=300, bulk_bytes=64 * MIB)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (smoke test)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--markdown", type=Path, help="write the report as Markdown here")
    parser.add_argument("--json", type=Path, help="write every measured value as JSON here")
    parser.add_argument(
        "--paths",
        default=",".join(PATH_NAMES),
        help=f"comma-separated paths to measure (default {','.join(PATH_NAMES)})",
    )
    parser.add_argument(
        "--ssh-cipher", help="e.g. aes128-gcm@openssh.com (default: OpenSSH's own choice)"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Python that runs the hub, the connector and the embedded jupyter server "
        "(default: this one)",
    )
    parser.add_argument(
        "--loops",
        default="default",
        help="event loops to run our hub and connector on, comma-separated, each a path of "
        "its own: default (uvloop if installed), asyncio, uvloop; the first one is judged "
        "against the targets (default: default)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path.home() / ".cache" / "jupyter-tunnels-bench",
        help="where the jupyter-server-proxy venv is kept",
    )
    parser.add_argument("--install", action="store_true", help="apt-get install the missing tools")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="afterwards, profile the hub and the connector, and the embedded jupyter server, "
        "under load with py-spy and strace into DIR/<path>/",
    )
    args = parser.parse_args(argv)
    args.paths = [p for p in args.paths.split(",") if p]
    unknown = set(args.paths) - set(PATH_NAMES)
    if unknown or "direct" not in args.paths:
        parser.error(f"--paths takes direct plus any of {', '.join(PATH_NAMES[1:])}")
    args.loops = [loop for loop in args.loops.split(",") if loop]
    if not args.loops or set(args.loops) - set(LOOPS) or len(set(args.loops)) < len(args.loops):
        parser.error(f"--loops takes distinct values among {', '.join(LOOPS)}")
    return args


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _relay_memory(path: PathUnderTest) -> tuple[int, int, dict[str, int]]:
    """RSS, PSS (KiB, every process added) and RSS by role."""
    rss = pss = 0
    by_role: dict[str, int] = {}
    for role, pids in path.processes().items():
        usage = [memory_kib(pid) for pid in pids]
        by_role[role] = sum(u[0] for u in usage)
        rss += by_role[role]
        pss += sum(u[1] for u in usage)
    return rss, pss, by_role


class Bench:
    """One run: the paths, the plan, and the results so far."""

    def __init__(
        self,
        plan: Plan,
        tools: dict[str, str],
        work: Path,
        origins: Origins,
        paths: list[PathUnderTest],
    ) -> None:
        self.plan = plan
        self.tools = tools
        self.work = work
        self.origins = origins
        self.paths = paths
        self.results = Results({p.name: p.label for p in paths})
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        """Progress, with the time since the start."""
        print(f"[{time.monotonic() - self.started:6.1f} s] {message}", flush=True)

    def run(self) -> Results:
        """Idle memory, the rounds in rotating order, then idle memory again."""
        time.sleep(SETTLE_SECONDS)
        for path in self.paths:
            if path.processes():
                idle = self.results.memory[path.name] = Memory()
                idle.idle_rss, idle.idle_pss, idle.by_role_idle_rss = _relay_memory(path)
        for round_index in range(self.plan.rounds):
            shift = round_index % len(self.paths)
            order = self.paths[shift:] + self.paths[:shift]
            for path in order:
                self.say(f"round {round_index + 1}/{self.plan.rounds}: {path.label}")
                self.measure(path)
        time.sleep(SETTLE_SECONDS)
        for path in self.paths:
            memory = self.results.memory.get(path.name)
            if memory is not None:
                memory.end_idle_rss, memory.end_idle_pss, _ = _relay_memory(path)
        return self.results

    def _wrk(self, path: PathUnderTest, key: str, connections: int, close: bool) -> None:
        """One wrk measurement; a failure is recorded, and the run goes on."""
        try:
            self._wrk_once(path, key, connections, close)
        except Exception as exc:  # one failed metric must not end the run
            self.results.fail(path.name, key, repr(exc))

    def _wrk_once(self, path: PathUnderTest, key: str, connections: int, close: bool) -> None:
        plan, results = self.plan, self.results
        processes = path.processes()
        # The latency run is left unobserved: sampling memory costs CPU at the wrong moment.
        with watch(processes if connections > 1 else {}) as used:
            result = run_wrk(
                self.tools["wrk"],
                path.web,
                PAGE_PATH,
                connections=connections,
                seconds=plan.seconds,
                close=close,
                script_dir=self.work,
            )
        if key == "rps_c64":
            results.busiest[path.name] = used.busiest
        if connections > 1:
            results.machine_load(path.name, key, used)
        good = result.requests - result.errors
        if result.errors > ERROR_SHARE * max(1, result.requests):
            results.fail(path.name, key, f"{result.errors} errors in {result.requests} requests")
        if good <= 0:
            return
        if connections == 1:
            results.add(path.name, "p50_us", result.p50_us)
            results.add(path.name, "p99_us", result.p99_us)
            return
        results.add(path.name, key, result.good_per_second)
        if not processes:
            return
        cpu_key = "cpu_c64_us" if key == "rps_c64" else "cpu_close_us"
        results.add(path.name, cpu_key, used.cpu_seconds * 1e6 / good)
        memory = results.memory[path.name]
        memory.load_peak_rss = max(memory.load_peak_rss, sum(used.peak_rss_kib.values()))
        if key == "rps_c64":
            for role, percent in used.cpu_percent.items():
                memory.cpu_percent.setdefault(role, []).append(percent)

    def measure(self, path: PathUnderTest) -> None:
        """Every metric once for ``path``; a failing metric is recorded and the rest go on."""
        plan, results, tools = self.plan, self.results, self.tools
        run_wrk(
            tools["wrk"],
            path.web,
            PAGE_PATH,
            connections=8,
            seconds=plan.warmup,
            close=False,
            script_dir=self.work,
        )
        for key, connections, close in (
            ("latency", 1, False),
            ("rps_c64", 64, False),
            ("rps_close", 16, True),
        ):
            self._wrk(path, key, connections, close)
        size = self.origins.bulk_bytes
        with watch(path.processes()) as used:
            download = bulk_download(tools["curl"], path.web, BULK_PATH, size)
            upload = bulk_upload(
                tools["curl"],
                path.upload,
                UPLOAD_PATH,
                self.origins.bulk_file,
                size,
                self.work / "upload-answer.txt",
            )
        results.machine_load(path.name, "bulk", used)
        for key, transfer in (("download", download), ("upload", upload)):
            if transfer.mb_per_s is None:
                results.fail(path.name, key, transfer.error or "failed")
            else:
                results.add(path.name, key, transfer.mb_per_s)
        memory = results.memory.get(path.name)
        if memory is not None:
            memory.bulk_peak_rss = max(memory.bulk_peak_rss, sum(used.peak_rss_kib.values()))
            time.sleep(1.0)
            rss, pss, _ = _relay_memory(path)
            memory.after_bulk_rss.append(rss)
            memory.after_bulk_pss.append(pss)
        try:
            median, p99 = ws_round_trips(path.ws, plan.ws_messages)
        except Exception as exc:  # as above
            results.fail(path.name, "ws_p50_us", repr(exc))
        else:
            results.add(path.name, "ws_p50_us", median)
            results.add(path.name, "ws_p99_us", p99)


def start_paths(
    args: argparse.Namespace,
    children: Children,
    work: Path,
    origins: Origins,
    tools: dict[str, str],
    jsp_venv: Path | None,
) -> list[PathUnderTest]:
    """Start every path that was asked for."""
    paths = [direct_path(origins)]
    if "hub" in args.paths:
        for index, loop in enumerate(args.loops):
            name = "hub" if index == 0 else f"hub-{loop}"
            choice = None if loop == "default" else loop
            paths.append(hub_path(children, work, origins, args.python, choice, name))
    if "ssh" in args.paths:
        paths.append(ssh_path(children, work, origins, tools, args.ssh_cipher))
    if "embedded" in args.paths:
        paths.append(embedded_path(children, work, origins, args.python))
    if jsp_venv is not None:
        paths.append(jsp_path(children, work, origins, jsp_venv))
    return paths


def main(argv: list[str]) -> int:
    """Run the benchmark; print the table; write the reports asked for."""
    try:
        return _main(parse_args(argv))
    except StartupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = dataclasses.replace(plan, rounds=args.rounds)
    tools = check_tools(install=args.install)
    jsp_venv = ensure_jsp_venv(args.cache_dir) if "jsp" in args.paths else None
    environment = describe(tools, args.python)
    _stop_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix="jupyter-tunnels-bench-"))
    (work / "logs").mkdir()
    children = Children(work / "logs")
    try:
        origins = start_origins(children, work, tools["nginx"], plan.bulk_bytes)
        paths = start_paths(args, children, work, origins, tools, jsp_venv)
        environment += [(f"{p.label}", p.details) for p in paths if p.details]
        bench = Bench(plan, tools, work, origins, paths)
        results = bench.run()
        environment.append(("load average at the end", load_average()))
        environment.append(
            (
                "plan",
                f"{plan.rounds} rounds, {plan.seconds:g} s per wrk run, "
                f"{plan.bulk_bytes // MIB} MiB bulk, {plan.ws_messages} WebSocket messages",
            )
        )
        environment.append(("duration", f"{time.monotonic() - bench.started:.0f} s"))
        if args.profile is not None:
            from _profile import profile_path

            for profiled in (p for p in paths if p.name in PROFILED):
                out = args.profile / profiled.name
                profile_path(profiled, tools, plan.seconds, work, origins, out, bench.say)
    finally:
        children.stop_all()
        if args.keep:
            print(f"bench: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    verdicts = judge(results, plan.bulk_bytes)
    print()
    print(text_table(result_rows(results)))
    if compared(results):
        print()
        print(text_table(versus_rows(results, *COMPARED)))
    print(f"\n{TITLE}:")
    print(verdicts_text(verdicts))
    for line in results.disturbances():
        print(f"  disturbed: {line}: run again when the host is quieter")
    for path, by_key in results.errors.items():
        for key, reasons in by_key.items():
            print(f"  note: {results.labels[path]}, {key}: {'; '.join(reasons)}")
    if args.markdown:
        report = markdown_report(results, environment, (TITLE, verdict_rows(verdicts)))
        args.markdown.write_text(report)
        print(f"\nwrote {args.markdown}")
    if args.json:
        data = {
            "environment": dict(environment),
            "values": results.values,
            "errors": results.errors,
            "memory": {k: dataclasses.asdict(v) for k, v in results.memory.items()},
            "busiest": results.busiest,
            "machine": results.machine,
            "targets": [dataclasses.asdict(v) for v in verdicts],
        }
        args.json.write_text(json.dumps(data, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
