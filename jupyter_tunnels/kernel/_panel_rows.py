"""One row of the ``%tunnel panel`` widget: a tunnel's cells and its buttons, updated in place.

A row's widgets are made once; :meth:`TunnelRow.show` only sets their values, so a refresh
sends small state updates instead of new widget models.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import datetime, timezone

import ipywidgets as widgets

from .._models import Tunnel
from .._status import TunnelStatus
from ._display import STATUS_COLOURS

__all__ = ["COLUMNS", "TunnelRow", "copy_button", "lease_expiry", "readiness"]

COLUMNS = (
    ("Name", "14%"),
    ("URL", "30%"),
    ("Protocol", "7%"),
    ("Target", "13%"),
    ("Status", "9%"),
    ("Lease", "9%"),
    ("Ready", "10%"),
    ("", "8%"),
)
"""Column titles and widths, shared by the header and every row."""

Action = Callable[["TunnelRow", str], None]


def lease_expiry(tunnel: Tunnel, now: datetime | None = None) -> str:
    """When the tunnel's lease expires, relative to ``now`` ("in 42 s", "expired")."""
    if tunnel.lease is None:
        return "no lease"
    seconds = (tunnel.lease.expires_at - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds <= 0:
        return "expired"
    if seconds < 120:
        return f"in {seconds:.0f} s"
    return f"in {seconds / 60:.0f} min"


def readiness(tunnel: Tunnel) -> str:
    """The connector's last report: hub link and local target, or its last error."""
    ready = tunnel.readiness
    if ready.last_error:
        return f"⚠ {ready.last_error}"
    hub = "hub ✓" if ready.connected_to_hub else "hub ✗"
    app = "app ✓" if ready.local_ready else "app ✗"
    return f"{hub} {app}"


def copy_button(url: str) -> str:
    """A button that copies ``url`` to the clipboard (in the browser: copying needs JavaScript,
    which core ipywidgets cannot run from the kernel)."""
    script = html.escape(f"navigator.clipboard.writeText({json.dumps(url)})", quote=True)
    return f'<button title="Copy the URL" onclick="{script}">Copy</button>'


def _cell(width: str) -> widgets.Layout:
    return widgets.Layout(width=width, overflow="hidden")


class TunnelRow(widgets.HBox):  # type: ignore[misc]  # ipywidgets has no type hints
    """The widgets of one tunnel; ``on_action(row, "pause"|"resume"|"close")`` on a click."""

    def __init__(self, tunnel: Tunnel, on_action: Action) -> None:
        self.tunnel = tunnel
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
        self.close_button = widgets.Button(
            description="Close", button_style="danger", layout=widgets.Layout(width="auto")
        )
        self.toggle_button.on_click(lambda _: self._on_action(self, self._toggle_action()))
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
                self.close_button,
            ]
        )
        self.show(tunnel)

    def show(self, tunnel: Tunnel, now: datetime | None = None) -> None:
        """Set every cell from ``tunnel`` (no new widgets)."""
        self.tunnel = tunnel
        url = html.escape(tunnel.url, quote=True)
        self.name_cell.value = f"<b>{html.escape(tunnel.name)}</b>"
        self.link_cell.value = (
            f'<a href="{url}" target="_blank" rel="noopener">{url}</a> {copy_button(tunnel.url)}'
        )
        self.protocol_cell.value = tunnel.protocol.value
        self.target_cell.value = f"{tunnel.target.host}:{tunnel.target.port}"
        colour = STATUS_COLOURS.get(tunnel.status, STATUS_COLOURS[TunnelStatus.FAILED])
        self.status_cell.value = (
            f'<span style="color:{colour};font-weight:bold">● {tunnel.status.value}</span>'
        )
        self.lease_cell.value = lease_expiry(tunnel, now)
        self.ready_cell.value = readiness(tunnel)
        paused = tunnel.status is TunnelStatus.PAUSED
        self.toggle_button.description = "Resume" if paused else "Pause"
        self.toggle_button.button_style = "success" if paused else ""
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while an action runs; a live tunnel's buttons otherwise."""
        live = self.tunnel.status not in (TunnelStatus.STOPPED, TunnelStatus.FAILED)
        can_toggle = self.tunnel.status in (TunnelStatus.ACTIVE, TunnelStatus.PAUSED)
        self.toggle_button.disabled = busy or not can_toggle
        self.close_button.disabled = busy or not live

    def _toggle_action(self) -> str:
        return "resume" if self.tunnel.status is TunnelStatus.PAUSED else "pause"
