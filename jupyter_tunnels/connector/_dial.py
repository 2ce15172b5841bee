"""Outbound connections: to the hub (directly, over TLS, or through an HTTP proxy) and to
local targets (only those the allow-list permits).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

from .._core.errors import TunnelError
from .._core.hosts import host_allowed
from .._core.timeouts import within

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "HubAddress",
    "TargetNotAllowed",
    "check_target",
    "open_hub_connection",
]

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Loopback only, unless the owner allows more."""
CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to the hub, and, through a proxy, for its answer to ``CONNECT``."""
PROXY_HEAD_LIMIT = 16 * 1024
"""The longest answer head accepted from an HTTP proxy (or from the hub to a reach stream's
upgrade); a longer one is an error rather than unbounded buffering."""


class TargetNotAllowed(TunnelError):
    """A tunnel's target is not in the connector's allow-list."""


class HubAddress:
    """Where the hub is: scheme, host, port, and the proxy to go through, if any."""

    def __init__(self, hub_url: str) -> None:
        parts = urlsplit(hub_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the hub URL must be http(s)://host[:port], not {hub_url!r}")
        self.url = hub_url.rstrip("/")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/")
        self.proxy = _proxy_for(hub_url, self.host)

    @property
    def host_header(self) -> str:
        """The ``Host`` header for requests to the hub."""
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The hub URL with a WebSocket scheme."""
        return ("wss" if self.tls else "ws") + self.url[self.url.index(":") :]


def _proxy_for(url: str, host: str) -> tuple[str, int] | None:
    proxies = urllib.request.getproxies()
    scheme = urlsplit(url).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.hostname is None:
        return None
    return parts.hostname, parts.port or 8080


async def open_hub_connection(address: HubAddress, protocol: asyncio.Protocol) -> asyncio.Transport:
    """Open a TCP (and TLS) connection to the hub, through the HTTP proxy if one is set."""
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context() if address.tls else None
    if address.proxy is None:
        transport, _ = await within(
            CONNECT_TIMEOUT,
            loop.create_connection(
                lambda: protocol,
                address.host,
                address.port,
                ssl=context,
                server_hostname=address.host if context else None,
            ),
        )
        return transport
    handshake = _ProxyHandshake()
    raw, _ = await within(
        CONNECT_TIMEOUT, loop.create_connection(lambda: handshake, *address.proxy)
    )
    target = f"{address.host}:{address.port}"
    raw.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    try:
        head = await within(CONNECT_TIMEOUT, handshake.answered)
    except BaseException:
        raw.close()
        raise
    if head.split(b" ", 2)[1:2] != [b"200"]:
        raw.close()
        raise ConnectionError(f"the proxy refused CONNECT {target}: {head.splitlines()[0]!r}")
    if context is None:
        raw.set_protocol(protocol)
        protocol.connection_made(raw)
        return raw
    upgraded = await loop.start_tls(raw, protocol, context, server_hostname=address.host)
    tls = cast(asyncio.Transport, upgraded)
    protocol.connection_made(tls)
    return tls


class _ProxyHandshake(asyncio.Protocol):
    """Reads the proxy's answer to ``CONNECT``; the hub says nothing before we speak."""

    def __init__(self) -> None:
        self.answered: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and not self.answered.done():
            self.answered.set_result(bytes(self.buffer[: end + 4]))
        elif len(self.buffer) > PROXY_HEAD_LIMIT and not self.answered.done():
            self.answered.set_exception(ConnectionError("the proxy sent an over-long answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(exc or ConnectionError("the proxy closed the connection"))


def check_target(host: str, allowed: Iterable[str]) -> None:
    """Raise :class:`TargetNotAllowed` unless ``host`` is in the allow-list.

    Entries are host names or IP networks (``10.0.0.0/8``); ``*`` allows everything.
    """
    if host_allowed(host, allowed):
        return
    raise TargetNotAllowed(
        f"target host {host!r} is not allowed by this connector (allowed: "
        f"{', '.join(allowed)}); allow it with --allow {host}"
    )
