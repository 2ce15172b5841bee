"""Owners as the control API sees them: who an API token belongs to.

The ingress keeps its own short cache of the same answer (``_routing.py``); the API asks the
store every time, so a revoked token stops working for the API at once.
"""

from __future__ import annotations

from sqlalchemy import select

from ..store import _tables as t
from ..store._engine import Store
from ..store._owners import owner_for_token

__all__ = ["OwnerService"]


class OwnerService:
    """Looks up the owner of an API token in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def owner_for_token(self, token: str) -> str | None:
        """The owner of an API token, or None."""
        async with self.store.read() as conn:
            return await owner_for_token(conn, token)

    async def is_admin(self, owner_id: str) -> bool:
        """Whether the owner is the hub's admin (sees every tunnel in ``/metrics``)."""
        async with self.store.read() as conn:
            query = select(t.owners.c.is_admin).where(t.owners.c.id == owner_id)
            return bool((await conn.execute(query)).scalar())
