#!/usr/bin/env python3
"""Write the blocking client, ``jupyter_tunnels/client/_sync/``, from the async one, ``_async/``.

The async client is the only one written by hand. Each of its modules becomes the module of the
same name in ``_sync/`` in three steps:

1. a few exact passages are replaced: prose that only the async client may say (it is a
   coroutine, it runs on asyncio or trio) and the words that differ in the blocking one;
2. word rules turn async code into blocking code (``async def`` -> ``def``, ``await x`` ->
   ``x``, ``AsyncTunnelsClient`` -> ``TunnelsClient``, ``aclose`` -> ``close``, ``anyio.sleep``
   -> ``time.sleep``, ...), in code, docstrings and comments alike;
3. ruff sorts the imports and formats the result, with the project's settings, so what this
   writes is exactly what ``ruff format`` would keep.

Each generated module starts with a comment naming its source and this script.

Usage::

    python scripts/unasync.py          # (re)write _sync/ from _async/
    python scripts/unasync.py --check  # change nothing; exit 1 with a diff if _sync/ differs

Every exact passage must be found in the async source: when someone rewords one, this script
stops and names the rule to update, instead of letting async-only prose into the blocking
client.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_DIR = ROOT / "jupyter_tunnels" / "client"
ASYNC_DIR = CLIENT_DIR / "_async"
SYNC_DIR = CLIENT_DIR / "_sync"
SCRIPT = Path(__file__).resolve().relative_to(ROOT).as_posix()


@dataclasses.dataclass(frozen=True)
class Passage:
    """An exact piece of the async source and what the blocking client says instead."""

    text: str
    replacement: str


PASSAGES = (
    # The paragraph of AsyncTunnelsClient's docstring about coroutines, and the blank line after.
    Passage(
        textwrap.indent(
            """\
The same methods, with the same arguments and results, as :class:`TunnelsClient`; each
is a coroutine, run on the caller's event loop: asyncio's (a Jupyter kernel's, for
instance) or trio's. Native async over :class:`httpx.AsyncClient`, no threads.

""",
            "    ",
        ),
        "",
    ),
    Passage("relay leases. Async.", "relay leases. Blocking."),
)
"""Applied first, to the async text as written (so before the word rules)."""

WORD_RULES = (
    (re.compile(r"\basync (def|with|for) "), r"\1 "),
    (re.compile(r"\bawait "), ""),
    (re.compile(r"\b__aenter__\b"), "__enter__"),
    (re.compile(r"\b__aexit__\b"), "__exit__"),
    (re.compile(r"\baclose\b"), "close"),
    # AsyncTunnelsClient, AsyncClientCore, httpx.AsyncClient, httpx.AsyncBaseTransport...
    (re.compile(r"\bAsync(?=[A-Z])"), ""),
    (re.compile(r"\banyio\.sleep\b"), "time.sleep"),
    (re.compile(r"^import anyio$", re.MULTILINE), "import time"),
)
"""Applied in order, everywhere in the text, after the passages."""


class GeneratorError(Exception):
    """The async source cannot be turned into the blocking client as the rules stand."""


def header(source: Path) -> str:
    """The comment that opens a generated module."""
    origin = source.relative_to(ROOT).as_posix()
    return (
        f"# Generated from {origin} by {SCRIPT}: do not edit.\n"
        f"# Change the async module, then run `python {SCRIPT}`.\n"
    )


def unasync(text: str, used: set[Passage] | None = None) -> str:
    """The blocking version of async source ``text``, before formatting.

    Passages found in ``text`` are added to ``used``, so the caller can tell which rules no
    longer match anything.
    """
    for passage in PASSAGES:
        if passage.text in text:
            text = text.replace(passage.text, passage.replacement)
            if used is not None:
                used.add(passage)
    for pattern, replacement in WORD_RULES:
        text = pattern.sub(replacement, text)
    return text


def ruff(arguments: Sequence[str], text: str, path: Path) -> str:
    """Run ruff over ``text`` as if it were the file ``path``; return what ruff makes of it."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise GeneratorError(
            f"ruff {' '.join(arguments)} failed on the generated {path.relative_to(ROOT)}:\n"
            f"{result.stderr or result.stdout}"
        )
    return result.stdout


def generate() -> dict[Path, str]:
    """Every module of ``_sync/`` as it should be, by path."""
    sources = sorted(ASYNC_DIR.glob("*.py"))
    if not sources:
        raise GeneratorError(f"no async modules in {ASYNC_DIR.relative_to(ROOT)}")
    used: set[Passage] = set()
    modules = {}
    for source in sources:
        target = SYNC_DIR / source.name
        text = header(source) + unasync(source.read_text(encoding="utf-8"), used)
        # Only the import-sorting fix: the word rules move `import time` out of its section.
        text = ruff(["check", "--select", "I", "--fix", "--quiet"], text, target)
        modules[target] = ruff(["format", "--quiet"], text, target)
    for passage in PASSAGES:
        if passage not in used:
            raise GeneratorError(
                f"no async module contains this passage any more:\n{passage.text!r}\n"
                f"update PASSAGES in {SCRIPT} to the new wording"
            )
    return modules


def differences(wanted: dict[Path, str]) -> list[str]:
    """How the committed ``_sync/`` differs from ``wanted``: unified diffs and file lists."""
    present = {path: path.read_text(encoding="utf-8") for path in SYNC_DIR.glob("*.py")}
    problems = []
    for path, text in wanted.items():
        name = path.relative_to(ROOT).as_posix()
        if path not in present:
            problems.append(f"{name} is missing\n")
        elif present[path] != text:
            diff = difflib.unified_diff(
                present[path].splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{name} (committed)",
                tofile=f"{name} (generated)",
            )
            problems.append("".join(diff))
    problems.extend(
        f"{path.relative_to(ROOT).as_posix()} has no async source\n"
        for path in sorted(present.keys() - wanted.keys())
    )
    return problems


def write(wanted: dict[Path, str]) -> list[Path]:
    """Make ``_sync/`` hold exactly ``wanted``; return the files written or removed."""
    SYNC_DIR.mkdir(exist_ok=True)
    changed = []
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in SYNC_DIR.glob("*.py"):
        if path not in wanted:
            path.unlink()
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script; return its exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; fail with a diff if the committed blocking client is not current",
    )
    arguments = parser.parse_args(argv)
    try:
        wanted = generate()
    except GeneratorError as error:
        sys.stderr.write(f"{SCRIPT}: {error}\n")
        return 2
    sync_dir = SYNC_DIR.relative_to(ROOT).as_posix()
    if arguments.check:
        problems = differences(wanted)
        if problems:
            sys.stdout.write("".join(problems))
            sys.stderr.write(
                f"{SCRIPT}: {sync_dir} is not what the async client generates "
                f"(see the diff above); run `python {SCRIPT}` and commit the result\n"
            )
            return 1
        sys.stdout.write(f"{sync_dir} is up to date ({len(wanted)} modules)\n")
        return 0
    changed = write(wanted)
    for path in changed:
        sys.stdout.write(f"wrote {path.relative_to(ROOT).as_posix()}\n")
    if not changed:
        sys.stdout.write(f"{sync_dir} was already up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
