"""Reach streams: ``GET /v1/agent/reach`` upgraded, one local connection carried to a tunnel.

An agent that holds a connection's port opens one reach stream per local connection it
accepts, with ``Authorization: Bearer <reach token>`` and ``X-Tunnels-Connection: <id>``.
The hub judges it (``ReachService.authorize_stream``), opens a stream to the tunnel the way a
visitor's would be (the tunnel's connector dials its target), answers ``101`` and splices the
two. A refusal is an ordinary JSON error (401, 403, 404, 410, 429, 503) before the ``101``.

The handler is a tornado handler so it works wherever the hub is mounted: the standalone front
hands it the request like any other hub request, and inside Jupyter the hosting's dialer
reaches the server's own tunnels in-process (``_dialers.py``).
"""

from __future__ import annotations

import asyncio
import json
import socket

from tornado import web

from ..._core.errors import ErrorCode
from ..._wire.held import HeldProtocol, splice_held
from ..._wire.protocol import CONNECTION_HEADER, REACH_UPGRADE
from .._exceptions import HubError
from ..services._reach import ReachService
from ._dialers import Dialer

__all__ = ["ReachStreamHandler"]


class ReachStreamHandler(web.RequestHandler):
    """``GET /v1/agent/reach`` with ``Upgrade: jupyter-tunnels-reach/1``."""

    def initialize(self, reach: ReachService, dialer: Dialer) -> None:
        """Receive the services (tornado calls this per request)."""
        self.reach = reach
        self.dialer = dialer

    async def get(self) -> None:
        """Judge the stream, open the tunnel's side, answer ``101`` and splice."""
        headers = self.request.headers
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        try:
            if headers.get("Upgrade", "").lower() != REACH_UPGRADE:
                raise HubError(ErrorCode.INVALID_INPUT, f"reach streams upgrade to {REACH_UPGRADE}")
            reach = self.reach
            live, route = reach.authorize_stream(headers.get(CONNECTION_HEADER, ""), token)
            upstream, leftover, untrack = await self.dialer.open_raw(route, "tcp")
        except HubError as exc:
            self._refuse(exc)
            return
        stream = self.detach()
        try:
            await stream.write(
                f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                f"Upgrade: {REACH_UPGRADE}\r\n\r\n".encode()
            )
            # asyncio takes the socket over from tornado: a duplicate survives tornado's close
            sock: socket.socket = stream.socket.dup()
        except BaseException:  # cancelled (the hub stopping) included: nothing left open
            upstream.abort()
            untrack()
            raise
        finally:
            stream.close()
        loop = asyncio.get_running_loop()
        try:
            agent, _ = await loop.connect_accepted_socket(HeldProtocol, sock)
        except BaseException:
            sock.close()
            upstream.abort()
            untrack()
            raise
        if live.id not in reach.live:  # closed while the stream was being opened
            agent.abort()
            upstream.abort()
            untrack()
            return
        pair = (agent, upstream)
        live.streams.update(pair)  # closing the connection (or its tunnel) aborts them
        done = splice_held(agent, upstream, to_a=leftover)
        done.add_done_callback(lambda _: live.streams.difference_update(pair))
        done.add_done_callback(lambda _: untrack())

    def _refuse(self, error: HubError) -> None:
        self.set_status(error.status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if error.code in (ErrorCode.MISSING_AUTH, ErrorCode.INVALID_TOKEN):
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
        body = {"code": error.code.value, "message": error.message, "details": error.details}
        self.finish(json.dumps(body))
