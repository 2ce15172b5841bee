"""Share links through the SDK on the standalone hub (their visitor side on both hostings is in
tests/hub/ingress/test_share_links.py): a real hub, a real connector and the test app, over
real sockets. Each limit is hit for real: 403/410 for revoked/expired links, 405 with
``Allow``, 429 with ``Retry-After``; the app never sees the token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from jupyter_tunnels import AsyncTunnelsClient, BadRequest, NotFound, Share, ShareGrant
from jupyter_tunnels.hub.store import _tables
from tests._apps import Services, as_json
from tests._hubs import RunningHub
from tests._tunnels import WAIT, connector_for, hub_address, visitor

pytestmark = pytest.mark.anyio

BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


def _token(grant: ShareGrant) -> str:
    assert grant.share_url is not None
    query = urlsplit(grant.share_url).query
    assert query == f"share_token={grant.token}"
    return grant.token


def _expire(hub: RunningHub, share_id: str, tunnel_id: str) -> None:
    """Move a share's expiry into the past, as time would (a write the router reloads)."""

    async def expire() -> None:
        store = hub.server.hub.store
        async with store.write() as conn:
            await conn.execute(
                update(_tables.shares).where(_tables.shares.c.id == share_id).values(expires_at=1.0)
            )
            store.changed(conn, [tunnel_id])

    hub.call(expire())


async def test_a_share_link_opens_a_private_tunnel_without_credentials(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector, visitor() as http:
        client = connector.client
        tunnel = await connector.expose(services.http_port, name="private")
        assert (await http.get(tunnel.url)).status_code == 401

        grant = await client.create_share(tunnel.id, "for the team", description="demo day")
        token = _token(grant)
        assert grant.share_url == f"{tunnel.url}?share_token={token}"
        assert token.startswith("jts_")
        assert grant.active and grant.access_count == 0
        assert grant.expiration.value == "24h" and grant.expires_at is not None
        assert grant.allowed_methods is None and grant.rate_limit_per_minute is None

        page = await http.get(grant.share_url)
        assert (page.status_code, page.text) == (200, "hello from the app\n")

        # a machine client: token in the query, relayed at once; the app never sees it
        seen = await http.post(
            f"{tunnel.url}headers/hook?a=1&share_token={token}&b=2",
            headers={"Cookie": "app=1"},
            content=b"{}",
        )
        assert seen.status_code == 200, seen.text
        app_view = seen.json()
        assert app_view["query"] == "a=1&b=2"
        assert token not in json.dumps(app_view)
        assert app_view["headers"]["Cookie"] == "app=1"

        # clients that set headers may send it as a bearer: also removed
        seen = (await http.get(f"{tunnel.url}headers/", headers=_bearer(token))).json()
        assert "Authorization" not in seen["headers"]

        shares = await client.list_shares(tunnel.id)
        assert [s.id for s in shares] == [grant.id]
        assert shares[0].access_count == 3
        assert shares[0].last_accessed_at is not None
        assert isinstance(shares[0], Share) and not hasattr(shares[0], "token")
        assert await client.get_share(grant.id) == shares[0]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_revoked_expired_and_unknown_links_are_refused(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector, visitor() as http:
        client = connector.client
        tunnel = await connector.expose(services.http_port, name="short")
        other = await connector.expose(services.http_port, name="other", host="localhost")
        revoked = await client.create_share(tunnel.id, "to revoke")
        expiring = await client.create_share(tunnel.id, "to expire", expiration="1h")
        never = await client.create_share(tunnel.id, "forever", expiration="never")
        assert never.expires_at is None
        assert (await http.get(revoked.share_url or "")).status_code == 200

        gone = await client.revoke_share(revoked.id)
        assert not gone.active and gone.revoked_at is not None
        refused = await http.get(revoked.share_url or "")
        assert (refused.status_code, refused.json()["code"]) == (403, "SHARE_REVOKED")
        assert await client.revoke_share(revoked.id) == await client.get_share(revoked.id)

        _expire(hub, expiring.id, tunnel.id)
        refused = await http.get(expiring.share_url or "")
        assert (refused.status_code, refused.json()["code"]) == (410, "SHARE_EXPIRED")
        # the cookie of an expired link is refused the same way
        refused = await http.get(tunnel.url, headers={"Cookie": f"tunnels_share={expiring.token}"})
        assert refused.status_code == 410
        assert not (await client.get_share(expiring.id)).active

        for token in ("jts_made-up", never.token):  # unknown, or a link to another tunnel
            refused = await http.get(f"{other.url}?share_token={token}")
            assert (refused.status_code, refused.json()["code"]) == (403, "INVALID_SHARE")
        # a browser with a dead link gets the refusal, not a cookie
        refused = await http.get(revoked.share_url or "", headers=BROWSER)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        assert (await http.get(never.share_url or "")).status_code == 200


async def test_raw_reach_through_a_share_needs_connect(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        client = connector.client
        await connector.expose(services.tcp_port, protocol="tcp", name="echo")
        raw = await client.create_share("echo", "streams", allowed_methods=["CONNECT"])
        assert raw.share_url is None, "a tcp tunnel is reached with the token, not a link"
        http_only = await client.create_share("echo", "http only", allowed_methods=["GET"])
        host, port = hub_address(hub)

        async def connect(token: str) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"CONNECT echo:0 HTTP/1.1\r\nHost: echo\r\n{_line(token)}\r\n".encode())
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT), reader, writer

        head, reader, writer = await connect(raw.token)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.write(b"ping")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), WAIT) == b"pingtotal:4"
        writer.close()
        head, _, writer = await connect(http_only.token)
        assert head.startswith(b"HTTP/1.1 405 ")
        writer.close()


