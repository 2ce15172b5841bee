"""Whose credentials reach a tunnel's app, over raw sockets on both hostings: never the hub's
(its tokens by their role prefix, a share link's token and cookie, its login cookie), never
Jupyter's XSRF and login cookies (a team hub often shares a parent domain with a JupyterHub);
the app's own ``Authorization`` and cookies pass untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests._apps import Services
from tests.hub.ingress._hostings import Hosting
from tests.hub.ingress._raw import one_connection, raw_request

pytestmark = pytest.mark.anyio

HUB_TOKENS = ["jtu_user-token", "jta_agent-token", "jtw_worker-token", "jtr_reach-token"]
"""Values with each role prefix of the hub's tokens (a bearer is recognised by its prefix)."""
APPS_OWN = ["Bearer app-token", "Basic dXNlcjpwYXNz", "Digest username=app"]
JUPYTERS_COOKIES = "_xsrf=2|abc; username-127-0-0-1-8888=x; jupyterhub-session-id=y"


async def seen_by_the_app(
    hosting: Hosting, url: str, headers: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """What the test app saw of one request per entry of ``headers``, on one connection."""
    requests = [raw_request("GET", url, headers=fields) for fields in headers]
    answers = await one_connection(hosting.host, hosting.port, requests, pipelined=False)
    assert [status for status, _, _ in answers] == [200] * len(requests), answers
    return [json.loads(body) for _, _, body in answers]


async def test_the_hubs_tokens_never_reach_the_app_and_its_own_authorization_does(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "credentials", public=True)
    values = [f"Bearer {token}" for token in HUB_TOKENS] + [f"token {HUB_TOKENS[0]}", *APPS_OWN]
    seen = await seen_by_the_app(
        hosting, tunnel.url + "headers/", [{"Authorization": value} for value in values]
    )
    passed = [request["headers"].get("Authorization") for request in seen]
    assert passed == [None] * (len(HUB_TOKENS) + 1) + APPS_OWN


async def test_jupyters_cookies_and_xsrf_field_never_reach_the_app(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "cookies", public=True)
    fields = {
        "Cookie": f"{JUPYTERS_COOKIES}; app_session=kept; theme=dark",
        "X-XSRFToken": "abc",
        "X-CSRFToken": "abc",
    }
    (seen,) = await seen_by_the_app(hosting, tunnel.url + "headers/", [fields])
    headers = seen["headers"]
    assert headers["Cookie"] == "app_session=kept; theme=dark"
    assert "X-Xsrftoken" not in headers and "X-Csrftoken" not in headers
    (only_jupyters,) = await seen_by_the_app(
        hosting, tunnel.url + "headers/", [{"Cookie": JUPYTERS_COOKIES}]
    )
    assert "Cookie" not in only_jupyters["headers"]


async def test_a_share_links_token_never_reaches_the_app(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "shared-credentials")
    token = (await hosting.share(tunnel))["token"]
    url = tunnel.url + "headers/"
    seen = await seen_by_the_app(
        hosting, url + f"?keep=1&share_token={token}", [{"Cookie": "app_session=kept"}]
    )
    by_cookie, by_bearer = await seen_by_the_app(
        hosting,
        url,
        [
            {"Cookie": f"app_session=kept; tunnels_share={token}"},
            {"Authorization": f"Bearer {token}"},
        ],
    )
    assert seen[0]["query"] == "keep=1"
    for request in (seen[0], by_cookie):
        assert request["headers"]["Cookie"] == "app_session=kept"
    assert "Authorization" not in by_bearer["headers"]
    assert token not in json.dumps([seen, by_cookie, by_bearer])


async def test_the_hubs_own_cookies_never_reach_the_app_whatever_their_value(
    hosting: Hosting, services: Services
) -> None:
    """The standalone hub's login cookie and the share cookie are the hub's, on any tunnel."""
    tunnel = await hosting.expose(services.http_port, "hub-cookies", public=True)
    cookie = "a=1; tunnels_login=any.value; tunnels_share=not-a-token; b=2"
    (seen,) = await seen_by_the_app(hosting, tunnel.url + "headers/", [{"Cookie": cookie}])
    assert seen["headers"]["Cookie"] == "a=1; b=2"


async def test_a_private_tunnel_gets_no_owners_credential_but_the_apps_own_cookies(
    hosting: Hosting, services: Services
) -> None:
    """The owner's credential (the hub's API token standalone, Jupyter's token inside Jupyter)
    is removed; the app's own cookies pass."""
    tunnel = await hosting.expose(services.http_port, "private-credentials")
    (seen,) = await seen_by_the_app(
        hosting, tunnel.url + "headers/", [{**hosting.owner, "Cookie": "app_session=kept"}]
    )
    assert "Authorization" not in seen["headers"]
    assert seen["headers"]["Cookie"] == "app_session=kept"
