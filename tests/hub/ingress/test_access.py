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


def test_a_refusal_the_hub_cannot_read_past_closes_cleanly(hub: RunningHub) -> None:
    """The hub answers and closes without a reset even when unread bytes wait (a pipelined
    flood that is no request, a body too long to drop): a reset could make a client lose the
    answer. A refused request whose body it can drop keeps the connection (``DRAINED_BODY``)."""
    with client(hub) as api:
        tunnel = create_tunnel(api, name="private app")
    host, port = hub.server.host, hub.server.port
    path = f"/t/{tunnel['slug']}/"
    head = f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    too_long = (1 << 20) + 1
    upload = f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {too_long}\r\n\r\n".encode()
    answers = []
    for request in (head + b"x" * 400_000, upload + bytes(too_long)):
        with socket.create_connection((host, port), timeout=15) as raw:
            raw.sendall(request)
            time.sleep(0.2)  # let the hub answer and close while bytes are still unread
            answer = b""
            while chunk := raw.recv(65536):  # a reset raises ConnectionResetError here
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert answer.endswith((b"}", b"</html>")), "the whole answer came"
        answers.append(answer)
    flood, upload_answer = answers
    # the GET was refused on a kept-alive connection, then what followed was no request head
    assert b"\r\nConnection: close\r\n" not in flood.partition(b"HTTP/1.1 431 ")[0]
    assert b"HTTP/1.1 431 " in flood and flood.endswith(b"}")
    assert upload_answer.count(b"HTTP/1.1 ") == 1
    assert b"\r\nConnection: close\r\n" in upload_answer


def test_a_refusal_keeps_the_connection_when_its_body_can_be_dropped(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="private app")
    host, port = hub.server.host, hub.server.port
    path = f"/t/{tunnel['slug']}/"
    upload = f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {1 << 20}\r\n\r\n".encode()
    last = f"GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=15) as raw:
        raw.sendall(upload + bytes(1 << 20) + last)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    first, _, second = answer.partition(b"HTTP/1.1 401")[2].partition(b"HTTP/1.1 401")
    assert b"Connection: close" not in first, "the dropped body kept the connection"
    assert b"\r\nConnection: close\r\n" in second, "the last request closed it"
