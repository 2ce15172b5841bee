"""The two hostings of the one ingress, behind one interface, so one suite runs against both
(as uvicorn's tests run against both of its HTTP implementations).

* :class:`Standalone`: a real hub on 127.0.0.1:0 (``jupyter-tunnels hub``'s ``HubServer``) and
  a real connector on the test's loop; the owner authenticates with the hub's admin token.
* :class:`Embedded`: a real ``jupyter server`` process with the extension (its hub embedded,
  its own connector serving the tunnels, dialled in-process), under a base URL with a
  character to escape; the owner authenticates as a notebook user's client does, with
  ``Authorization: token <the server's token>``.
"""

from __future__ import annotations

import abc
import dataclasses
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from jupyter_tunnels.connector import Connector
from tests._hubs import RunningHub
from tests.kernel._servers import JupyterServerProcess

TIMEOUT = 30.0
HOSTINGS = ("standalone", "embedded")
"""The kinds of hosting, as the fixtures' parameters name them."""


@dataclasses.dataclass(frozen=True)
class Exposed:
    """A tunnel a test exposed."""

    id: str
    slug: str
    url: str
    """Its public URL (ends with ``/``)."""


class Hosting(abc.ABC):
    """What the suite needs from a hosting."""

    name: str
    host: str = "127.0.0.1"
    port: int
    mount: str
    """The path under which the hub's paths start on this port (``""`` standalone)."""
    owner: dict[str, str]
    """Headers with which the tunnels' owner is let into their private tunnels."""

    def __init__(
        self, api_base: str, api_headers: dict[str, str], verify: ssl.SSLContext | bool = True
    ) -> None:
        self.api = httpx.AsyncClient(
            base_url=api_base,
            headers=api_headers,
            timeout=TIMEOUT,
            trust_env=False,
            verify=verify,
        )
        self.exposed: list[Exposed] = []

    def tunnel_path(self, slug: str) -> str:
        """The path of a tunnel's root as visitors send it."""
        return f"{self.mount}/t/{slug}/"

    @abc.abstractmethod
    async def expose(self, port: int, name: str, *, public: bool = False) -> Exposed:
        """Expose ``127.0.0.1:port`` as an HTTP tunnel named ``name``."""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """Call the hub's API (``path`` under ``/v1``) as the owner; the JSON answer."""
        answer = await self.api.request(method, "v1" + path, json=body)
        assert answer.is_success, (answer.status_code, answer.text)
        return answer.json()

    async def set_status(self, tunnel: Exposed, status: str) -> None:
        """Pause (``paused``) or resume (``active``) a tunnel."""
        await self.call("PATCH", f"/tunnels/{tunnel.id}", {"status": status})

    async def share(self, tunnel: Exposed, **body: Any) -> dict[str, Any]:
        """Create a share link of the tunnel; the grant (with its token)."""
        grant: dict[str, Any] = await self.call(
            "POST", f"/tunnels/{tunnel.id}/shares", {"name": "guests", **body}
        )
        return grant

    async def revoke(self, grant: dict[str, Any]) -> None:
        """Revoke a share link."""
        await self.call("DELETE", f"/shares/{grant['id']}")

    async def aclose(self) -> None:
        """Close the tunnels the test exposed and what the hosting opened for it."""
        for tunnel in self.exposed:
            await self.api.delete(f"v1/tunnels/{tunnel.id}")
        await self.api.aclose()


class Standalone(Hosting):
    """A standalone hub and a connector on the test's loop."""

    name = "standalone"
    mount = ""

    def __init__(self, hub: RunningHub) -> None:
        super().__init__(hub.url + "/", hub.headers)
        self.hub = hub
        self.port = hub.server.port
        self.owner = dict(hub.headers)
        self.connector: Connector | None = None

    async def expose(self, port: int, name: str, *, public: bool = False) -> Exposed:
        """Expose through the test's connector (started at the first tunnel)."""
        if self.connector is None:
            self.connector = Connector(self.hub.url, self.hub.token, client_instance_id="suite")
            await self.connector.start()
        tunnel = await self.connector.expose(port, name=name, public=public, protocol="http")
        exposed = Exposed(tunnel.id, tunnel.slug, tunnel.url)
        self.exposed.append(exposed)
        return exposed

    async def aclose(self) -> None:
        """Close the connector (its lease released: its tunnels stop)."""
        if self.connector is not None:
            await self.connector.close()
        await self.api.aclose()


class Embedded(Hosting):
    """A Jupyter server whose own connector serves the tunnels."""

    name = "embedded"

    def __init__(self, server: JupyterServerProcess) -> None:
        super().__init__(server.url + "tunnels/", server.headers, server.verify)
        self.server = server
        parsed = httpx.URL(server.url)
        assert parsed.port is not None
        self.port = parsed.port
        self.mount = parsed.raw_path.decode().rstrip("/") + "/tunnels"
        self.owner = dict(server.headers)

    async def expose(self, port: int, name: str, *, public: bool = False) -> Exposed:
        """``POST {base_url}tunnels/expose``, as the Lab panel and the magic do."""
        answer = await self.api.post("expose", json={"port": port, "name": name, "public": public})
        assert answer.status_code in (200, 201), answer.text
        tunnel = answer.json()
        exposed = Exposed(tunnel["id"], tunnel["slug"], tunnel["url"])
        self.exposed.append(exposed)
        return exposed


MakeHosting = Callable[..., Hosting]
"""``make_hosting(kind, **settings)`` (a fixture): a hosting of that kind (one of
:data:`HOSTINGS`) with these hub settings."""
