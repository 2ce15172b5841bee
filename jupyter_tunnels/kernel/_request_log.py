"""What ``%tunnel log NAME`` shows: a tunnel's recent requests and its counters.

A thin view over the API's :class:`~jupyter_tunnels.RequestLogEntry` list and
:class:`~jupyter_tunnels.TunnelMetrics`: a fixed-width table as text, an HTML table in a
notebook, and one line of counters under either.
"""

from __future__ import annotations

import html

from .._core.models import RequestLogEntry, TunnelMetrics

__all__ = ["COLUMNS", "RequestLog"]

COLUMNS = ("TIME", "METHOD", "PATH", "STATUS", "MS", "IN", "OUT")
_PATH_WIDTH = 40


def _cells(entry: RequestLogEntry) -> tuple[str, ...]:
    path = entry.path if len(entry.path) <= _PATH_WIDTH else entry.path[: _PATH_WIDTH - 1] + "…"
    return (
        entry.time.strftime("%H:%M:%S"),
        entry.method,
        path,
        str(entry.status),
        f"{entry.duration_ms:.1f}",
        str(entry.bytes_in),
        str(entry.bytes_out),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


class RequestLog:
    """A tunnel's recent requests (newest first) and counters, as ``%tunnel log`` returns."""

    def __init__(self, name: str, entries: list[RequestLogEntry], metrics: TunnelMetrics) -> None:
        self.name = name
        self.entries = entries
        self.metrics = metrics

    def counters(self) -> str:
        """One line: requests, errors, bytes, open streams and latency quantiles."""
        m = self.metrics
        return (
            f"{m.requests} requests, {m.errors} errors, {m.bytes_in} bytes in, "
            f"{m.bytes_out} bytes out, {m.open_streams} open, "
            f"p50 {_ms(m.latency_p50_ms)}, p90 {_ms(m.latency_p90_ms)}"
        )

    def __repr__(self) -> str:
        if not self.entries:
            return f"no requests to {self.name!r} since the hub started\n{self.counters()}"
        rows = [COLUMNS, *(_cells(entry) for entry in self.entries)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        return "\n".join([*lines, self.counters()])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(entry)) + "</tr>"
            for entry in self.entries
        )
        caption = html.escape(f"{self.name}: {self.counters()}")
        return f"<table><caption>{caption}</caption><tr>{head}</tr>{body}</table>"
