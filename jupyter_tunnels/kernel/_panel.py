"""``%tunnel panel``: a live ipywidgets table of the server's tunnels, with actions.

Everything that changes a widget runs on the kernel's event loop: one refresh task (started
by :meth:`TunnelPanel.start`) and the tasks button clicks schedule there. So there are no
threads and no locks, and a click never races a refresh. Rows are kept by tunnel id and
updated in place; a tunnel that is gone loses its row, whose widget models are all closed.
When refreshes overlap (a tick and the one after a click), a listing older than the one on
show is dropped, so a row never flips back to a status it already left.

Errors (a lost server, a refused token, a refused action) show in the panel's status line;
the refresh loop keeps going and the next tick retries. An unexpected error ends the loop,
and is logged and shown; :meth:`TunnelPanel.start` starts it again.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets

from .._core.models import ShareGrant, Tunnel
from .._core.status import TunnelStatus
from ..client import AsyncTunnelsClient, TunnelError
from ._display import FAILED_COLOUR
from ._panel_rows import COLUMNS, OriginOf, TunnelRow, close_tree, copy_button, link_html

__all__ = ["DEFAULT_INTERVAL", "NO_LOOP", "TunnelPanel"]

log = logging.getLogger("jupyter_tunnels.kernel")

DEFAULT_INTERVAL = 2.0
"""Seconds between two refreshes."""
NO_LOOP = "live refresh needs a running event loop (a Jupyter kernel): press Refresh to update"
"""The status line where no loop runs (terminal IPython)."""


class TunnelPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no type hints
    """Every tunnel of the current backend, refreshed every ``interval`` seconds.

    ``client_factory()`` makes the async SDK client the panel owns (and closes in
    :meth:`close`); ``origin_of(tunnel)`` says where a browser opens a tunnel at its own origin
    (shown under its URL), if anywhere. Call :meth:`start` from code running on the kernel's
    loop (a cell).
    """

    def __init__(
        self,
        client_factory: Callable[[], AsyncTunnelsClient],
        *,
        interval: float = DEFAULT_INTERVAL,
        origin_of: OriginOf | None = None,
    ) -> None:
        self.interval = interval
        self._origin_of = origin_of
        self.rows: dict[str, TunnelRow] = {}
        """The rows on show, by tunnel id."""
        self._client_factory = client_factory
        self._client: AsyncTunnelsClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Task[None]] = set()
        self._closing: list[asyncio.Task[None]] = []
        self._closed = False
        self._listings_started = 0
        self._listing_shown = 0
        self.show_all = widgets.Checkbox(description="show stopped", indent=False)
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.status_line = widgets.HTML()
        self.last_share: ShareGrant | None = None
        """The last share link made with a row's Share button (its token is shown once)."""
        self.table = widgets.VBox()
        self.show_all.observe(lambda _: self._schedule(self.refresh()), names=["value"])
        self.refresh_button.on_click(lambda _: self._schedule(self.refresh()))
        header = widgets.HBox(
            [
                widgets.HTML(f"<b>{title}</b>", layout=widgets.Layout(width=width))
                for title, width in COLUMNS
            ]
        )
        toolbar = widgets.HBox([self.refresh_button, self.show_all])
        super().__init__([toolbar, header, self.table, self.status_line])

    def __repr__(self) -> str:
        """Stable text for terminals and nbval: the tunnels shown, by name."""
        names = ", ".join(sorted(row.tunnel.name for row in self.rows.values()))
        return f"TunnelPanel({len(self.rows)} tunnels: {names})" if names else "TunnelPanel()"

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Refresh now and then every ``interval`` seconds, on the running loop (idempotent).

        Without a running loop (terminal IPython) the status line says so; Refresh works
        wherever a loop later runs the click.
        """
        if self._closed or (self._task is not None and not self._task.done()):
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._say(NO_LOOP)
            return
        self._task = self._loop.create_task(self._refresh_forever(), name="tunnel-panel")
        self._task.add_done_callback(self._task_done)

    def close(self) -> None:
        """Stop refreshing, close every widget model, and close the client on its loop.

        Idempotent, and safe before :meth:`start` and outside a loop. Running tasks are
        cancelled without waiting; ``await`` :meth:`aclose` to wait for them and the client.
        """
        if self._closed:
            return
        self._closed = True
        running = [task for task in (self._task, *self._actions) if task is not None]
        for task in running:
            task.cancel()
        self._closing.extend(running)
        self._task = None
        self.rows.clear()
        close_tree(self)
        client, self._client = self._client, None
        if client is not None:
            self._close_client(client)

    async def aclose(self) -> None:
        """:meth:`close`, then wait until its tasks have ended and the client is closed."""
        self.close()
        closing, self._closing = self._closing, []
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

    def _close_client(self, client: AsyncTunnelsClient) -> None:
        loop: asyncio.AbstractEventLoop | None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._client_loop
        if loop is None or loop.is_closed():
            # Its connections belonged to a loop that is gone; they cannot be closed any more.
            log.warning("the tunnel panel's client was not closed: its event loop has ended")
            return
        task = loop.create_task(client.aclose())
        task.add_done_callback(self._task_done)
        self._closing.append(task)

    # --- refreshing ------------------------------------------------------------------------

    async def refresh(self) -> None:
        """List the tunnels once and update the rows (errors go to the status line)."""
        await self._refresh()

    async def _refresh(self) -> bool:
        """Refresh; tell whether the listing succeeded."""
        if self._closed:
            return False
        self._listings_started += 1
        listing = self._listings_started
        try:
            tunnels = await self._api().list(include_inactive=self.show_all.value)
        except TunnelError as exc:
            if self._take_turn(listing):
                self._say(f"cannot list the tunnels: {exc}", error=True)
            return False
        if self._take_turn(listing):
            self._show(tunnels)
            self._say(f"{len(tunnels)} tunnel{'s' if len(tunnels) != 1 else ''}")
        return True

    def _take_turn(self, listing: int) -> bool:
        """Whether a finished listing may be shown: not when a later one was already."""
        if self._closed or listing < self._listing_shown:
            return False
        self._listing_shown = listing
        return True

    async def _refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    def _show(self, tunnels: list[Tunnel]) -> None:
        now = datetime.now(timezone.utc)
        wanted = {tunnel.id: tunnel for tunnel in sorted(tunnels, key=lambda t: (t.name, t.id))}
        for tunnel_id in self.rows.keys() - wanted.keys():
            self.rows.pop(tunnel_id).close()
        for tunnel_id, tunnel in wanted.items():
            row = self.rows.get(tunnel_id)
            if row is None:
                self.rows[tunnel_id] = TunnelRow(tunnel, self._act, self._origin_of)
            else:
                row.show(tunnel, now)
        order = tuple(self.rows[tunnel_id] for tunnel_id in wanted)
        if order != self.table.children:
            self.table.children = order

    # --- actions ---------------------------------------------------------------------------

    def _act(self, row: TunnelRow, action: str) -> None:
        if self._schedule(self._run_action(row, action)):
            row.set_busy(True)

    async def _run_action(self, row: TunnelRow, action: str) -> None:
        name = row.tunnel.name
        if action == "share":
            await self._share(row)
            return
        try:
            api = self._api()
            if action == "close":
                await api.delete(row.tunnel.id)
            else:
                status = TunnelStatus.PAUSED if action == "pause" else TunnelStatus.ACTIVE
                await api.update(row.tunnel.id, status=status)
        except TunnelError as exc:
            row.set_busy(False)
            self._say(f"cannot {action} {name!r}: {exc}", error=True)
            return
        try:
            shown = await self._refresh()
        finally:
            row.set_busy(False)
        if shown:
            self._say(f"{action}: {name!r} done")

    async def _share(self, row: TunnelRow) -> None:
        """Make a 24-hour share link and show it in the status line, with a Copy button."""
        name = row.tunnel.name
        try:
            grant = await self._api().create_share(row.tunnel.id, "panel", expiration="24h")
        except TunnelError as exc:
            self._say(f"cannot share {name!r}: {exc}", error=True)
            return
        finally:
            row.set_busy(False)
        self.last_share = grant
        if grant.share_url is None:
            shown = f"<code>{html.escape(grant.token)}</code>"
        else:
            shown = f"{link_html(grant.share_url)} {copy_button(grant.share_url)}"
        self.status_line.value = (
            f"<i>share link to {html.escape(name)!r} (24 h, shown once):</i> {shown}"
        )

    def _schedule(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run ``work`` on the panel's loop (the one running now, else the one it started on).

        Tell whether it was scheduled; if not, the status line says why.
        """
        loop: asyncio.AbstractEventLoop | None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._loop
        if loop is None or loop.is_closed() or self._closed:
            work.close()
            if not self._closed:
                self._say(NO_LOOP)
            return False
        task = loop.create_task(work)
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)
        task.add_done_callback(self._task_done)
        return True

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """Report a task of the panel that ended with an unexpected error."""
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        log.error("tunnel panel: %s failed", task.get_name(), exc_info=error)
        stopped = " (live refresh stopped)" if task is self._task else ""
        self._say(f"unexpected error{stopped}: {error!r}", error=True)

    def _api(self) -> AsyncTunnelsClient:
        if self._client is None:
            self._client = self._client_factory()
            self._client_loop = asyncio.get_running_loop()
        return self._client

    def _say(self, message: str, *, error: bool = False) -> None:
        text = html.escape(message, quote=False)
        self.status_line.value = (
            f'<span style="color:{FAILED_COLOUR}">{text}</span>' if error else f"<i>{text}</i>"
        )
