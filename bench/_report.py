"""Turning the rounds into tables: medians, ratios to direct, the embedded path beside
jupyter-server-proxy, memory and CPU. The targets are judged in ``_targets.py``.

Every figure is the median over the rounds; a ratio divides two medians. A ratio above 1 is
better for rates and worse for latencies and CPU.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Sequence

from _measure import Resources

__all__ = [
    "COMPARED",
    "METRICS",
    "Memory",
    "Metric",
    "Results",
    "compared",
    "markdown_report",
    "result_rows",
    "text_table",
    "versus_rows",
]

MIB = 1024
COMPARED = ("embedded", "jsp")
"""The two paths inside jupyter server, shown side by side with the ratio between them."""
STEAL_WARNING_PERCENT = 5.0
"""More steal than this (100 per core) during a measurement marks the run as disturbed."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """One row of the table."""

    key: str
    label: str
    digits: int = 0


METRICS = (
    Metric("p50_us", "HTTP latency p50 at c1, keep-alive (µs)"),
    Metric("p99_us", "HTTP latency p99 at c1, keep-alive (µs)"),
    Metric("rps_c64", "requests/s at c64, keep-alive"),
    Metric("rps_close", "requests/s, new connection per request (c16)"),
    Metric("download", "bulk download (MB/s)"),
    Metric("upload", "bulk upload (MB/s)"),
    Metric("ws_p50_us", "WebSocket echo round trip p50 (µs)"),
    Metric("ws_p99_us", "WebSocket echo round trip p99 (µs)"),
    Metric("cpu_c64_us", "relay CPU per request at c64 (µs)", 1),
    Metric("cpu_close_us", "relay CPU per request, new connections (µs)", 1),
)


@dataclasses.dataclass
class Memory:
    """Memory of one path's relay processes (KiB, all roles added), at the moments that count."""

    idle_rss: int = 0
    idle_pss: int = 0
    load_peak_rss: int = 0
    bulk_peak_rss: int = 0
    after_bulk_rss: list[int] = dataclasses.field(default_factory=list)
    after_bulk_pss: list[int] = dataclasses.field(default_factory=list)
    end_idle_rss: int = 0
    end_idle_pss: int = 0
    by_role_idle_rss: dict[str, int] = dataclasses.field(default_factory=dict)
    cpu_percent: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    """CPU% of each role during the c64 run, one value per round."""


@dataclasses.dataclass
class Results:
    """Every round's values, per path and metric; failures keep their reason."""

    labels: dict[str, str]
    values: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    errors: dict[str, dict[str, list[str]]] = dataclasses.field(default_factory=dict)
    memory: dict[str, Memory] = dataclasses.field(default_factory=dict)
    busiest: dict[str, list[tuple[str, float]]] = dataclasses.field(default_factory=dict)
    """Per path, the machine's busiest processes during its last c64 run (CPU%)."""
    machine: dict[str, list[tuple[str, float, float]]] = dataclasses.field(default_factory=dict)
    """Per path, ``(measurement, busy %, steal %)`` of the whole machine, 100 per core."""

    def machine_load(self, path: str, key: str, used: Resources) -> None:
        """Record how busy the whole machine was, and how much the hypervisor stole."""
        self.machine.setdefault(path, []).append(
            (key, used.machine_busy_percent, used.machine_steal_percent)
        )

    def disturbances(self) -> list[str]:
        """Measurements during which the hypervisor gave a noticeable share to others."""
        return [
            f"{self.labels[path]}, {key}: {steal:.0f}% steal"
            for path, loads in self.machine.items()
            for key, _busy, steal in loads
            if steal > STEAL_WARNING_PERCENT
        ]

    def add(self, path: str, key: str, value: float) -> None:
        """Record one round's value."""
        self.values.setdefault(path, {}).setdefault(key, []).append(value)

    def fail(self, path: str, key: str, reason: str) -> None:
        """Record that a measurement failed, and why."""
        self.errors.setdefault(path, {}).setdefault(key, []).append(reason)

    def median(self, path: str, key: str) -> float | None:
        """The median over the rounds, or None if it never succeeded."""
        found = self.values.get(path, {}).get(key)
        return statistics.median(found) if found else None


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def cell(results: Results, path: str, metric: Metric, *, to_direct: bool = True) -> str:
    """``value (ratio to direct×)``, or why it failed; ``to_direct=False``: the value only."""
    value = results.median(path, metric.key)
    if value is None:
        reasons = results.errors.get(path, {}).get(metric.key)
        return f"failed: {reasons[0]}" if reasons else "–"
    text = _number(value, metric.digits)
    if not to_direct:
        return text
    direct = results.median("direct", metric.key)
    if path != "direct" and direct:
        text += f" ({value / direct:.2f}×)"
    if metric.key == "p50_us" and path != "direct" and direct is not None:
        text += f", +{value - direct:,.0f}"
    return text


def result_rows(results: Results) -> list[list[str]]:
    paths = list(results.labels)
    rows = [["metric", *(results.labels[p] for p in paths)]]
    for metric in METRICS:
        if all(results.median(p, metric.key) is None for p in paths):
            continue
        rows.append([metric.label, *(cell(results, p, metric) for p in paths)])
    return rows


