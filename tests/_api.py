"""Helpers for the hub's end-to-end tests: HTTP clients, error checks, polling, snapshots.

Everything goes over real HTTP to a real hub (see ``_hubs.py``); nothing here reaches into
the hub's internals.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import pytest

from jupyter_tunnels._core.env import TOKEN_ENV
from jupyter_tunnels._core.errors import HTTP_STATUS, ErrorCode
from tests._hubs import RunningHub, start_hub

T = TypeVar("T")

REQUEST_TIMEOUT = 15.0
WAIT_TIMEOUT = 10.0
POLL_INTERVAL = 0.05
ERROR_KEYS = {"code", "message", "details"}


@contextlib.contextmanager
def shared_hub(directory: Path) -> Iterator[RunningHub]:
    """A hub for a whole module of tests that leave it as they found it (module fixtures)."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv(TOKEN_ENV, raising=False)  # the admin token must come from the file
        hub = start_hub(directory / "hub.db")
    try:
        yield hub
    finally:
        hub.stop()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context shared by every client: httpx builds one per client otherwise, which
    costs tens of milliseconds each (the hubs under test speak plain HTTP anyway)."""
    return ssl.create_default_context()


def client(hub: RunningHub, token: str | None = None) -> httpx.Client:
    """An httpx client for the hub's API, authenticated with ``token`` (the admin's by default).

    Pass ``token=""`` for a client without credentials.
    """
    token = hub.token if token is None else token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=hub.url, headers=headers, timeout=REQUEST_TIMEOUT, verify=_tls())


def visitor() -> httpx.Client:
    """An httpx client for a tunnel's visitors: no credentials, no base URL."""
    return httpx.Client(timeout=REQUEST_TIMEOUT, verify=_tls())


def auth(token: str) -> dict[str, str]:
    """The ``Authorization`` header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    """Assert a success status and return the JSON body."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def assert_error(response: httpx.Response, code: ErrorCode) -> dict[str, Any]:
    """Assert the error envelope ``{code, message, details}`` with the status of ``code``."""
    assert response.status_code == HTTP_STATUS[code], (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code.value, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def when(timestamp: str) -> datetime:
    """Parse a timestamp of the API (ISO 8601, UTC)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def wait_for(check: Callable[[], T | Literal[False] | None], timeout: float = WAIT_TIMEOUT) -> T:
    """Call ``check`` until it returns something other than None (or False); return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s: last result {result!r}")
        time.sleep(POLL_INTERVAL)


def snapshot(api: httpx.Client) -> dict[str, Any]:
    """Everything the caller can list: tunnels (all), leases (all), agents, and webhooks with
    their deliveries."""
    webhooks = ok(api.get("/v1/webhooks"))
    return {
        "tunnels": ok(api.get("/v1/tunnels", params={"includeInactive": "true"})),
        "leases": ok(api.get("/v1/leases", params={"includeExpired": "true"})),
        "agents": ok(api.get("/v1/agents")),
        "webhooks": webhooks,
        "deliveries": {
            hook["id"]: ok(api.get(f"/v1/webhooks/{hook['id']}/deliveries")) for hook in webhooks
        },
    }


def create_tunnel(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """Create a tunnel (``target`` defaults to port 8050) and return it."""
    body.setdefault("target", "8050")
    result: dict[str, Any] = ok(api.post("/v1/tunnels", json=body), 201)
    return result


def create_lease(api: httpx.Client, client_instance_id: str, **body: Any) -> dict[str, Any]:
    """Create (or attach to) a lease for ``client_instance_id`` and return the grant."""
    response = api.post("/v1/leases", json={"clientInstanceId": client_instance_id, **body})
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def heartbeat(api: httpx.Client, lease_id: str, **body: Any) -> httpx.Response:
    """Send a heartbeat for ``lease_id`` with readiness flags in ``body``."""
    return api.post(f"/v1/leases/{lease_id}/heartbeat", json=body)
