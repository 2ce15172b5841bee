"""scripts/unasync.py: the blocking client is generated from the async one, and checked.

The generator runs for real, as a developer or CI runs it: on this repository, and on a copy of
it in a temporary folder where the tests edit the async or the generated code.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"
CLIENT = Path("jupyter_tunnels", "client")
RUN_TIMEOUT = 120.0


def run_generator(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the copy of scripts/unasync.py under ``root`` with ``arguments``."""
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "unasync.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what the generator reads and writes: the script, the client, the settings."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)  # ruff's settings
    for part in ("_async", "_sync"):
        shutil.copytree(
            ROOT / CLIENT / part,
            tmp_path / CLIENT / part,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return tmp_path


@pytest.fixture(scope="module")
def unasync() -> Callable[[str], str]:
    """The generator's text rules (before formatting), loaded from the script."""
    namespace: dict[str, Any] = runpy.run_path(str(SCRIPT))
    rules: Callable[[str], str] = namespace["unasync"]
    return rules


def test_the_committed_blocking_client_is_what_the_generator_writes() -> None:
    result = run_generator(ROOT, "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_generated_modules_say_where_they_come_from() -> None:
    for path in sorted((ROOT / CLIENT / "_sync").glob("*.py")):
        first_line = path.read_text(encoding="utf-8").splitlines()[0]
        source = (CLIENT / "_async" / path.name).as_posix()
        assert first_line == f"# Generated from {source} by scripts/unasync.py: do not edit."


def test_the_rules_turn_async_code_into_blocking_code(unasync: Callable[[str], str]) -> None:
    source = (
        "import anyio\n"
        "class AsyncThing(AsyncClientCore):\n"
        "    async def __aenter__(self) -> None:\n"
        "        async with httpx.AsyncClient() as http:\n"
        "            await anyio.sleep(await self.aclose())\n"
    )
    assert unasync(source) == (
        "import time\n"
        "class Thing(ClientCore):\n"
        "    def __enter__(self) -> None:\n"
        "        with httpx.Client() as http:\n"
        "            time.sleep(self.close())\n"
    )
    # words that merely contain the rules' words are left alone
    untouched = "StopAsyncIteration, asynchronous, awaiting, Asyncio, my_anyio.sleep\n"
    assert unasync(untouched) == untouched


def test_check_shows_a_hand_edit_and_a_stray_module(checkout: Path) -> None:
    core = checkout / CLIENT / "_sync" / "_core.py"
    core.write_text(core.read_text().replace("time.sleep(delay)", "time.sleep(0)"))
    (checkout / CLIENT / "_sync" / "_old.py").write_text('"""A module left behind."""\n')

    result = run_generator(checkout, "--check")
    assert result.returncode == 1
    assert "-                time.sleep(0)\n+                time.sleep(delay)\n" in result.stdout
    assert "jupyter_tunnels/client/_sync/_old.py has no async source" in result.stdout
    assert "run `python scripts/unasync.py`" in result.stderr
    assert "time.sleep(0)" in core.read_text()  # --check changed nothing

    assert run_generator(checkout).returncode == 0
    assert "time.sleep(delay)" in core.read_text()
    assert not (checkout / CLIENT / "_sync" / "_old.py").exists()
    assert run_generator(checkout, "--check").returncode == 0


def test_an_async_change_reaches_the_blocking_client_formatted(checkout: Path) -> None:
    webhooks = checkout / CLIENT / "_async" / "_webhooks.py"
    webhooks.write_text(
        webhooks.read_text()
        + "\n    async def ping(self) -> None:\n"
        + '        """Wait a moment."""\n'
        + "        await anyio.sleep(0)\n"
    )
    # the new code needs anyio, imported unsorted: the generator must sort `import time` in
    text = webhooks.read_text().replace("import builtins", "import anyio\nimport builtins", 1)
    webhooks.write_text(text)

    assert run_generator(checkout, "--check").returncode == 1
    assert run_generator(checkout).returncode == 0
    generated = (checkout / CLIENT / "_sync" / "_webhooks.py").read_text()
    assert "    def ping(self) -> None:\n" in generated
    assert "        time.sleep(0)\n" in generated
    assert "import builtins  # " in generated and "import anyio" not in generated
    assert generated.index("import builtins") < generated.index("import time\n")
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(checkout / CLIENT / "_sync")],
        capture_output=True,
        text=True,
        cwd=checkout,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_reworded_async_only_prose_stops_the_generator(checkout: Path) -> None:
    client = checkout / CLIENT / "_async" / "_client.py"
    client.write_text(client.read_text().replace("no threads.", "and no threads."))
    before = (checkout / CLIENT / "_sync" / "_client.py").read_text()

    result = run_generator(checkout)
    assert result.returncode == 2
    assert "no async module contains this passage any more" in result.stderr
    assert "update PASSAGES in scripts/unasync.py" in result.stderr
    assert (checkout / CLIENT / "_sync" / "_client.py").read_text() == before
