"""Redirects and cookies stay inside the tunnel, on both hostings, over raw HTTP: the app
(``/links/<kind>`` in ``tests/_apps.py``) sends each kind of ``Location``,
``Content-Location``, ``Refresh`` and ``Set-Cookie``, built from the ``Host`` it sees, and the
visitor gets them inside the tunnel's public URL; bodies pass untouched."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import connector_for, hub_address
from tests.hub.ingress._hostings import Exposed, Hosting
from tests.hub.ingress._raw import one_connection, raw_request

pytestmark = pytest.mark.anyio

Answer = tuple[int, httpx.Headers, bytes]


async def links(hosting: Hosting, tunnel: Exposed, *kinds: str) -> dict[str, Answer]:
    """The answers to ``/links/<kind>``, pipelined on one raw connection that asks to close
    after the last (so a rewritten head is also one that says ``Connection: close``)."""
    answers = await pipelined(hosting.host, hosting.port, tunnel.url, kinds)
    return dict(zip(kinds, answers, strict=True))


async def pipelined(host: str, port: int, url: str, kinds: tuple[str, ...]) -> list[Answer]:
    """``/links/<kind>`` under ``url`` for each kind, on one connection to ``host:port``."""
    last = len(kinds) - 1
    requests = [
        raw_request("GET", f"{url}links/{kind}", close=number == last)
        for number, kind in enumerate(kinds)
    ]
    return await one_connection(host, port, requests, pipelined=True)


async def test_redirects_stay_inside_the_tunnel(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "redirects", public=True)
    prefix = f"{hosting.mount}/t/{tunnel.slug}"
    own = f"127.0.0.1:{services.http_port}"
    kinds = ("own", "localhost", "rooted", "prefixed", "relative", "parent", "foreign", "created")
    answers = await links(hosting, tunnel, *kinds)
    location = {kind: answers[kind][1].get("Location") for kind in kinds}
    assert location == {
        "own": f"{prefix}/next?x=1#f",  # the app's own address, from the Host it got
        "localhost": f"{prefix}/next",
        "rooted": f"{prefix}/next?x=1",
        "prefixed": f"{prefix}/next",  # it read X-Forwarded-Prefix: not prefixed twice
        "relative": "next",
        "parent": "../up",
        "foreign": "http://example.com/next",
        "created": f"{prefix}/items/1",
    }
    assert [answers[kind][0] for kind in kinds] == [302] * 7 + [201]
    assert answers["created"][1]["Content-Location"] == f"{prefix}/items/1"
    _, fields, body = answers["own"]
    assert body == f"http://{own}/next?x=1#f".encode(), "the body is the app's, untouched"
    assert int(fields["Content-Length"]) == len(body)
    assert answers["created"][2] == f"/items/1\nhttp://{own}/items/1".encode()
    assert answers["created"][1]["Connection"] == "close"


async def test_refresh_stays_inside_the_tunnel(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "refresh", public=True)
    prefix = f"{hosting.mount}/t/{tunnel.slug}"
    answers = await links(hosting, tunnel, "refresh")
    status, fields, body = answers["refresh"]
    assert (status, fields["Refresh"]) == (200, f"0; url={prefix}/next")
    assert body == f"0; url=http://127.0.0.1:{services.http_port}/next".encode()


async def test_cookie_paths_are_scoped_into_the_prefix(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "cookies", public=True)
    prefix = f"{hosting.mount}/t/{tunnel.slug}"
    answers = await links(hosting, tunnel, "cookies", "cookies")
    for status, fields, body in answers.values():
        assert status == 200
        assert fields.get_list("Set-Cookie") == [
            f"root=1; Path={prefix}; HttpOnly",
            f"sub=2; Path={prefix}/sub",
            "bare=3",  # no Path: a browser's default path is inside the prefix already
            f"known=4; Path={prefix}/x",  # the app knew its prefix
        ]
        assert b"root=1; Path=/; HttpOnly" in body


# --- the standalone hub only ---------------------------------------------------------------


async def test_a_subdomain_tunnel_keeps_paths_and_loses_the_apps_address(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(domain="tun.localhost")
    host, port = hub_address(hub)
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="origin")
        assert tunnel.url == f"http://origin.tun.localhost:{port}/"
        kinds = ("own", "rooted", "foreign", "refresh", "cookies")
        answers = dict(zip(kinds, await pipelined(host, port, tunnel.url, kinds), strict=True))
    assert answers["own"][1]["Location"] == "/next?x=1#f"
    assert answers["rooted"][1]["Location"] == "/next?x=1"
    assert answers["foreign"][1]["Location"] == "http://example.com/next"
    assert answers["refresh"][1]["Refresh"] == "0; url=/next"
    assert answers["cookies"][1].get_list("Set-Cookie") == [
        "root=1; Path=/; HttpOnly",
        "sub=2; Path=/sub",
        "bare=3",
        "known=4; Path=/x",
    ]
