"""Run the demo notebooks in kernels of a real Jupyter server and store their outputs.

The outputs saved in notebooks/*.ipynb are what readers see on GitHub and what nbval compares
with (after notebooks/sanitize.cfg). Refresh them after changing a notebook, or anything that
changes what it prints::

    python -m tests.notebooks.refresh                        # every notebook
    python -m tests.notebooks.refresh notebooks/sdk.ipynb    # some

The server is the one the nbval step uses (``_jupyter_server.py``), on 127.0.0.1:8888 when
that port is free (so the stored URLs look like a usual JupyterLab's), else on a free port.
Timing metadata is not recorded, so an unchanged notebook stays unchanged in git.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.notebooks._jupyter_server import isolated_environment, start_server

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
USUAL_PORT = 8888
CELL_TIMEOUT = 120


def _usual_port_if_free() -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", USUAL_PORT))
        except OSError:
            return 0
    return USUAL_PORT


def refresh(paths: list[Path]) -> None:
    """Execute each notebook in a fresh kernel pointed at one fresh server; write it back."""
    with tempfile.TemporaryDirectory(prefix="jupyter-tunnels-refresh-") as home_dir:
        home = Path(home_dir)
        env = isolated_environment(home)
        server = start_server(home, NOTEBOOKS, env=env, port=_usual_port_if_free())
        saved = dict(os.environ)
        os.environ.update(env | server.kernel_environment())  # what the kernels inherit
        try:
            for path in paths:
                print(f"running {path} against {server.url}")
                # nbformat leaves read and write untyped
                notebook: nbformat.NotebookNode = nbformat.read(  # type: ignore[no-untyped-call]
                    path, as_version=4
                )
                NotebookClient(
                    notebook,
                    timeout=CELL_TIMEOUT,
                    kernel_name="python3",
                    record_timing=False,
                    resources={"metadata": {"path": str(path.parent)}},
                ).execute()
                nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
        finally:
            os.environ.clear()
            os.environ.update(saved)
            server.stop()


if __name__ == "__main__":
    refresh([Path(arg) for arg in sys.argv[1:]] or sorted(NOTEBOOKS.glob("*.ipynb")))
