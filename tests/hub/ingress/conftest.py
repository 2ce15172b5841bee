"""Fixtures of the ingress suite: every test taking ``hosting`` runs against both hostings.

The embedded hosting's Jupyter server is started once for the whole run (a few seconds); each
test closes the tunnels it exposed. The standalone hosting gets a fresh hub per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests._hubs import RunningHub
from tests.hub.ingress._hostings import Embedded, Hosting, Standalone
from tests.kernel._servers import JupyterServerProcess, start_jupyter_server

EMBEDDED_BASE_URL = "/a%40b/"
"""The embedded server's base URL: with an escaped character, as pytest-jupyter's default."""


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A Jupyter server with the extension, for the whole run."""
    server = start_jupyter_server(tmp_path_factory.mktemp("ingress-jupyter"), EMBEDDED_BASE_URL)
    yield server
    server.stop()


@pytest.fixture(params=["standalone", "embedded"])
async def hosting(
    request: pytest.FixtureRequest, make_hub: Callable[..., RunningHub]
) -> AsyncIterator[Hosting]:
    """Each hosting in turn."""
    chosen: Hosting
    if request.param == "standalone":
        chosen = Standalone(make_hub())
    else:
        chosen = Embedded(request.getfixturevalue("embedded_server"))
    try:
        yield chosen
    finally:
        await chosen.aclose()
