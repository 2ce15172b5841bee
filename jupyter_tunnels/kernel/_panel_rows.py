"""One row of the ``%tunnel panel`` widget: a tunnel's cells and its buttons, updated in place.

A row's widgets are made once; :meth:`TunnelRow.show` only sets their values, so a refresh
sends small state updates (none for a value that did not change) instead of new widget models.

Copying to the clipboard needs JavaScript in the page, which core ipywidgets cannot run from
the kernel (a kernel-side button has no way to reach the browser's clipboard). So **Copy** is a
plain HTML ``<button>`` inside the link cell's ``HTML`` widget, whose ``onclick`` calls
``navigator.clipboard.writeText`` and says "Copied"; where the clipboard API is unavailable
(a page not served over HTTPS or from localhost) it opens a prompt holding the URL, selected,
for Ctrl+C. The URL is also shown as text, so it can always be selected by hand. Front ends
that strip HTML event handlers show the button without effect; the text remains.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import ipywidgets as widgets

from .._core.models import Tunnel
from .._core.status import LIVE_STATUSES, TunnelStatus, can_transition
from ._display import STATUS_COLOURS

__all__ = [
    "COLUMNS",
    "TunnelRow",
    "close_tree",
    "copy_button",
    "lease_expiry",
    "link_html",
    "readiness",
]

COLUMNS = (
    ("Name", "13%"),
    ("URL", "28%"),
    ("Protocol", "7%"),
    ("Target", "12%"),
    ("Status", "9%"),
    ("Lease", "8%"),
    ("Ready", "10%"),
    ("", "13%"),
)
"""Column titles and widths, shared by the header and every row."""

SECONDS_SHOWN_UNTIL = 120
"""Lease expiries closer than this are shown in seconds, later ones in minutes."""
COPIED_FOR_MS = 1500
"""How long the Copy button says "Copied"."""
LINKED_SCHEMES = ("http://", "https://")
"""URLs a browser can open; ``tcp://`` and ``udp://`` addresses are shown as text."""

Action = Callable[["TunnelRow", str], None]
OriginOf = Callable[[Tunnel], "str | None"]
"""Where a browser opens a tunnel at its own origin (``http://{slug}.localhost:{port}/``)."""
"""Called with the row and ``"pause"``, ``"resume"``, ``"share"`` or ``"close"`` on a click."""
SHAREABLE = frozenset({"http", "https", "tcp"})
"""Protocols a share link can carry (not udp)."""


