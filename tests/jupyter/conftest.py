"""Fixtures for the server-extension tests: a real jupyter-server (pytest-jupyter) with
jupyter_tunnels enabled, its embedded hub's store in the test's temporary directory.

pytest-jupyter runs every async test of the session itself, so this folder is its own pytest
invocation: ``pytest -p pytest_jupyter.jupyter_server tests/jupyter`` (scripts/test.sh).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._apps import Services, start_services

PLUGIN = "pytest_jupyter.jupyter_server"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without pytest-jupyter's plugin these tests cannot run: say how to run them."""
    if config.pluginmanager.has_plugin(PLUGIN):
        return
    skip = pytest.mark.skip(reason=f"run this folder with: pytest -p {PLUGIN} tests/jupyter")
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)


@pytest.fixture
def tunnels_config(tmp_path: Path) -> dict[str, Any]:
    """``c.TunnelsApp`` for the test; tests may add to it before the server starts."""
    return {"db_path": str(tmp_path / "tunnels" / "hub.db"), "lease_ttl": 6.0}


@pytest.fixture
def jp_server_config(tunnels_config: dict[str, Any]) -> dict[str, Any]:
    """The extension enabled, its start failures raised, unauthenticated access refused."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_tunnels": True, "jupyter_server_terminals": False},
            "reraise_server_extension_failures": True,
            "allow_unauthenticated_access": False,
        },
        "TunnelsApp": tunnels_config,
    }


@pytest.fixture
def services() -> Iterator[Services]:
    """A small HTTP app (and echo servers) on 127.0.0.1:0 to put behind tunnels."""
    running = start_services("jupyter-app")
    yield running
    running.stop()
