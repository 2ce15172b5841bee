"""``%tunnel panel``: a live ipywidgets table of the server's tunnels, with actions.

Everything that changes a widget runs on the kernel's event loop: one refresh task (started
by :meth:`TunnelPanel.start`) and the tasks button clicks schedule there. So there are no
threads and no locks, and a click never races a refresh. Rows are kept by tunnel id and
updated in place; a tunnel that is gone loses its row, which is closed (its widget models
freed). Errors (a lost server, a refused action) show in the panel's status line; the refresh
loop keeps going and the next tick retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets

from .._models import Tunnel
from .._status import TunnelStatus
from ..client import AsyncTunnelsClient, TunnelError
from ._display import FAILED_COLOUR
from ._panel_rows import COLUMNS, TunnelRow

__all__ = ["DEFAULT_INTERVAL", "TunnelPanel"]

log = logging.getLogger("jupyter_tunnels.kernel")

DEFAULT_INTERVAL = 2.0
"""Seconds between two refreshes."""
NO_LOOP = "live refresh needs a running event loop (a Jupyter kernel): press Refresh to update"


class TunnelPanel(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no type hints
    """Every tunnel of the current backend, refreshed every ``interval`` seconds.

    ``client_factory()`` makes the async SDK client the panel owns (and closes in
    :meth:`close`). Call :meth:`start` from code running on the kernel's loop (a cell).
    """

    def __init__(
        self,
        client_factory: Callable[[], AsyncTunnelsClient],
        *,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.interval = interval
        self.rows: dict[str, TunnelRow] = {}
        """The rows on show, by tunnel id."""
        self._client_factory = client_factory
        self._client: AsyncTunnelsClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Task[None]] = set()
        self._closed = False
        self.show_all = widgets.Checkbox(description="show stopped", indent=False)
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.status_line = widgets.HTML()
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

    async def aclose(self) -> None:
        """Stop refreshing, wait for running actions, close the client and the widgets."""
        tasks = self._stop()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Stop refreshing and close the widgets; the client closes on the loop (idempotent).

        Safe before :meth:`start` and outside a loop.
        """
        tasks = self._stop()
        for task in tasks:
            task.cancel()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing was opened on one
                asyncio.get_running_loop().create_task(client.aclose())

    def _stop(self) -> list[asyncio.Task[None]]:
        if self._closed:
            return []
        self._closed = True
        tasks = [task for task in (self._task, *self._actions) if task is not None]
        self._task = None
        for row in self.rows.values():
            row.close()
        self.rows.clear()
        self.table.children = ()
        super().close()
        return tasks

    # --- refreshing ------------------------------------------------------------------------

    async def refresh(self) -> None:
        """List the tunnels once and update the rows (errors go to the status line)."""
        if self._closed:
            return
        try:
            tunnels = await self._api().list(include_inactive=self.show_all.value)
        except TunnelError as exc:
            self._say(f"cannot list the tunnels: {exc}", error=True)
            return
        self._show(tunnels)
        self._say(f"{len(tunnels)} tunnel{'s' if len(tunnels) != 1 else ''}")

    async def _refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    def _show(self, tunnels: list[Tunnel]) -> None:
        now = datetime.now(timezone.utc)
        wanted = {tunnel.id: tunnel for tunnel in sorted(tunnels, key=lambda t: t.name)}
        with self.hold_sync():
            for tunnel_id in self.rows.keys() - wanted.keys():
                self.rows.pop(tunnel_id).close()
            for tunnel_id, tunnel in wanted.items():
                row = self.rows.get(tunnel_id)
                if row is None:
                    self.rows[tunnel_id] = TunnelRow(tunnel, self._act)
                else:
                    row.show(tunnel, now)
            order = tuple(self.rows[tunnel_id] for tunnel_id in wanted)
            if order != self.table.children:
                self.table.children = order

    # --- actions ---------------------------------------------------------------------------

    def _act(self, row: TunnelRow, action: str) -> None:
        row.set_busy(True)
        self._schedule(self._run_action(row, action))

    async def _run_action(self, row: TunnelRow, action: str) -> None:
        name = row.tunnel.name
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
        await self.refresh()
        self._say(f"{action}: {name!r} done")

    def _schedule(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the panel's loop (the one running now, else the one it started on)."""
        loop: asyncio.AbstractEventLoop | None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._loop
        if loop is None or self._closed:
            work.close()
            self._say(NO_LOOP)
            return
        task = loop.create_task(work)
        self._actions.add(task)
        task.add_done_callback(self._action_done)

    def _action_done(self, task: asyncio.Task[None]) -> None:
        self._actions.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("tunnel panel action failed", exc_info=task.exception())
            self._say(f"unexpected error: {task.exception()!r}", error=True)

    def _api(self) -> AsyncTunnelsClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _say(self, message: str, *, error: bool = False) -> None:
        text = html.escape(message, quote=False)
        self.status_line.value = (
            f'<span style="color:{FAILED_COLOUR}">{text}</span>' if error else f"<i>{text}</i>"
        )
