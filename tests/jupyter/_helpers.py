"""Helpers shared by the server-extension tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, Protocol

from jupyter_server.serverapp import ServerApp
from tornado.httpclient import HTTPResponse

from jupyter_tunnels.jupyter import TunnelsApp

NAME = "jupyter_tunnels"
XSRF = "ab" * 16
"""An XSRF token of tornado's plain (version 1) form: the cookie and the header must match."""


class Fetch(Protocol):
    """pytest-jupyter's ``jp_fetch``: requests the path joined from ``parts`` under the test
    server's base URL, with the server's token unless ``headers`` carry their own
    Authorization; the other keyword arguments go to tornado's ``fetch``."""

    def __call__(
        self,
        *parts: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Awaitable[HTTPResponse]: ...


def tunnels_app(serverapp: ServerApp) -> TunnelsApp:
    """The extension app loaded in ``serverapp``."""
    (app,) = serverapp.extension_manager.extension_apps[NAME]
    assert isinstance(app, TunnelsApp)
    return app


async def start(serverapp: ServerApp) -> TunnelsApp:
    """Run the start hook (pytest-jupyter does not) and wait for the connector."""
    # jupyter_server leaves start_extension untyped
    await serverapp.extension_manager.start_extension(NAME)  # type: ignore[no-untyped-call]
    app = tunnels_app(serverapp)
    await app.ready_connector()
    return app


def body(response: HTTPResponse) -> Any:
    """The JSON body of a tornado response."""
    return json.loads(response.body)
