"""Fixtures: real hubs on 127.0.0.1 with port 0, each with its own SQLite file."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._apps import Services, start_services
from tests._hubs import RunningHub, start_hub


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own hub settings and proxies out of the tests."""
    for name in ("JUPYTER_TUNNELS_HUB", "JUPYTER_TUNNELS_TOKEN", "JUPYTER_TUNNELS_DB"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, like the hub and Jupyter."""
    return "asyncio"


@pytest.fixture
def services() -> Iterator[Services]:
    """The HTTP test app, a TCP echo and a UDP echo service on 127.0.0.1:0 (the kernel and
    server-extension suites give the app a name of their own)."""
    running = start_services()
    yield running
    running.stop()


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Callable[..., RunningHub]]:
    """Start hubs with custom options (``lease_ttl=1``...); all are stopped at the end."""
    hubs: list[RunningHub] = []

    def make(db_path: Path | None = None, **options: Any) -> RunningHub:
        hub = start_hub(db_path or tmp_path / f"hub{len(hubs)}" / "hub.db", **options)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture
def hub(make_hub: Callable[..., RunningHub]) -> RunningHub:
    """A fresh hub with default settings and its admin token."""
    return make_hub()


@pytest.fixture
def unused_tcp_port_range() -> range:
    """Ten consecutive ports that are free now (both for TCP and UDP)."""
    for base in range(41000, 60000, 97):
        candidates = range(base, base + 10)
        try:
            for port in candidates:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    with socket.socket(socket.AF_INET, kind) as sock:
                        sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return candidates
    raise AssertionError("no free port range")
