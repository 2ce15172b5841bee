"""The installed package as Jupyter and a shell see it: the server extension is enabled by the
configuration file the package installs and loads, the JupyterLab panel is installed, built,
under the same name, the console script runs, and ``import jupyter_tunnels`` finds the files
that were installed.

These hold for both installs: the editable one in .venv (the main suite) and the built wheel
in a fresh venv, run from outside the source tree by scripts/test_wheel.py (scripts/test.sh).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import jupyter_tunnels

COMMAND_TIMEOUT = 60
DISTRIBUTION = "jupyter-tunnels"
PANEL_NAME = "jupyter-tunnels"
"""The npm name, the folder under share/jupyter/labextensions and the distribution: one name."""
PREFIX = Path(sys.prefix)
INSTALLED_PANEL = PREFIX / "share" / "jupyter" / "labextensions" / PANEL_NAME
BIN = Path(sys.executable).parent
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def run(args: list[str | Path], cwd: Path) -> str:
    """Run a command of this environment from ``cwd``: its output (stdout then stderr)."""
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    output = ANSI_COLOUR.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{output}"
    return output


def expected_package_file() -> Path:
    """Where ``jupyter_tunnels/__init__.py`` must come from, by how the distribution was
    installed: the source tree named in direct_url.json for an editable install, else the file
    the installer recorded (the wheel's copy in site-packages)."""
    distribution = metadata.distribution(DISTRIBUTION)
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    if direct_url.get("dir_info", {}).get("editable"):
        return Path(unquote(urlparse(direct_url["url"]).path)) / "jupyter_tunnels" / "__init__.py"
    recorded = [str(file) for file in distribution.files or ()]
    assert "jupyter_tunnels/__init__.py" in recorded, recorded
    return Path(str(distribution.locate_file("jupyter_tunnels/__init__.py")))


def test_import_finds_the_installed_files(tmp_path: Path) -> None:
    expected = expected_package_file().resolve()
    assert Path(jupyter_tunnels.__file__).resolve() == expected
    printed = run(
        [sys.executable, "-c", "import jupyter_tunnels; print(jupyter_tunnels.__file__)"], tmp_path
    )
    assert Path(printed.strip()).resolve() == expected


def test_the_console_script_runs(tmp_path: Path) -> None:
    usage = run([BIN / "jupyter-tunnels", "--help"], tmp_path)
    assert usage.startswith("usage: jupyter-tunnels"), usage
    assert "hub" in usage and "expose" in usage


def test_the_server_extension_is_enabled_by_the_installed_config_and_loads(tmp_path: Path) -> None:
    enabling = PREFIX / "etc" / "jupyter" / "jupyter_server_config.d" / "jupyter_tunnels.json"
    config = json.loads(enabling.read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_tunnels": True}}}

    text = run([sys.executable, "-m", "jupyter", "server", "extension", "list"], tmp_path)
    # one block per config dir: ours must say enabled, and validating it must say OK
    block = text.split(f"Config dir: {PREFIX / 'etc' / 'jupyter'}\n", 1)[-1].split("Config dir:")[0]
    assert re.search(r"^\s+jupyter_tunnels enabled$", block, re.MULTILINE), text
    assert re.search(rf"jupyter_tunnels {re.escape(jupyter_tunnels.__version__)} OK", text), text


def test_jupyter_labextension_list_shows_the_installed_panel_ok(tmp_path: Path) -> None:
    text = run([sys.executable, "-m", "jupyter", "labextension", "list"], tmp_path)
    lines = text.splitlines()
    version = re.escape(jupyter_tunnels.__version__)
    listed = [
        i
        for i, line in enumerate(lines)
        if re.match(rf"\s+{PANEL_NAME} v{version} enabled OK", line)
    ]
    assert len(listed) == 1, text
    # the folder a listing shows is the unindented line above its extensions
    folder = next(line for line in reversed(lines[: listed[0]]) if not line.startswith(" "))
    assert Path(folder) == INSTALLED_PANEL.parent, text


def test_the_installed_panel_is_built_and_versioned_with_the_package() -> None:
    package = json.loads((INSTALLED_PANEL / "package.json").read_text())
    assert package["name"] == PANEL_NAME
    assert package["version"] == jupyter_tunnels.__version__
    # the builder names the entry point JupyterLab loads, hashed, in the built package.json
    entry_point = package["jupyterlab"]["_build"]["load"]
    assert re.fullmatch(r"static/remoteEntry\.[0-9a-f]+\.js", entry_point), entry_point
    assert (INSTALLED_PANEL / entry_point).is_file()
    assert (INSTALLED_PANEL / "static" / "style.js").is_file()
    install = json.loads((INSTALLED_PANEL / "install.json").read_text())
    assert install["packageManager"] == "python"
    assert install["packageName"] == DISTRIBUTION
