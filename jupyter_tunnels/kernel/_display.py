"""What the kernel side returns: :class:`ExposedTunnel`, :class:`TunnelList` and
:class:`TunnelDetails`.

In a notebook they show as HTML (a link, a coloured status, a QR code of the URL); in a
terminal, and for nbval's ``text/plain`` comparison, as a stable text without ids or times.
Their methods act through the SDK: the blocking client for the plain methods, the asyncio
client on the caller's running loop for the ``a``-prefixed twins.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .._core.models import Tunnel
from .._core.status import LIVE_STATUSES, TunnelStatus
from .._core.tunnel_text import tunnel_details
from ._apps import stop_app
from ._checks import acheck_listening, check_listening, validate_port
from ._html import link, qr_svg

if TYPE_CHECKING:
    from ._backends import Backend
    from ._shares import SharedLink, ShareList

__all__ = ["ExposedTunnel", "TunnelDetails", "TunnelList"]

STATUS_COLOURS = {
    TunnelStatus.ACTIVE: "#2e7d32",
    TunnelStatus.PAUSED: "#ef6c00",
    TunnelStatus.CREATING: "#ef6c00",
    TunnelStatus.CONNECTING: "#ef6c00",
    TunnelStatus.STOPPING: "#757575",
    TunnelStatus.STOPPED: "#757575",
    TunnelStatus.FAILED: "#c62828",
}
FAILED_COLOUR = STATUS_COLOURS[TunnelStatus.FAILED]
TABLE_COLUMNS = ("NAME", "STATUS", "TARGET", "URL")
COLUMN_GAP = "  "


class ExposedTunnel:
    """A tunnel as the kernel sees it: the :class:`~jupyter_tunnels.Tunnel` model plus actions.

    ``t = %tunnel expose 8050`` and ``t = jupyter_tunnels.expose(8050)`` return one. Its fields
    are those of the last answer from the hub: call :meth:`refresh` for fresh ones.
    """

    def __init__(self, tunnel: Tunnel, backend: Backend) -> None:
        self._tunnel = tunnel
        self._backend = backend

    # --- fields ----------------------------------------------------------------------------

    @property
    def tunnel(self) -> Tunnel:
        """The full model, as last received."""
        return self._tunnel

    @property
    def id(self) -> str:
        """The tunnel's id."""
        return self._tunnel.id

    @property
    def name(self) -> str:
        """The tunnel's name."""
        return self._tunnel.name

    @property
    def url(self) -> str:
        """Where visitors reach the service."""
        return self._tunnel.url

    @property
    def status(self) -> TunnelStatus:
        """The status, as last received."""
        return self._tunnel.status

    @property
    def target(self) -> str:
        """The local service, ``host:port``."""
        return str(self._tunnel.target)

    @property
    def origin_url(self) -> str | None:
        """Where a browser opens it at an origin of its own, ``http://{slug}.localhost:{port}/``
        (a Jupyter server on loopback: the app at the root, apart from Jupyter), if anywhere."""
        return self._backend.origin_url(self._tunnel)

    @property
    def where(self) -> str:
        """Which server or hub holds the tunnel."""
        return self._backend.where

    # --- actions ---------------------------------------------------------------------------

    def refresh(self) -> ExposedTunnel:
        """Fetch the tunnel's current state; returns the tunnel itself."""
        with self._backend.client() as client:
            self._tunnel = client.get(self.id)
        return self

    async def arefresh(self) -> ExposedTunnel:
        """:meth:`refresh` on the running loop."""
        async with self._backend.async_client() as client:
            self._tunnel = await client.get(self.id)
        return self

    def pause(self) -> ExposedTunnel:
        """Refuse new visitors (they get 503) until :meth:`resume`; the URL is kept."""
        with self._backend.client() as client:
            self._tunnel = client.update(self.id, status=TunnelStatus.PAUSED)
        return self

    async def apause(self) -> ExposedTunnel:
        """:meth:`pause` on the running loop."""
        async with self._backend.async_client() as client:
            self._tunnel = await client.update(self.id, status=TunnelStatus.PAUSED)
        return self

    def resume(self) -> ExposedTunnel:
        """Let visitors in again after :meth:`pause`."""
        with self._backend.client() as client:
            self._tunnel = client.update(self.id, status=TunnelStatus.ACTIVE)
        return self

    async def aresume(self) -> ExposedTunnel:
        """:meth:`resume` on the running loop."""
        async with self._backend.async_client() as client:
            self._tunnel = await client.update(self.id, status=TunnelStatus.ACTIVE)
        return self

    def rotate(self, port: int, *, host: str | None = None, check: bool = True) -> ExposedTunnel:
        """Point the tunnel at another local port; the URL stays the same.

        :param check: first make sure something listens there (else
            :class:`~jupyter_tunnels.kernel.PortNotListening`).
        """
        new_port, new_host = validate_port(port), host or self._tunnel.target.host
        if check:
            check_listening(new_host, new_port, str(self._tunnel.protocol))
        with self._backend.client() as client:
            self._tunnel = client.rotate(self.id, new_port, host=new_host)
        return self

    async def arotate(
        self, port: int, *, host: str | None = None, check: bool = True
    ) -> ExposedTunnel:
        """:meth:`rotate` on the running loop."""
        new_port, new_host = validate_port(port), host or self._tunnel.target.host
        if check:
            await acheck_listening(new_host, new_port, str(self._tunnel.protocol))
        async with self._backend.async_client() as client:
            self._tunnel = await client.rotate(self.id, new_port, host=new_host)
        return self

    def close(self) -> ExposedTunnel:
        """Close the tunnel for good (it ends ``stopped``), stopping the app ``run`` started
        for it; returns it."""
        stop_app(self.id)
        with self._backend.client() as client:
            self._tunnel = client.delete(self.id)
        return self

    async def aclose(self) -> ExposedTunnel:
        """:meth:`close` on the running loop."""
        await asyncio.to_thread(stop_app, self.id)
        async with self._backend.async_client() as client:
            self._tunnel = await client.delete(self.id)
        return self

    def share(
        self,
        name: str = "link",
        *,
        expiration: str = "24h",
        methods: Sequence[str] | None = None,
        rate: int | None = None,
        path: str | None = None,
    ) -> SharedLink:
        """Make a share link (docs/shares.md): anyone with it reaches the tunnel, no account.

        :param expiration: ``1h``, ``24h``, ``7d``, ``30d`` or ``never``.
        :param methods: allowed methods (``["GET", "HEAD"]``); None: any.
        :param rate: requests a minute, 1 to 1000; None: no limit.
        :param path: only paths under this prefix (``/api``).
        """
        from ._shares import SharedLink

        with self._backend.client() as client:
            grant = client.create_share(
                self.id,
                name,
                expiration=expiration,
                allowed_methods=methods,
                rate_limit_per_minute=rate,
                path_prefix=path,
            )
        return SharedLink(grant, self.name)

    async def ashare(
        self,
        name: str = "link",
        *,
        expiration: str = "24h",
        methods: Sequence[str] | None = None,
        rate: int | None = None,
        path: str | None = None,
    ) -> SharedLink:
        """:meth:`share` on the running loop."""
        from ._shares import SharedLink

        async with self._backend.async_client() as client:
            grant = await client.create_share(
                self.id,
                name,
                expiration=expiration,
                allowed_methods=methods,
                rate_limit_per_minute=rate,
                path_prefix=path,
            )
        return SharedLink(grant, self.name)

    def shares(self) -> ShareList:
        """The tunnel's share links with their access counts (revoked and expired too)."""
        from ._shares import ShareList

        with self._backend.client() as client:
            return ShareList(client.list_shares(self.id), self.name)

    # --- display ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        """Stable text: no ids or times, so a notebook's saved output stays comparable."""
        return (
            f"ExposedTunnel(name={self.name!r}, url={self.url!r}, "
            f"status={self.status.value!r}, target={self.target!r})"
        )

    def _repr_html_(self) -> str:
        """A link, the status in colour, how it is reached, and a QR code of the URL."""
        tunnel = self._tunnel
        live = tunnel.status in LIVE_STATUSES
        openable = tunnel.url.startswith(("http://", "https://"))
        qr = qr_svg(tunnel.url) if live and openable else ""
        facts = f"{tunnel.protocol} → {tunnel.target} · {tunnel.access} · via {self.where}"
        error = tunnel.last_error or tunnel.readiness.last_error
        lines = [
            f"<strong>{_e(tunnel.name)}</strong> {status_badge(tunnel.status)}",
            link(tunnel.url) if live else f"<s>{_e(tunnel.url)}</s>",
            f'<span style="opacity:0.7">{_e(facts)}</span>',
        ]
        origin = self.origin_url
        if origin is not None and live:
            lines.insert(2, f"in a browser: {link(origin)}")
        if error:
            lines.append(f'<span style="color:{FAILED_COLOUR}">{_e(error)}</span>')
        text = "<br>".join(lines)
        return (
            '<div class="jupyter-tunnels-tunnel" '
            'style="display:flex;gap:1em;align-items:center">'
            f"{qr}<div>{text}</div></div>"
        )