def _line(token: str) -> str:
    return f"Authorization: Bearer {token}\r\n"


async def test_bad_share_requests_change_nothing(hub: RunningHub, services: Services) -> None:
    eve = hub.new_owner("eve")
    async with connector_for(hub) as connector, visitor(headers=hub.headers) as api:
        tunnel = await connector.expose(services.http_port, name="mine")
        kept = await connector.client.create_share(tunnel.id, "kept")
        shares_url = f"{hub.url}/v1/tunnels/{tunnel.id}/shares"
        bad_bodies: list[Any] = [
            {},
            {"name": ""},
            {"name": "x" * 101},
            {"name": "n", "description": "d" * 501},
            {"name": "n", "expiration": "2h"},
            {"name": "n", "allowedMethods": []},
            {"name": "n", "allowedMethods": ["FETCH"]},
            {"name": "n", "rateLimitPerMinute": 0},
            {"name": "n", "rateLimitPerMinute": 1001},
            {"name": "n", "rateLimitPerMinute": 1.5},
            {"name": "n", "pathPrefix": "api"},
            {"name": "n", "pathPrefix": "/a b"},
            {"name": "n", "token": "jts_mine"},
            ["name"],
        ]
        for body in bad_bodies:
            answer = await api.post(shares_url, json=body)
            assert answer.status_code == 400, body
            name_wrong = isinstance(body, dict) and len(body.get("name", "")) in (0, 101)
            expected = "INVALID_NAME" if name_wrong else "INVALID_INPUT"
            assert answer.json()["code"] == expected, body
        worded = await api.post(shares_url, json={"name": "n", "pathPrefix": "api"})
        assert worded.json()["message"] == (
            "pathPrefix: must be a path starting with / (visible ASCII characters, no spaces)"
        )
        answer = await api.post(
            shares_url, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_JSON")
        missing = await api.post(f"{hub.url}/v1/tunnels/nope/shares", json={"name": "n"})
        assert (missing.status_code, missing.json()["code"]) == (404, "TUNNEL_NOT_FOUND")
        assert (await api.get(f"{hub.url}/v1/shares/nope")).status_code == 404
        assert [s.id for s in await connector.client.list_shares(tunnel.id)] == [kept.id]

        async with AsyncTunnelsClient(hub.url, eve) as eves:
            with pytest.raises(NotFound):
                await eves.create_share(tunnel.id, "not mine")
            with pytest.raises(NotFound):
                await eves.list_shares(tunnel.id)
            with pytest.raises(NotFound):
                await eves.revoke_share(kept.id)
            with pytest.raises(BadRequest):
                await eves.create_share("x", "y", rate_limit_per_minute=0)
        assert (await connector.client.get_share(kept.id)).active

        await connector.client.delete(tunnel.id)
        closed = await api.post(shares_url, json={"name": "late"})
        assert (closed.status_code, closed.json()["code"]) == (409, "ILLEGAL_TRANSITION")


async def test_share_events_reach_webhooks(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        client = connector.client
        hook = await client.create_webhook(
            "http://127.0.0.1:9/hook", ["share.created", "share.revoked"]
        )
        tunnel = await connector.expose(services.http_port, name="evented")
        grant = await client.create_share(tunnel.id, "watched")
        await client.revoke_share(grant.id)
        await client.revoke_share(grant.id)  # no second event
        deliveries = await client.list_webhook_deliveries(hook.id)
        assert sorted(d.event for d in deliveries) == ["share.created", "share.revoked"]
        for delivery in deliveries:
            data = delivery.payload["data"]
            assert data["share"]["id"] == grant.id
            assert data["tunnel"]["id"] == tunnel.id
            assert grant.token not in json.dumps(delivery.payload)


def test_shares_survive_a_restart(make_hub: Callable[..., RunningHub]) -> None:
    first = make_hub()
    with httpx.Client(base_url=first.url, headers=first.headers, trust_env=False) as api:
        tunnel = as_json(api.post("/v1/tunnels", json={"target": "8050", "name": "kept"}).content)
        grant = api.post(f"/v1/tunnels/{tunnel['id']}/shares", json={"name": "s"}).json()
        revoked = api.post(f"/v1/tunnels/{tunnel['id']}/shares", json={"name": "r"}).json()
        assert api.delete(f"/v1/shares/{revoked['id']}").status_code == 200
    first.stop()
    second = make_hub(db_path=first.db_path)
    with httpx.Client(base_url=second.url, headers=second.headers, trust_env=False) as api:
        listed = api.get(f"/v1/tunnels/{tunnel['id']}/shares").json()
        assert [(s["name"], s["active"]) for s in listed] == [("s", True), ("r", False)]
    with httpx.Client(base_url=second.url, trust_env=False) as http:
        # no connector serves it: the link is judged valid, then the hub says who is missing
        known = http.get(f"/t/{tunnel['slug']}/?share_token={grant['token']}")
        assert (known.status_code, known.json()["code"]) == (503, "AGENT_UNAVAILABLE")
        dead = http.get(f"/t/{tunnel['slug']}/?share_token={revoked['token']}")
        assert dead.status_code == 403
