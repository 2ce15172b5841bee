"""The extension with its embedded hub: Jupyter's auth in front of the hub's API, the
connector owned by the server, ``expose`` and ``info``, and a clean shutdown."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.serverapp import ServerApp
from tornado.httpclient import HTTPResponse

from jupyter_tunnels import TunnelStatus
from jupyter_tunnels.jupyter._config import loopback_name
from tests._apps import Services
from tests._sockets import closed_port
from tests.jupyter._helpers import XSRF, Fetch, body, start, tunnels_app

# jp_fetch adds its token to the headers dict it is given: always pass a copy of these
NO_AUTH = {"Authorization": ""}
JSON = {"Content-Type": "application/json"}


async def test_api_refuses_requests_without_jupyter_auth(
    jp_fetch: Fetch, jp_serverapp: ServerApp
) -> None:
    await start(jp_serverapp)
    for headers in (NO_AUTH, {"Authorization": "Bearer jtu_not-a-token-of-this-hub"}):
        answer = await jp_fetch("tunnels", "v1", "tunnels", headers=headers, raise_error=False)
        assert answer.code == 403
        assert body(answer)["code"] == "MISSING_AUTH"
    answer = await jp_fetch("tunnels", "info", headers=dict(NO_AUTH), raise_error=False)
    assert answer.code == 403
    answer = await jp_fetch(
        "tunnels", "expose", method="POST", body="{}", headers=dict(NO_AUTH), raise_error=False
    )
    assert answer.code == 403


async def test_cookie_auth_needs_xsrf_on_post(jp_fetch: Fetch, jp_serverapp: ServerApp) -> None:
    await start(jp_serverapp)
    login = await jp_fetch("tunnels", "info")  # token-authenticated: Jupyter sets its cookie
    cookies = [value.split(";", 1)[0] for value in login.headers.get_list("Set-Cookie")]
    assert cookies, "Jupyter set no login cookie"
    cookie = "; ".join(cookies)

    listed = await jp_fetch("tunnels", "v1", "tunnels", headers={**NO_AUTH, "Cookie": cookie})
    assert body(listed) == []

    create = json.dumps({"target": {"host": "127.0.0.1", "port": 9}})
    refused = await jp_fetch(
        "tunnels", "v1", "tunnels", method="POST", body=create,
        headers={**NO_AUTH, **JSON, "Cookie": cookie}, raise_error=False,
    )  # fmt: skip
    assert refused.code == 403
    assert body(refused)["code"] == "INVALID_TOKEN"

    accepted = await jp_fetch(
        "tunnels", "v1", "tunnels", method="POST", body=create,
        headers={**NO_AUTH, **JSON, "Cookie": f"{cookie}; _xsrf={XSRF}", "X-XSRFToken": XSRF},
    )  # fmt: skip
    assert accepted.code == 201
    assert body(accepted)["target"] == {"host": "127.0.0.1", "port": 9}


async def test_list_create_get_through_the_jupyter_api(
    jp_fetch: Fetch, jp_serverapp: ServerApp
) -> None:
    await start(jp_serverapp)
    created = body(
        await jp_fetch(
            "tunnels", "v1", "tunnels", method="POST", headers=dict(JSON),
            body=json.dumps({"name": "dash", "target": {"host": "127.0.0.1", "port": 8050}}),
        )
    )  # fmt: skip
    assert created["name"] == "dash"
    assert created["url"].endswith(f"/tunnels/t/{created['slug']}/")
    fetched = body(await jp_fetch("tunnels", "v1", "tunnels", created["id"]))
    assert fetched["id"] == created["id"]
    listed = body(await jp_fetch("tunnels", "v1", "tunnels"))
    assert [tunnel["id"] for tunnel in listed] == [created["id"]]
    missing = await jp_fetch("tunnels", "v1", "nowhere", raise_error=False)
    assert missing.code == 404
    assert body(missing)["code"] == "NOT_FOUND"


async def test_a_tunnel_created_through_the_api_is_served_by_the_servers_connector(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    app = await start(jp_serverapp)
    assert app.connector is not None
    answer = await jp_fetch(
        "tunnels", "v1", "tunnels", method="POST", headers=dict(JSON),
        body=json.dumps({"target": f"127.0.0.1:{services.http_port}", "name": "x"}),
    )  # fmt: skip
    assert answer.code == 201
    created = body(answer)
    assert created["status"] == "active"
    assert created["leaseId"] == app.connector.lease_id
    assert created["lastError"] is None
    visit = await jp_fetch("tunnels", "t", created["slug"] + "/")
    assert visit.body == b"hello from the app\n"

    # a target the connector may not dial is refused, not left waiting
    refused = await jp_fetch(
        "tunnels", "v1", "tunnels", method="POST", headers=dict(JSON), raise_error=False,
        body=json.dumps({"target": "192.0.2.1:80", "name": "elsewhere"}),
    )  # fmt: skip
    assert refused.code == 400
    assert body(refused)["code"] == "INVALID_INPUT"
    assert "not allowed" in body(refused)["message"]


async def test_info_says_embedded(
    jp_fetch: Fetch, jp_serverapp: ServerApp, jp_base_url: str
) -> None:
    await start(jp_serverapp)
    info = body(await jp_fetch("tunnels", "info"))
    assert info["mode"] == "embedded"
    assert info["apiBase"] == f"{jp_base_url}tunnels/v1"
    assert info["hubUrl"] == f"http://127.0.0.1:{jp_serverapp.port}{jp_base_url}tunnels"
    assert info["originUrl"] == f"http://{{slug}}.localhost:{jp_serverapp.port}/"


async def test_only_a_server_on_loopback_serves_tunnels_at_their_own_origin(
    jp_fetch: Fetch, jp_serverapp: ServerApp
) -> None:
    """Reached from other machines, ``{slug}.localhost`` would name the visitor's own."""
    app = await start(jp_serverapp)  # jp_fetch: the server listens
    listening = jp_serverapp.ip
    try:
        for ip, serves in [("localhost", True), ("::1", True), ("127.0.0.2", True),
                           ("0.0.0.0", False), ("", False), ("192.0.2.7", False),
                           ("example.org", False)]:  # fmt: skip
            jp_serverapp.ip = ip
            assert app.serves_origins() is serves, ip
    finally:
        jp_serverapp.ip = listening
    # the authorize redirect goes where Jupyter's login cookie is: the name its URL is printed with
    names = [loopback_name(ip) for ip in ("localhost", "127.0.0.1", "::1")]
    assert names == ["localhost", "127.0.0.1", "[::1]"]


