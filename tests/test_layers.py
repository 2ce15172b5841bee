"""The package's import graph: the layer contracts of pyproject.toml hold, and no module imports
itself through others.

Imports under ``if TYPE_CHECKING:`` count in both checks: a type is a dependency too, and a
cycle that only the type checker follows becomes a circular import as soon as one of its imports
is needed at run time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter import api

PACKAGE = "jupyter_tunnels"
ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = (
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
)
"""The ``lint-imports`` command, run by this interpreter (no cache left behind)."""
LINT_TIMEOUT = 120.0


def package_graph(package: str) -> grimp.ImportGraph:
    """The graph of imports between the package's modules, TYPE_CHECKING ones included."""
    return grimp.build_graph(package, exclude_type_checking_imports=False, cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every cycle of direct imports, each once: its modules in import order (each imports the
    next, the last imports the first), starting at the smallest name."""
    cycles = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycle = (importer, *back[:-1])
                start = cycle.index(min(cycle))
                cycles.add(cycle[start:] + cycle[:start])
    return sorted(cycles)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the configuration it finds in ``cwd``."""
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
        check=False,
    )


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    cycles = import_cycles(package_graph(PACKAGE))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join((*c, c[0])) for c in cycles)


def test_the_import_contracts_of_pyproject_are_kept() -> None:
    configuration = api.read_configuration(str(ROOT / "pyproject.toml"))
    assert "exclude_type_checking_imports" not in configuration["session_options"]
    contracts = configuration["contracts_options"]
    assert {contract["type"] for contract in contracts} >= {"layers", "acyclic_siblings"}

    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


@pytest.fixture
def knotted_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package ``knot`` on ``sys.path`` whose lower layer imports the higher one for the
    type checker only, with a layers contract saying it may not."""
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "high.py").write_text("from knot import low\n")
    (package / "low.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from knot import high\n"
    )
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = knot\n\n"
        "[importlinter:contract:layers]\nname = high over low\ntype = layers\n"
        "layers =\n    knot.high\n    knot.low\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_cycle_through_a_type_checking_import_is_found(knotted_package: Path) -> None:
    assert import_cycles(package_graph("knot")) == [("knot.high", "knot.low")]


def test_an_upward_type_checking_import_breaks_a_layers_contract(knotted_package: Path) -> None:
    result = lint_imports(knotted_package)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "knot.low is not allowed to import knot.high" in result.stdout
    assert "Contracts: 0 kept, 1 broken." in result.stdout


def test_import_cycles_names_each_cycle_once_and_ignores_chains() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
        ("p.c", "p.d"),
        ("p.d", "p.e"),
        ("p.e", "p.f"),
        ("p.f", "p.e"),
    ]:
        graph.add_import(importer=importer, imported=imported)

    assert import_cycles(graph) == [("p.a", "p.b", "p.c"), ("p.e", "p.f")]
