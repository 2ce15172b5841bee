"""The async client's tests run on both of anyio's backends: asyncio and trio.

The hubs they talk to run on asyncio in their own thread (tests/_hubs.py), so the client's
event loop is free to be either.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The event loop an async test runs on; overrides the asyncio-only one of tests/."""
    backend: str = request.param
    return backend
