"""What machine and which tool versions a run used, for the report."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import tempfile
from pathlib import Path

__all__ = ["describe", "load_average"]

FIND_PACKAGE = (
    "import importlib.util as u; s = u.find_spec('jupyter_tunnels'); print(s and s.origin)"
)


def _first_line(argv: list[str], cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, check=False, cwd=cwd
        )
    except OSError as exc:
        return f"unavailable ({exc})"
    text = (result.stdout + result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _git_state(repo: Path) -> str:
    commit = _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", "jupyter_tunnels"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return f"{commit} plus uncommitted changes to the package" if status.strip() else commit


def _package_state(python: str) -> str:
    """The commit of the jupyter_tunnels that ``python`` imports, and where it is."""
    # find_spec does not run the package, so a work tree that does not import is still found;
    # run outside any checkout, as the servers are, so that PYTHONPATH decides as for them
    origin = _first_line([python, "-c", FIND_PACKAGE], cwd=Path(tempfile.gettempdir()))
    package = Path(origin).parent
    if not (package / "__init__.py").is_file():
        return f"not found for {python}"
    return f"{_git_state(package.parent)} ({package})"


def describe(tools: dict[str, str], python: str) -> list[tuple[str, str]]:
    """(what, value) pairs: time, code, CPU, kernel, Python and the tools' versions."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hub_python = _first_line([python, "--version"])
    found = [
        ("run started", now),
        ("jupyter-tunnels commit", _package_state(python)),
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU model", _cpu_model()),
        ("kernel", platform.release()),
        ("Python (hub, connector, embedded server)", hub_python),
        ("nginx", _first_line([tools["nginx"], "-v"])),
        ("OpenSSH", _first_line([tools["ssh"], "-V"])),
        ("wrk", _first_line([tools["wrk"], "-v"]).split(" Copyright")[0]),
        ("curl", " ".join(_first_line([tools["curl"], "--version"]).split()[:2])),
    ]
    found.append(("load average at start", load_average()))
    return found
