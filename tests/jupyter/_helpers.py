"""Helpers shared by the server-extension tests."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.serverapp import ServerApp

from jupyter_tunnels.jupyter import TunnelsApp

NAME = "jupyter_tunnels"
XSRF = "ab" * 16
"""An XSRF token of tornado's plain (version 1) form: the cookie and the header must match."""


def tunnels_app(serverapp: ServerApp) -> TunnelsApp:
    """The extension app loaded in ``serverapp``."""
    (app,) = serverapp.extension_manager.extension_apps[NAME]
    assert isinstance(app, TunnelsApp)
    return app


async def start(serverapp: ServerApp) -> TunnelsApp:
    """Run the start hook (pytest-jupyter does not) and wait for the connector."""
    await serverapp.extension_manager.start_extension(NAME)
    app = tunnels_app(serverapp)
    await app.ready_connector()
    return app


def body(response: Any) -> Any:
    """The JSON body of a tornado response."""
    return json.loads(response.body)
