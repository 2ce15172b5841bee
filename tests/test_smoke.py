from __future__ import annotations

import httpx

from tests._hubs import RunningHub


def test_health(hub: RunningHub) -> None:
    response = httpx.get(f"{hub.url}/v1/health", headers=hub.headers)
    assert response.status_code == 200
    assert response.json()["counts"]["tunnels"] == 0
