"""The visitor side over real HTTP: who may use a tunnel's URL, and what they hear while no
connector is attached (hub/ingress/_front.py, hub/services/_routing.py, hub/ingress/_tornado.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from jupyter_tunnels._core.errors import ErrorCode
from tests._api import (
    assert_error,
    auth,
    client,
    create_lease,
    create_tunnel,
    heartbeat,
    ok,
    visitor,
)
from tests._hubs import RunningHub


def test_private_tunnel_needs_its_owners_token(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, visitor() as web:
        tunnel = create_tunnel(api, name="private app")
        url = tunnel["url"]
        missing = web.get(url)
        assert_error(missing, ErrorCode.MISSING_AUTH)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert_error(web.get(url, headers=auth(bob)), ErrorCode.INVALID_TOKEN)
        assert_error(web.get(url, headers=auth("jtu_not-a-token")), ErrorCode.INVALID_TOKEN)
        basic = web.get(url, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert_error(basic, ErrorCode.MISSING_AUTH)
        owner = assert_error(
            web.get(url + "some/page?q=1", headers=auth(hub.token)), ErrorCode.AGENT_UNAVAILABLE
        )
        assert "connector" in owner["message"]


def test_public_tunnel_needs_nothing(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        lease = create_lease(api, "laptop")
        tunnel = create_tunnel(api, access="public", leaseId=lease["id"])
        for method in ("GET", "POST", "PUT", "DELETE"):
            answer = web.request(method, tunnel["url"] + "api")
            assert_error(answer, ErrorCode.AGENT_UNAVAILABLE)
        # Even a connector that reports itself connected is no use until it attaches.
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        assert_error(web.get(tunnel["url"]), ErrorCode.AGENT_UNAVAILABLE)


def test_paused_tunnel_refuses_visitors_with_a_clear_message(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        lease = create_lease(api, "laptop")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        tunnel = create_tunnel(api, access="public", leaseId=lease["id"])
        ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": "paused"}))
        paused = assert_error(web.get(tunnel["url"]), ErrorCode.AGENT_UNAVAILABLE)
        assert "paused" in paused["message"]
        ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": "active"}))
        resumed = assert_error(web.get(tunnel["url"]), ErrorCode.AGENT_UNAVAILABLE)
        assert "paused" not in resumed["message"]


def test_paused_private_tunnel_still_checks_the_token_first(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        lease = create_lease(api, "laptop")
        tunnel = create_tunnel(api, leaseId=lease["id"])
        ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": "paused"}))
        assert_error(web.get(tunnel["url"]), ErrorCode.MISSING_AUTH)
        paused = assert_error(
            web.get(tunnel["url"], headers=auth(hub.token)), ErrorCode.AGENT_UNAVAILABLE
        )
        assert "paused" in paused["message"]


def test_unknown_and_stopped_tunnels_are_404(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        assert_error(web.get(f"{hub.url}/t/nothing-here/"), ErrorCode.TUNNEL_NOT_FOUND)
        tunnel = create_tunnel(api, access="public")
        assert_error(web.get(tunnel["url"]), ErrorCode.AGENT_UNAVAILABLE)
        ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        assert_error(web.get(tunnel["url"]), ErrorCode.TUNNEL_NOT_FOUND)


def test_path_without_trailing_slash_redirects(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        create_tunnel(api, slug="app", access="public")
        answer = web.get(f"{hub.url}/t/app?x=1")
    assert answer.status_code == 308
    assert answer.headers["location"] == "/t/app/?x=1"


def test_subdomain_routing_with_a_domain(make_hub: Callable[..., RunningHub]) -> None:
    hub = make_hub(domain="tunnels.test")
    port = hub.url.rsplit(":", 1)[1]
    with client(hub) as api, visitor() as web:
        tunnel = create_tunnel(api, slug="demo", access="public")
        assert tunnel["hostname"] == "demo.tunnels.test"
        assert tunnel["url"] == f"http://demo.tunnels.test:{port}/"
        by_host = web.get(f"{hub.url}/anything", headers={"Host": f"demo.tunnels.test:{port}"})
        assert_error(by_host, ErrorCode.AGENT_UNAVAILABLE)
        unknown = web.get(f"{hub.url}/", headers={"Host": f"nope.tunnels.test:{port}"})
        assert_error(unknown, ErrorCode.TUNNEL_NOT_FOUND)
        assert_error(web.get(f"{hub.url}/t/demo/"), ErrorCode.AGENT_UNAVAILABLE)
        # The API itself still answers on the hub's own host name.
        assert ok(api.get("/v1/tunnels"))[0]["id"] == tunnel["id"]


def test_a_refusal_ends_the_connection_cleanly_whatever_the_visitor_still_sends(
    hub: RunningHub,
) -> None:
    """The hub answers and closes without a reset even when unread bytes wait (a pipelined
    flood, an unread 1 MiB body): a reset could make a client lose the answer."""
    with client(hub) as api:
        tunnel = create_tunnel(api, name="private app")
    host, port = hub.server.host, hub.server.port
    path = f"/t/{tunnel['slug']}/"
    head = f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    upload = f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {1 << 20}\r\n\r\n".encode()
    for request in (head + b"x" * 400_000, upload + bytes(1 << 20)):
        with socket.create_connection((host, port), timeout=15) as raw:
            raw.sendall(request)
            time.sleep(0.2)  # let the hub answer and close while bytes are still unread
            answer = b""
            while chunk := raw.recv(65536):  # a reset raises ConnectionResetError here
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert b"\r\nConnection: close\r\n" in answer
