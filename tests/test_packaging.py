"""The installed package as Jupyter sees it: the server extension is enabled and loads, and
the JupyterLab panel is installed under the same name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jupyter_tunnels

LIST_TIMEOUT = 60
PROJECT = Path(__file__).parents[1]


def test_jupyter_server_extension_list_shows_it_ok() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=LIST_TIMEOUT,
        check=True,
    )
    # jupyter prints the listing on stderr, with colour codes around "enabled" and "OK"
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(r"jupyter_tunnels\s+enabled", text), text
    assert re.search(r"jupyter_tunnels \S+ OK", text), text


def test_jupyter_labextension_list_shows_the_panel_ok() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=LIST_TIMEOUT,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    # the npm name, the Python package and the shared-data folder are the same name
    assert re.search(r"jupyter-tunnels v\S+ enabled OK", text), text


def test_the_labextension_version_is_the_package_version() -> None:
    package = json.loads((PROJECT / "labextension" / "package.json").read_text())
    assert package["name"] == "jupyter-tunnels"
    assert package["version"] == jupyter_tunnels.__version__
