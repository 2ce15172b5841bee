"""The standalone hub's visitor side over real HTTP: who may use a tunnel's URL, and what they
hear while no connector is attached (hub/ingress/_policy.py, hub/services/_routing.py). What
holds on both hostings is in test_http.py, test_framing.py and test_share_links.py."""

from __future__ import annotations

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