def versus_rows(results: Results, ours: str, theirs: str) -> list[list[str]]:
    """``ours`` beside ``theirs``, metric by metric, with ``ours ÷ theirs``."""
    mine, other = results.labels[ours], results.labels[theirs]
    rows = [["metric", mine, other, f"{mine} ÷ {other}"]]
    for metric in METRICS:
        a, b = results.median(ours, metric.key), results.median(theirs, metric.key)
        if a is None and b is None:
            continue
        ratio = f"{a / b:.2f}×" if a is not None and b else "–"
        row = [cell(results, path, metric, to_direct=False) for path in (ours, theirs)]
        rows.append([metric.label, *row, ratio])
    return rows


def compared(results: Results) -> bool:
    """Whether both of :data:`COMPARED` ran."""
    return all(path in results.labels for path in COMPARED)


def text_table(rows: list[list[str]]) -> str:
    """A table for a terminal (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(rows: Iterable[list[str]]) -> str:
    rows = list(rows)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _mib(kib: int) -> str:
    return f"{kib / MIB:.1f}"


def memory_rows(results: Results) -> list[list[str]]:
    """Memory of each relay, MiB."""
    rows = [
        [
            "relay",
            "idle RSS (PSS)",
            "idle RSS by process",
            "peak RSS under c64/c16 load",
            "peak RSS during bulk",
            "RSS after bulk, each round",
            "idle RSS (PSS) at the end",
        ]
    ]
    for path, memory in results.memory.items():
        rows.append(
            [
                results.labels[path],
                f"{_mib(memory.idle_rss)} ({_mib(memory.idle_pss)})",
                ", ".join(f"{r} {_mib(v)}" for r, v in memory.by_role_idle_rss.items()),
                _mib(memory.load_peak_rss),
                _mib(memory.bulk_peak_rss),
                ", ".join(_mib(v) for v in memory.after_bulk_rss),
                f"{_mib(memory.end_idle_rss)} ({_mib(memory.end_idle_pss)})",
            ]
        )
    return rows


def _round_rows(results: Results) -> list[list[str]]:
    rows = [["path", "metric", "each round"]]
    for path, by_key in results.values.items():
        for metric in METRICS:
            found = by_key.get(metric.key)
            if found:
                values = ", ".join(_number(v, metric.digits) for v in found)
                rows.append([results.labels[path], metric.label, values])
    return rows


def _cpu_rows(results: Results) -> list[list[str]]:
    rows = [["relay", "process", "CPU % during c64 (each round; 100 = one core)"]]
    for path, label in results.labels.items():
        memory = results.memory.get(path)
        for role, values in (memory.cpu_percent if memory else {}).items():
            rows.append([label, role, ", ".join(f"{v:.0f}" for v in values)])
        loads = [(b, s) for key, b, s in results.machine.get(path, []) if key == "rps_c64"]
        whole = ", ".join(f"{b:.0f} ({s:.0f})" for b, s in loads)
        rows.append([label, "whole machine, busy (steal)", whole])
    return rows


def markdown_report(
    results: Results,
    environment: list[tuple[str, str]],
    targets: tuple[str, Sequence[list[str]]],
) -> str:
    """Everything, as Markdown: machine, results, the two paths inside jupyter server side by
    side, the targets (a title and table rows), memory, CPU, raw rounds, failures."""
    targets_title, target_rows = targets
    parts = [
        "### Machine and run\n",
        _markdown_table([["what", "value"], *([k, v] for k, v in environment)]),
        "\n### Results (median of the rounds; ratio to direct in brackets)\n",
        _markdown_table(result_rows(results)),
    ]
    if compared(results):
        ours, theirs = (results.labels[path] for path in COMPARED)
        parts += [
            f"\n### {ours} beside {theirs} (medians; ratio {ours} ÷ {theirs})\n",
            _markdown_table(versus_rows(results, *COMPARED)),
        ]
    parts += [
        f"\n### {targets_title}\n",
        _markdown_table(target_rows),
        "\n### Memory of the relay processes (MiB; all its processes added)\n",
        _markdown_table(memory_rows(results)),
        "\n### CPU of the relay processes\n",
        _markdown_table(_cpu_rows(results)),
        "\n### The machine's busiest processes during each path's last c64 run (CPU %)\n",
        _markdown_table(
            [["path", "processes"]]
            + [
                [results.labels[path], ", ".join(f"{who} {pct:.0f}" for who, pct in found)]
                for path, found in results.busiest.items()
            ]
        ),
        "\n### Every round\n",
        _markdown_table(_round_rows(results)),
    ]
    disturbed = results.disturbances()
    if disturbed:
        parts += [
            "\n### Disturbed measurements (the hypervisor ran something else)\n",
            "\n".join(f"- {line}" for line in disturbed),
        ]
    failures = [
        f"- {results.labels[path]}, {key}: {reason}"
        for path, by_key in results.errors.items()
        for key, reasons in by_key.items()
        for reason in reasons
    ]
    if failures:
        parts += ["\n### Failures\n", "\n".join(failures)]
    return "\n".join(parts) + "\n"
