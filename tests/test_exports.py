"""The public surface: ``jupyter_tunnels.__all__`` is sorted, complete, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
import types

import jupyter_tunnels
import jupyter_tunnels.client

HEAVY_MODULES = ("tornado", "sqlalchemy", "aiosqlite", "jupyter_server", "IPython")


def public_names(module: types.ModuleType) -> set[str]:
    """Names a module offers that are neither private nor submodules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_is_sorted_and_lists_every_public_name() -> None:
    exported = jupyter_tunnels.__all__
    assert list(exported) == sorted(exported)
    assert set(exported) == public_names(jupyter_tunnels) | {"__version__"}
    assert jupyter_tunnels.__version__


def test_client_package_exports_what_it_defines() -> None:
    exported = jupyter_tunnels.client.__all__
    assert set(exported) == public_names(jupyter_tunnels.client)
    assert len(set(exported)) == len(exported)


def test_every_exception_derives_from_tunnel_error() -> None:
    for name in jupyter_tunnels.__all__:
        value = getattr(jupyter_tunnels, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, jupyter_tunnels.TunnelError), name
            assert value.__doc__, name


def test_importing_the_package_does_not_import_the_hub() -> None:
    check = (
        "import sys, jupyter_tunnels; "
        f"print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
