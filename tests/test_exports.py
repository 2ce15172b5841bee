"""The public surface: ``jupyter_tunnels.__all__`` is sorted, complete, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
import types

import jupyter_tunnels
import jupyter_tunnels.client

HEAVY_MODULES = ("tornado", "sqlalchemy", "aiosqlite", "jupyter_server", "IPython")
SDK_MODULES = ("httpx", "jupyter_tunnels.client", "jupyter_tunnels.kernel")


def public_names(module: types.ModuleType) -> set[str]:
    """Names a module offers (``dir``: lazily loaded ones too), neither private nor modules."""
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
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


def imported_by(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    check = f"import sys; {code}; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.split()


def test_the_hub_process_does_not_load_the_sdk() -> None:
    # the hub and its CLI command; the SDK (httpx) comes with the first webhook delivery
    code = "import jupyter_tunnels.hub, jupyter_tunnels.cli._main, jupyter_tunnels.cli._hub"
    assert imported_by(code, SDK_MODULES) == []


def test_lazy_exports_load_on_first_use_and_unknown_names_fail() -> None:
    code = "import jupyter_tunnels as t; assert t.TunnelsClient.__name__ == 'TunnelsClient'"
    assert imported_by(code, SDK_MODULES) == ["httpx", "jupyter_tunnels.client"]
    code = "from jupyter_tunnels import expose"
    assert "jupyter_tunnels.kernel" in imported_by(code, SDK_MODULES)
    missing = subprocess.run(
        [sys.executable, "-c", "import jupyter_tunnels; jupyter_tunnels.NoSuchThing"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "module 'jupyter_tunnels' has no attribute 'NoSuchThing'" in missing.stderr
