"""The targets a run is judged against (issue "Wave 2, step 1"), all defined here.

Each target compares medians of one run: the embedded path with jupyter-server-proxy and with
direct, and the standalone hub with the figures of docs/benchmarks.md's latest table (it must
not regress). A target whose figures are missing from the run is "not measured".
"""

from __future__ import annotations

import dataclasses
import enum

from _report import METRICS, Results

__all__ = [
    "TARGETS",
    "TITLE",
    "Comparison",
    "Target",
    "Verdict",
    "judge",
    "verdict_rows",
    "verdicts_text",
]

TITLE = "Targets of Wave 2, step 1"
TARGET_BULK_BYTES = 256 * 1024 * 1024
"""The bulk size the download target is stated for."""


class Comparison(enum.Enum):
    """How a target's figure is formed from the run's medians."""

    RATIO = "ratio"
    """The path's median divided by ``versus``'s median."""
    ADDED = "added"
    """The path's median minus ``versus``'s median (latency added, µs)."""
    VALUE = "value"
    """The path's median itself (a time in µs: CPU per request)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """One target: ``path``'s median of ``key``, compared as ``comparison`` says, against
    ``limit``."""

    path: str
    key: str
    what: str
    """The figure in words, for the report."""
    comparison: Comparison
    limit: float
    at_least: bool
    """True: the figure must be at least ``limit``; False: at most."""
    versus: str = "direct"
    """The other path of a ratio or an addition."""
    note: str = ""

    def name(self, labels: dict[str, str]) -> str:
        """The target in words, e.g. ``embedded added p50 at c1 ≤ +300 µs over direct``."""
        versus = labels.get(self.versus, self.versus)
        limit = {
            Comparison.RATIO: f"{self.limit:g}× {versus}",
            Comparison.ADDED: f"+{self.limit:,.0f} µs over {versus}",
            Comparison.VALUE: f"{self.limit:,.0f} µs",
        }[self.comparison]
        note = f" ({self.note})" if self.note else ""
        return f"{self.path} {self.what} {'≥' if self.at_least else '≤'} {limit}{note}"


_RATIO, _ADDED, _VALUE = Comparison.RATIO, Comparison.ADDED, Comparison.VALUE
_HUB = "no regression"
"""The hub's limits are its figures in docs/benchmarks.md's latest table."""

# fmt: off
TARGETS = (
    Target("embedded", "rps_c64", "requests/s at c64, keep-alive", _RATIO, 20.0, at_least=True,
           versus="jsp"),
    Target("embedded", "p50_us", "added p50 at c1", _ADDED, 300.0, at_least=False),
    Target("embedded", "p99_us", "added p99 at c1", _ADDED, 2000.0, at_least=False),
    Target("embedded", "cpu_c64_us", "relay CPU per request at c64", _VALUE, 200.0,
           at_least=False),
    Target("embedded", "download", "bulk download of 256 MiB", _RATIO, 0.45, at_least=True),
    Target("hub", "rps_c64", "requests/s at c64, keep-alive", _RATIO, 0.20, at_least=True,
           note=_HUB),
    Target("hub", "rps_close", "new connections/s", _RATIO, 0.26, at_least=True, note=_HUB),
    Target("hub", "download", "bulk download", _RATIO, 0.49, at_least=True, note=_HUB),
    Target("hub", "p50_us", "added p50 at c1", _ADDED, 154.0, at_least=False, note=_HUB),
    Target("hub", "cpu_c64_us", "relay CPU per request at c64", _VALUE, 111.0, at_least=False,
           note=_HUB),
)
"""Every target, in the order the report lists them."""
# fmt: on

_DIGITS = {metric.key: metric.digits for metric in METRICS}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A target, what the run measured for it, and whether it is met (None: not measured)."""

    target: str
    measured: str
    met: bool | None

    @property
    def word(self) -> str:
        """``met``, ``NOT met`` or ``not measured``."""
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]


def _number(key: str, value: float) -> str:
    return f"{value:,.{_DIGITS.get(key, 0)}f}"


def _judge_one(results: Results, target: Target, bulk_bytes: int) -> Verdict:
    name = target.name(results.labels)
    ours = results.median(target.path, target.key)
    other = results.median(target.versus, target.key)
    failed = results.errors.get(target.path, {}).get(target.key)
    if ours is None and failed:  # the path could not do it at all
        return Verdict(name, f"failed: {failed[0]}", False)
    needs_other = target.comparison is not Comparison.VALUE
    if ours is None or (needs_other and not other):
        return Verdict(name, "not measured", None)
    shown = _number(target.key, ours)
    if target.comparison is Comparison.VALUE:
        figure, measured = ours, f"{shown} µs"
    else:
        assert other is not None
        label = results.labels.get(target.versus, target.versus)
        versus = f"{label} {_number(target.key, other)}"
        if target.comparison is Comparison.RATIO:
            figure = ours / other
            measured = f"{shown} vs {versus}: {figure:.2f}×"
        else:
            figure = ours - other
            measured = f"{figure:+,.0f} µs ({shown} vs {versus})"
    if target.key == "download" and bulk_bytes != TARGET_BULK_BYTES:
        measured += f" ({bulk_bytes // (1024 * 1024)} MiB in this run)"
    met = figure >= target.limit if target.at_least else figure <= target.limit
    return Verdict(name, measured, met)


def judge(results: Results, bulk_bytes: int) -> list[Verdict]:
    """Every target judged on ``results`` (``bulk_bytes``: the size of the bulk transfers)."""
    return [_judge_one(results, target, bulk_bytes) for target in TARGETS]


def verdict_rows(verdicts: list[Verdict]) -> list[list[str]]:
    """The verdicts as table rows, with a header row."""
    return [["target", "measured", "verdict"]] + [[v.target, v.measured, v.word] for v in verdicts]


def verdicts_text(verdicts: list[Verdict]) -> str:
    """The verdicts for a terminal, one a line."""
    return "\n".join(f"  [{v.word}] {v.target}: {v.measured}" for v in verdicts)
