"""pytest plugin: nbval's kernels talk to a real Jupyter server with the tunnels extension.

nbval starts each notebook's kernel itself, as a plain child of pytest, so the kernel has no
Jupyter server of its own. This plugin starts one (``jupyter server`` on a free port of
127.0.0.1 with a random token, in a temporary home) before collection and puts its address in
the environment the kernels inherit (``JUPYTER_TUNNELS_SERVER_URL`` and ``..._TOKEN``, see
docs/kernel.md), so ``%tunnel`` in a notebook gets the server's tunnels, as in JupyterLab.

Run it as the notebooks' own pytest invocation (scripts/test.sh)::

    python -m pytest -p tests.notebooks.nbval_server --nbval --nbval-current-env \\
        --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

When ``JUPYTER_TUNNELS_SERVER_URL`` is already set (the Binder test starts the server through
``binder/start``), that server is used and none is started.

Outputs are compared as nbval does, after notebooks/sanitize.cfg has replaced ports, tokens,
ids and times, with one change: ``text/html`` is not compared. The tunnel reprs repeat their
``text/plain`` (which is compared) plus a QR code of the URL, whose pixels change with the
server's port; docs/kernel.md promises stable ``text/plain``, not stable HTML.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.notebooks._jupyter_server import (
    KERNEL_ENV,
    RunningServer,
    isolated_environment,
    start_server,
)

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
UNCOMPARED = ("text/html",)

_state: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Start the server (unless one is named already) and point the kernels at it."""
    if not config.getoption("nbval", default=False) or KERNEL_ENV[0] in os.environ:
        return
    home = Path(tempfile.mkdtemp(prefix="jupyter-tunnels-notebooks-"))
    isolated = isolated_environment(home)
    server = start_server(home, NOTEBOOKS, env=isolated)
    _state.update(home=home, server=server, saved=dict(os.environ))
    os.environ.clear()
    os.environ.update(isolated | server.kernel_environment())


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Leave the HTML reprs out of the comparison (see the module docstring)."""
    skip_compare = getattr(collector, "skip_compare", None)
    if isinstance(skip_compare, tuple):
        # nbval's IPyNbFile sets skip_compare on itself; pytest.Collector does not declare it
        collector.skip_compare = skip_compare + UNCOMPARED  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the server and remove its home."""
    server = _state.pop("server", None)
    if isinstance(server, RunningServer):
        server.stop()
    saved = _state.pop("saved", None)
    if isinstance(saved, dict):
        os.environ.clear()
        os.environ.update(saved)
    home = _state.pop("home", None)
    if isinstance(home, Path):
        shutil.rmtree(home, ignore_errors=True)
