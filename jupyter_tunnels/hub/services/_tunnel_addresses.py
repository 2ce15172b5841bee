"""Where a tunnel is reached: its slug and its hub port, chosen free, or taken back.

A slug is unique among live tunnels, and so is a hub port. A stopped tunnel's slug and hub
port stay reserved for its owner for ``slug_grace`` seconds (``_tunnel_transitions.py``
reserves them): nobody else may take them meanwhile, and the same owner creating the same
tunnel again (a connector back from a laptop sleep) takes the reservation back, so the URL
does not change.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.names import random_slug, slugify
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now
from ._tunnel_rows import LIVE_VALUES

__all__ = ["choose_hub_port", "choose_slug", "own_reservation", "slug_of_name"]

SLUG_ATTEMPTS = 20
"""Random suffixes tried before a generated slug gives up with ``409 SLUG_TAKEN``: far more
than needed, since :data:`SUFFIX_LENGTH` characters give 1.7 million suffixes per name."""
SUFFIX_LENGTH = 4
"""Random letters and digits added to the stem of a taken slug (``dashboard-avxv``)."""


async def own_reservation(
    conn: AsyncConnection,
    owner_id: str,
    client_instance_id: str | None,
    port: int,
    protocol: str,
    slug: str | None,
) -> Row[Any] | None:
    """The owner's unexpired reservation this tunnel should take back, if any."""
    query = select(t.slug_reservations).where(
        t.slug_reservations.c.owner_id == owner_id,
        t.slug_reservations.c.reserved_until > now(),
    )
    if slug is not None:
        query = query.where(t.slug_reservations.c.slug == slug)
    else:
        query = query.where(
            t.slug_reservations.c.client_instance_id == client_instance_id,
            t.slug_reservations.c.target_port == port,
            t.slug_reservations.c.protocol == protocol,
        )
    result = await conn.execute(query.order_by(t.slug_reservations.c.reserved_until.desc()))
    return result.first()


async def _slug_free(conn: AsyncConnection, owner_id: str, slug: str) -> bool:
    live = (
        await conn.execute(
            select(func.count())
            .select_from(t.tunnels)
            .where(t.tunnels.c.slug == slug, t.tunnels.c.status.in_(LIVE_VALUES))
        )
    ).scalar_one()
    if live:
        return False
    reserved_by_other = (
        await conn.execute(
            select(func.count())
            .select_from(t.slug_reservations)
            .where(
                t.slug_reservations.c.slug == slug,
                t.slug_reservations.c.owner_id != owner_id,
                t.slug_reservations.c.reserved_until > now(),
            )
        )
    ).scalar_one()
    return not reserved_by_other


async def choose_slug(
    conn: AsyncConnection,
    owner_id: str,
    wanted: str | None,
    name: str,
    reservation: Row[Any] | None,
) -> str:
    """The slug of a new tunnel: ``wanted`` if it is free (else ``409 SLUG_TAKEN``), else the
    owner's reservation's, else one made from ``name``, with a random suffix if need be."""
    if wanted is not None:
        if not await _slug_free(conn, owner_id, wanted):
            raise HubError(
                ErrorCode.SLUG_TAKEN,
                f"slug {wanted!r} is in use or reserved: choose another",
                {"slug": wanted},
            )
        return wanted
    if reservation is not None and await _slug_free(conn, owner_id, reservation.slug):
        return str(reservation.slug)
    base = slugify(name)
    candidates = [base] if base else []
    stem = _slug_stem(base)
    candidates += [
        f"{stem}-{random_slug(SUFFIX_LENGTH)}" if stem else random_slug()
        for _ in range(SLUG_ATTEMPTS)
    ]
    for candidate in candidates:
        if await _slug_free(conn, owner_id, candidate):
            return candidate
    raise HubError(ErrorCode.SLUG_TAKEN, "no free slug was found: give one with 'slug'")


async def choose_hub_port(
    conn: AsyncConnection,
    config: HubConfig,
    owner_id: str,
    wanted: int | None,
    explicit: int | None,
) -> int:
    """The hub port of a new tcp or udp tunnel: ``wanted`` (the explicit or the reserved one)
    if it is free and in range, else a free one; an ``explicit`` one taken is an error."""
    if config.tcp_ports is None:
        raise HubError(
            ErrorCode.NO_HUB_PORTS,
            "this hub serves no TCP/UDP ports: start it with --tcp-ports FIRST-LAST",
        )
    first, last = config.tcp_ports
    if explicit is not None and not first <= explicit <= last:
        raise HubError(
            ErrorCode.INVALID_PORT,
            f"hubPort {explicit} is outside this hub's range {first}-{last}",
            {"field": "hubPort", "range": [first, last]},
        )
    busy_live = (
        await conn.execute(
            select(t.tunnels.c.hub_port).where(
                t.tunnels.c.hub_port.is_not(None), t.tunnels.c.status.in_(LIVE_VALUES)
            )
        )
    ).scalars()
    reserved_by_other = (
        await conn.execute(
            select(t.slug_reservations.c.hub_port).where(
                and_(
                    t.slug_reservations.c.hub_port.is_not(None),
                    t.slug_reservations.c.owner_id != owner_id,
                    t.slug_reservations.c.reserved_until > now(),
                )
            )
        )
    ).scalars()
    busy = set(busy_live) | set(reserved_by_other)
    if wanted is not None and wanted not in busy and first <= wanted <= last:
        return wanted  # (a reserved port from before a range change is not)
    if explicit is not None:
        raise HubError(
            ErrorCode.HUB_PORT_TAKEN,
            f"hub port {explicit} is in use or reserved: choose another or omit hubPort",
            {"hubPort": explicit},
        )
    free = [port for port in range(first, last + 1) if port not in busy]
    if not free:
        raise HubError(ErrorCode.NO_HUB_PORTS, f"every hub port in {first}-{last} is in use")
    return secrets.choice(free)


def _slug_stem(base: str) -> str:
    """The part of a name's slug that a random suffix follows when the slug itself is taken."""
    return base[: 32 - SUFFIX_LENGTH - 1].rstrip("-")


def slug_of_name(slug: str, name: str) -> bool:
    """Whether ``slug`` is what :func:`choose_slug` makes of ``name``: its slugified form, or
    that form's stem with a random suffix."""
    base = slugify(name)
    stem = _slug_stem(base)
    suffixed = len(slug) == len(stem) + 1 + SUFFIX_LENGTH and slug.startswith(stem + "-")
    return slug == base or (bool(stem) and suffixed)
