"""Credentials: random tokens, stored as SHA-256 hashes, each with a role prefix.

Tokens carry 256 bits from :mod:`secrets`, so a plain SHA-256 is enough to store them (there
is nothing to brute-force, unlike a password). The prefix tells the role at a glance and lets
secret scanners recognise a leaked token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from . import _tables as t
from ._clock import now

__all__ = [
    "AGENT_TOKEN_PREFIX",
    "SHARE_TOKEN_PREFIX",
    "USER_TOKEN_PREFIX",
    "WORKER_TOKEN_PREFIX",
    "create_owner",
    "hash_token",
    "new_token",
    "owner_for_token",
    "tokens_equal",
]

USER_TOKEN_PREFIX = "jtu_"
AGENT_TOKEN_PREFIX = "jta_"
WORKER_TOKEN_PREFIX = "jtw_"
SHARE_TOKEN_PREFIX = "jts_"
TOKEN_BYTES = 32
MIN_TOKEN_LENGTH = 16


def new_token(prefix: str) -> str:
    """Return a fresh random token with the given role prefix."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form the store keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(token: str, token_hash: str) -> bool:
    """Compare a presented token with a stored hash in constant time."""
    return hmac.compare_digest(hash_token(token), token_hash)


async def create_owner(
    conn: AsyncConnection, name: str, *, is_admin: bool = False, token: str | None = None
) -> str:
    """Create an owner with one API token and return the token (given, or made here).

    :raises ValueError: the name is taken, or the given token is too short.
    """
    if token is None:
        token = new_token(USER_TOKEN_PREFIX)
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    taken = (await conn.execute(select(t.owners.c.id).where(t.owners.c.name == name))).first()
    if taken is not None:
        raise ValueError(f"an owner named {name!r} already exists")
    owner_id = str(uuid.uuid4())
    created = now()
    await conn.execute(
        t.owners.insert().values(id=owner_id, name=name, is_admin=is_admin, created_at=created)
    )
    await conn.execute(
        t.api_tokens.insert().values(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            token_hash=hash_token(token),
            created_at=created,
        )
    )
    return token


async def owner_for_token(conn: AsyncConnection, token: str) -> str | None:
    """Return the owner id of an API token, or None if no such token exists."""
    row = (
        await conn.execute(
            select(t.api_tokens.c.id, t.api_tokens.c.owner_id).where(
                t.api_tokens.c.token_hash == hash_token(token)
            )
        )
    ).first()
    if row is None:
        return None
    return str(row.owner_id)
