"""Connections (reach) as rows of the store (finding one of an owner's, its API view), and an
open one as the reach streams need it in memory (:class:`LiveConnection`)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import ReachConnection, ReachStatus
from ..._wire.protocol import Bound, Unbound
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import to_datetime
from ._reach_schemes import connection_string

__all__ = ["LiveConnection", "connection_model", "connection_row"]


@dataclasses.dataclass
class LiveConnection:
    """An open connection as the reach streams need it, in memory."""

    id: str
    owner_id: str
    tunnel_id: str
    lease_id: str
    token_hash: str
    share_token_hash: str | None
    answer: asyncio.Future[Bound | Unbound] | None = None
    streams: set[asyncio.Transport] = dataclasses.field(default_factory=set)

    def abort_streams(self) -> None:
        """End every stream carried for this connection."""
        for transport in list(self.streams):
            transport.abort()
        self.streams.clear()


async def connection_row(conn: AsyncConnection, owner_id: str, connection_id: str) -> Row[Any]:
    """One of the owner's connections; ``CONNECTION_NOT_FOUND`` if there is none."""
    row = (
        await conn.execute(
            select(t.connections).where(
                t.connections.c.id == connection_id, t.connections.c.owner_id == owner_id
            )
        )
    ).first()
    if row is None:
        raise HubError(
            ErrorCode.CONNECTION_NOT_FOUND,
            f"no connection {connection_id!r}",
            {"connection": connection_id},
        )
    return row


def connection_model(row: Row[Any]) -> ReachConnection:
    """The API's view of a connection row: its address and connection string once open."""
    is_open = row.status == ReachStatus.OPEN.value and row.local_port is not None
    return ReachConnection(
        id=row.id,
        tunnel_id=row.tunnel_id,
        agent_id=row.agent_id,
        share_id=row.share_id,
        local_host=row.local_host,
        local_port=row.local_port,
        address=f"{row.local_host}:{row.local_port}" if is_open else None,
        protocol=row.protocol,
        connection_string=(
            connection_string(row.protocol, row.local_host, row.local_port) if is_open else None
        ),
        status=ReachStatus(row.status),
        last_error=row.last_error,
        created_at=to_datetime(row.created_at),
        closed_at=to_datetime(row.closed_at),
    )
