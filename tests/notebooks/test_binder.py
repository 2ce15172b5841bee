"""The Binder demo, built from ``binder/`` the way repo2docker builds it, runs the quickstart.

repo2docker (mybinder.org) installs ``binder/requirements.txt`` with pip from the repository's
root, runs ``binder/postBuild`` there, and launches the Jupyter server through
``binder/start``. This test does the same in a fresh virtual environment (not Binder's conda
image: the same files and the same steps), then runs notebooks/quickstart.ipynb under nbval in
a kernel of that environment against that server, with nothing reached but 127.0.0.1. pip uses
its cache, so after the first run only the local checkout is built again.

Its own pytest invocation (scripts/test.sh), like the notebooks: ``pytest tests/notebooks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.notebooks._jupyter_server import isolated_environment, start_server

ROOT = Path(__file__).parents[2]
BINDER = ROOT / "binder"
KERNEL_NAME = "binder-env"
NBVAL = (
    "-m pytest -p tests.notebooks.nbval_server -p no:cacheprovider --nbval "
    f"--nbval-kernel-name {KERNEL_NAME} --nbval-sanitize-with notebooks/sanitize.cfg "
    "notebooks/quickstart.ipynb"
).split()
"""nbval on the quickstart, in a kernel of the Binder environment (run from the root)."""
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 300


def run(args: list[str | Path], env: dict[str, str], timeout: float) -> str:
    """Run ``args`` from the repository's root (as repo2docker does); its output, or fail."""
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited with {done.returncode}:\n{done.stdout}")
    return done.stdout


def kernel_spec(data_dir: Path, python: Path) -> None:
    """A kernelspec for the Binder environment's Python, for nbval's ``--nbval-kernel-name``."""
    spec_dir = data_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (the Binder environment)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


@pytest.mark.timeout(INSTALL_TIMEOUT + 2 * RUN_TIMEOUT)
def test_the_binder_environment_runs_the_quickstart_notebook(tmp_path: Path) -> None:
    env_dir = tmp_path / "binder-env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    binder_env = isolated_environment(tmp_path / "home")
    binder_env["PATH"] = f"{bin_dir}{os.pathsep}{binder_env.get('PATH', '')}"
    binder_env.pop("PYTHONPATH", None)  # nothing of the test's environment leaks in
    binder_env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    python = bin_dir / "python"
    requirements = BINDER / "requirements.txt"
    run([python, "-m", "pip", "install", "-q", "-r", requirements], binder_env, INSTALL_TIMEOUT)
    built = run([BINDER / "postBuild"], binder_env, RUN_TIMEOUT)
    assert "jupyter_tunnels" in built

    server = start_server(
        tmp_path / "home",
        ROOT / "notebooks",
        command=[str(BINDER / "start"), str(bin_dir / "jupyter")],
        env=binder_env,
    )
    try:
        kernel_spec(Path(binder_env["JUPYTER_DATA_DIR"]), python)
        nbval_env = binder_env | server.kernel_environment()
        nbval_env["PYTHONPATH"] = str(ROOT)  # the plugin, tests.notebooks.nbval_server
        output = run([sys.executable, *NBVAL], nbval_env, RUN_TIMEOUT)
    finally:
        server.stop()
    assert " passed" in output and "failed" not in output, output
