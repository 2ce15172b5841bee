"""The environment variables every part reads (the SDK, the CLI, the hub, the server
extension), in a module that imports nothing, so a process that only runs the hub does not
load the SDK to learn their names."""

from __future__ import annotations

__all__ = ["HUB_URL_ENV", "TOKEN_ENV"]

HUB_URL_ENV = "JUPYTER_TUNNELS_HUB"
"""Environment variable holding the hub's base URL."""
TOKEN_ENV = "JUPYTER_TUNNELS_TOKEN"
"""Environment variable holding the API token (at a hub's first start: its admin token)."""