class TunnelList(list[ExposedTunnel]):
    """Tunnels sorted by name, shown as a fixed-width table (text) or an HTML table."""

    def __init__(self, tunnels: Iterable[ExposedTunnel], *, include_inactive: bool) -> None:
        super().__init__(sorted(tunnels, key=lambda t: (t.name, t.tunnel.slug)))
        self.include_inactive = include_inactive

    def __repr__(self) -> str:
        """The table, one tunnel a line: name, status, target, URL."""
        if not self:
            if self.include_inactive:
                return "no tunnels"
            return "no live tunnels (%tunnel list --all shows stopped ones too)"
        rows = [TABLE_COLUMNS] + [(t.name, t.status.value, t.target, t.url) for t in self]
        widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
        return "\n".join(
            COLUMN_GAP.join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
            for row in rows
        )

    def _repr_html_(self) -> str:
        """An HTML table with links and coloured statuses."""
        if not self:
            return f"<em>{_e(repr(self))}</em>"
        head = "".join(f"<th>{column.title()}</th>" for column in TABLE_COLUMNS)
        body = "".join(
            f"<tr><td>{_e(t.name)}</td><td>{status_badge(t.status)}</td>"
            f"<td>{_e(t.target)}</td><td>{link(t.url)}</td></tr>"
            for t in self
        )
        return f'<table class="jupyter-tunnels-list"><tr>{head}</tr>{body}</table>'


class TunnelDetails:
    """Every field of one tunnel (``%tunnel info NAME``); ``.tunnel`` is the tunnel itself."""

    def __init__(self, tunnel: ExposedTunnel) -> None:
        self.tunnel = tunnel

    def __repr__(self) -> str:
        """One ``label: value`` a line."""
        details = tunnel_details(self.tunnel.tunnel)
        # align with the fields above: their values start after the first line's padding
        column = len(details.splitlines()[0]) - len(self.tunnel.name)
        return f"{details}\n{'via:':<{column}}{self.tunnel.where}"

    def _repr_html_(self) -> str:
        """The tunnel's card, then the fields."""
        return f"{self.tunnel._repr_html_()}<pre>{_e(repr(self))}</pre>"


def status_badge(status: TunnelStatus) -> str:
    """The status as a small coloured label."""
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS[TunnelStatus.STOPPED])
    return (
        f'<span style="background:{colour};color:#fff;border-radius:4px;'
        f'padding:0 0.4em">{_e(status.value)}</span>'
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
