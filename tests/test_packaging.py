"""The installed package as Jupyter sees it: the server extension is enabled and loads."""

from __future__ import annotations

import re
import subprocess
import sys

LIST_TIMEOUT = 60


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