def lease_expiry(tunnel: Tunnel, now: datetime | None = None) -> str:
    """When the tunnel's lease expires, relative to ``now`` ("in 42 s", "expired")."""
    if tunnel.lease is None:
        return "no lease"
    seconds = (tunnel.lease.expires_at - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds <= 0:
        return "expired"
    if seconds < SECONDS_SHOWN_UNTIL:
        return f"in {seconds:.0f} s"
    return f"in {seconds / 60:.0f} min"


def readiness(tunnel: Tunnel) -> str:
    """The connector's last report: hub link and local target, or its last error; for a
    failed tunnel, why it failed (such as the exit code of the app ``run`` started)."""
    if tunnel.status is TunnelStatus.FAILED and tunnel.last_error:
        return f"⚠ {tunnel.last_error}"
    if tunnel.status not in LIVE_STATUSES:
        return "—"
    ready = tunnel.readiness
    if ready.last_error:
        return f"⚠ {ready.last_error}"
    hub = "hub ✓" if ready.connected_to_hub else "hub ✗"
    app = "app ✓" if ready.local_ready else "app ✗"
    return f"{hub} {app}"


def copy_button(url: str) -> str:
    """An HTML button that copies ``url`` to the clipboard, or shows it in a prompt to copy.

    See the module docstring for why this is page HTML and not a widget button.
    """
    script = (
        f"const b=this,u={json.dumps(url)};"
        "const ask=()=>window.prompt('Copy the URL (Ctrl+C):',u);"
        "const done=()=>{b.textContent='Copied';"
        f"setTimeout(()=>{{b.textContent='Copy'}},{COPIED_FOR_MS})}};"
        "if(navigator.clipboard&&window.isSecureContext)"
        "{navigator.clipboard.writeText(u).then(done,ask)}else{ask()}"
    )
    return f'<button title="Copy the URL" onclick="{html.escape(script, quote=True)}">Copy</button>'


def link_html(url: str) -> str:
    """``url`` as a link that opens in a new tab (as text if a browser cannot open it)."""
    shown = html.escape(url, quote=True)
    if url.startswith(LINKED_SCHEMES):
        return f'<a href="{shown}" target="_blank" rel="noopener noreferrer">{shown}</a>'
    return f"<code>{shown}</code>"


def close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` and every widget model under it (children, layout, style).

    ``Widget.close`` closes only the widget's own model: a box's children and each widget's
    ``Layout`` and style models would stay alive in the kernel and the front end.
    """
    for part in _parts(widget):
        close_tree(part)
    widgets.Widget.close(widget)


def _parts(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield from getattr(widget, "children", ())
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if isinstance(part, widgets.Widget):
            yield part


def _cell(width: str) -> widgets.Layout:
    return widgets.Layout(width=width, overflow="hidden")


class TunnelRow(widgets.HBox):  # type: ignore[misc]  # ipywidgets has no type hints
    """The widgets of one tunnel; ``on_action(row, "pause"|"resume"|"share"|"close")``."""

    def __init__(
        self, tunnel: Tunnel, on_action: Action, origin_of: OriginOf | None = None
    ) -> None:
        self.tunnel = tunnel
        self._origin_of = origin_of
        self.busy = False
        """True while an action started from this row runs (its buttons are disabled)."""
        self._on_action = on_action
        widths = [width for _, width in COLUMNS]
        self.name_cell = widgets.HTML(layout=_cell(widths[0]))
        self.link_cell = widgets.HTML(layout=_cell(widths[1]))
        self.protocol_cell = widgets.Label(layout=_cell(widths[2]))
        self.target_cell = widgets.Label(layout=_cell(widths[3]))
        self.status_cell = widgets.HTML(layout=_cell(widths[4]))
        self.lease_cell = widgets.Label(layout=_cell(widths[5]))
        self.ready_cell = widgets.Label(layout=_cell(widths[6]))
        self.toggle_button = widgets.Button(layout=widgets.Layout(width="auto"))
        self.share_button = widgets.Button(
            description="Share",
            tooltip="make a share link (24 h) for people without an account",
            layout=widgets.Layout(width="auto"),
        )
        self.close_button = widgets.Button(
            description="Close", button_style="danger", layout=widgets.Layout(width="auto")
        )
        self.toggle_button.on_click(lambda _: self._on_action(self, self._toggle_action()))
        self.share_button.on_click(lambda _: self._on_action(self, "share"))
        self.close_button.on_click(lambda _: self._on_action(self, "close"))
        super().__init__(
            [
                self.name_cell,
                self.link_cell,
                self.protocol_cell,
                self.target_cell,
                self.status_cell,
                self.lease_cell,
                self.ready_cell,
                self.toggle_button,
                self.share_button,
                self.close_button,
            ]
        )
        self.show(tunnel)

    def show(self, tunnel: Tunnel, now: datetime | None = None) -> None:
        """Set every cell from ``tunnel`` (no new widgets; a busy row stays busy)."""
        self.tunnel = tunnel
        self.name_cell.value = f"<b>{html.escape(tunnel.name)}</b>"
        self.link_cell.value = f"{link_html(tunnel.url)} {copy_button(tunnel.url)}"
        origin = self._origin_of(tunnel) if self._origin_of is not None else None
        if origin is not None:
            self.link_cell.value += f"<br>in a browser: {link_html(origin)}"
        self.protocol_cell.value = tunnel.protocol.value
        self.target_cell.value = f"{tunnel.target.host}:{tunnel.target.port}"
        colour = STATUS_COLOURS.get(tunnel.status, STATUS_COLOURS[TunnelStatus.FAILED])
        self.status_cell.value = (
            f'<span style="color:{colour};font-weight:bold">● {tunnel.status.value}</span>'
        )
        self.lease_cell.value = lease_expiry(tunnel, now)
        self.ready_cell.value = readiness(tunnel)
        self._show_buttons()

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while an action runs (and enable what the status allows after)."""
        self.busy = busy
        self._show_buttons()

    def close(self) -> None:
        """Close the row and all its widget models."""
        close_tree(self)

    def _show_buttons(self) -> None:
        status = self.tunnel.status
        paused = status is TunnelStatus.PAUSED
        toggle_to = TunnelStatus.ACTIVE if paused else TunnelStatus.PAUSED
        with self.toggle_button.hold_sync():
            self.toggle_button.description = "Resume" if paused else "Pause"
            self.toggle_button.button_style = "success" if paused else ""
            self.toggle_button.disabled = self.busy or not can_transition(status, toggle_to)
        self.close_button.disabled = self.busy or not can_transition(status, TunnelStatus.STOPPING)
        shareable = status in LIVE_STATUSES and status is not TunnelStatus.STOPPING
        self.share_button.disabled = (
            self.busy or not shareable or self.tunnel.protocol.value not in SHAREABLE
        )

    def _toggle_action(self) -> str:
        return "resume" if self.tunnel.status is TunnelStatus.PAUSED else "pause"