async def expose(jp_fetch: Fetch, **wanted: Any) -> HTTPResponse:
    """``POST tunnels/expose``."""
    return await jp_fetch(
        "tunnels", "expose", method="POST", body=json.dumps(wanted), headers=dict(JSON),
        raise_error=False,
    )  # fmt: skip


async def test_expose_makes_one_active_tunnel_per_port(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    await start(jp_serverapp)
    first = await expose(jp_fetch, port=services.http_port, name="app", public=True)
    assert first.code == 200, first.body
    tunnel = body(first)
    assert tunnel["status"] == "active"
    assert tunnel["access"] == "public"
    again = body(await expose(jp_fetch, port=services.http_port, name="app", public=True))
    assert again["id"] == tunnel["id"]

    # the ingress admits anyone to a public tunnel
    visit = await jp_fetch("tunnels", "t", tunnel["slug"] + "/", headers=dict(NO_AUTH))
    assert visit.body == b"hello from the app\n"


async def test_expose_says_whether_anything_listens_on_the_port(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    await start(jp_serverapp)
    serving = body(await expose(jp_fetch, port=services.http_port, name="serving"))
    assert serving["targetListening"] is True

    port = closed_port()
    answer = await expose(jp_fetch, port=port, name="not-yet")
    assert answer.code == 200, answer.body  # exposed all the same: the app may start later
    assert body(answer)["status"] == "active"
    assert body(answer)["targetListening"] is False


async def test_private_tunnel_ingress_needs_jupyter_auth(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    await start(jp_serverapp)
    tunnel = body(await expose(jp_fetch, port=services.http_port))
    assert tunnel["access"] == "private"
    stranger = await jp_fetch(
        "tunnels", "t", tunnel["slug"] + "/", headers=dict(NO_AUTH), raise_error=False
    )
    assert stranger.code == 401
    assert body(stranger)["code"] == "MISSING_AUTH"
    user = await jp_fetch("tunnels", "t", tunnel["slug"] + "/")
    assert user.body == b"hello from the app\n"


async def test_expose_refuses_bad_input_and_disallowed_hosts(
    jp_fetch: Fetch, jp_serverapp: ServerApp
) -> None:
    await start(jp_serverapp)
    bad_port = await expose(jp_fetch, port=70000)
    assert bad_port.code == 400
    assert body(bad_port)["code"] == "INVALID_PORT"
    far = await expose(jp_fetch, port=80, host="example.org")
    assert far.code == 400
    assert "example.org" in body(far)["message"]


async def test_shutdown_stops_tunnels_and_is_idempotent(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    app = await start(jp_serverapp)
    tunnel = body(await expose(jp_fetch, port=services.http_port))
    embedded = app.embedded
    assert embedded is not None and app.connector is not None
    hub = embedded.hub
    owner = embedded.owner_id
    assert owner is not None

    await app.stop_extension()
    assert app.connector is None
    await app.stop_extension()  # a second stop does nothing

    await hub.store.open()  # read the store the stopped hub left behind
    try:
        stopped = await hub.tunnels.get(owner, tunnel["id"])
    finally:
        await hub.store.close()
    assert stopped.status is TunnelStatus.STOPPED


async def test_stop_is_safe_when_never_started(jp_serverapp: ServerApp) -> None:
    app = tunnels_app(jp_serverapp)
    await app.stop_extension()
    await app.stop_extension()
    assert app.connector is None


def test_the_public_address_under_jupyterhub_comes_from_its_environment() -> None:
    from jupyter_tunnels.jupyter._config import jupyterhub_public_base_url

    prefix = {"JUPYTERHUB_SERVICE_PREFIX": "/hub-base/user/alice/"}
    public = {**prefix, "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/hub-base/"}
    assert jupyterhub_public_base_url(public) == "https://hub.example.org/hub-base/user/alice/"
    subdomain = {**prefix, "JUPYTERHUB_HOST": "https://alice.users.example.org"}
    assert jupyterhub_public_base_url(subdomain) == (
        "https://alice.users.example.org/hub-base/user/alice/"
    )
    for unknown in (
        {},
        prefix,
        {"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/"},
        {**prefix, "JUPYTERHUB_HOST": "alice.users.example.org"},
    ):
        assert jupyterhub_public_base_url(unknown) is None, unknown
