"""Fixtures of the ingress suite: every test taking ``hosting`` runs against both hostings.

The embedded hosting's Jupyter server is started once for the whole run (a few seconds), one
per set of settings asked for; each test closes the tunnels it exposed. The standalone hosting
gets a fresh hub per test.

Tests that need other settings than the defaults ask :func:`make_hosting` for a hosting with
them, by the names both hostings share: ``HubServer.start``'s keyword arguments are
``c.TunnelsApp``'s traits (``head_timeout=2.0``, ``max_unfinished_heads=8``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests._hubs import RunningHub
from tests.hub.ingress._hostings import HOSTINGS, Embedded, Hosting, MakeHosting, Standalone
from tests.kernel._servers import JupyterServerProcess, start_jupyter_server

EMBEDDED_BASE_URL = "/a%40b/"
"""The embedded server's base URL: with an escaped character, as pytest-jupyter's default."""

ServerWith = Callable[..., JupyterServerProcess]
"""``server_with(**settings)``: the run's Jupyter server with these ``c.TunnelsApp`` settings."""


@pytest.fixture(scope="session")
def embedded_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerWith]:
    """Jupyter servers with the extension, one per set of settings, each started when first
    asked for and kept for the whole run."""
    servers: dict[tuple[tuple[str, Any], ...], JupyterServerProcess] = {}

    def server_with(**settings: Any) -> JupyterServerProcess:
        key = tuple(sorted(settings.items()))
        if key not in servers:
            base = tmp_path_factory.mktemp("ingress-jupyter")
            servers[key] = start_jupyter_server(base, EMBEDDED_BASE_URL, tunnels=settings)
        return servers[key]

    yield server_with
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def embedded_server(embedded_servers: ServerWith) -> JupyterServerProcess:
    """A Jupyter server with the extension and the default settings, for the whole run."""
    return embedded_servers()


@pytest.fixture
async def make_hosting(
    make_hub: Callable[..., RunningHub], embedded_servers: ServerWith
) -> AsyncIterator[MakeHosting]:
    """Make hostings with the given settings; each is closed when the test ends."""
    made: list[Hosting] = []

    def make(kind: str, **settings: Any) -> Hosting:
        chosen: Hosting
        if kind == "standalone":
            chosen = Standalone(make_hub(**settings))
        else:
            chosen = Embedded(embedded_servers(**settings))
        made.append(chosen)
        return chosen

    try:
        yield make
    finally:
        for hosting in made:
            await hosting.aclose()


@pytest.fixture(params=HOSTINGS)
def hosting(request: pytest.FixtureRequest, make_hosting: MakeHosting) -> Hosting:
    """Each hosting in turn, with the default settings."""
    return make_hosting(request.param)
