"""Share links as text, for the command line and the ``%tunnel`` magic: option parsing and
the tables both print. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import get_args

from .models import HttpMethod, Share, ShareExpiration, ShareGrant

__all__ = [
    "EXPIRATIONS",
    "MAX_RATE",
    "parse_methods",
    "parse_rate",
    "share_created",
    "share_table",
]

EXPIRATIONS = tuple(e.value for e in ShareExpiration)
MAX_RATE = 1000
_METHODS = get_args(HttpMethod)
_NONE = "-"


def parse_methods(text: str) -> list[str]:
    """``"get,POST"`` → ``["GET", "POST"]``; ValueError names an unknown method."""
    methods = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not methods:
        raise ValueError("give at least one method, e.g. GET,POST")
    for method in methods:
        if method not in _METHODS:
            raise ValueError(f"{method!r} is not one of {', '.join(_METHODS)}")
    return list(dict.fromkeys(methods))


def parse_rate(text: str) -> int:
    """Requests a minute, 1 to :data:`MAX_RATE`; ValueError says what is wrong."""
    try:
        rate = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number of requests a minute") from None
    if not 1 <= rate <= MAX_RATE:
        raise ValueError(f"the rate must be between 1 and {MAX_RATE} a minute, not {rate}")
    return rate


def share_created(grant: ShareGrant) -> str:
    """What to tell the person who just made a share: the link (or token), and its limits."""
    lines = []
    if grant.share_url is not None:
        lines.append(f"share link: {grant.share_url}")
    else:
        lines.append(f"share token: {grant.token}")
        lines.append(
            f"  reach it: jupyter-tunnels connect {grant.tunnel_id} --share-token {grant.token}"
        )
    lines.append(f"  {_limits(grant)}")
    lines.append(f"  id {grant.id}; the link is shown once: revoke it with its id")
    return "\n".join(lines)


def _limits(share: Share) -> str:
    expires = "never expires" if share.expires_at is None else f"expires {_time(share.expires_at)}"
    methods = "any method" if share.allowed_methods is None else ", ".join(share.allowed_methods)
    rate = (
        "no rate limit"
        if share.rate_limit_per_minute is None
        else (f"{share.rate_limit_per_minute}/min")
    )
    parts = [expires, methods, rate]
    if share.path_prefix is not None:
        parts.append(f"paths under {share.path_prefix}")
    return "; ".join(parts)


_COLUMNS = ("ID", "NAME", "STATE", "ACCESSES", "LAST ACCESS", "EXPIRES", "METHODS", "RATE")


def share_table(shares: Sequence[Share]) -> str:
    """An aligned table of shares, one a line."""
    rows = [_COLUMNS]
    for share in shares:
        state = "active" if share.active else ("revoked" if share.revoked_at else "expired")
        rows.append(
            (
                share.id,
                share.name,
                state,
                str(share.access_count),
                _time(share.last_accessed_at),
                _time(share.expires_at) if share.expires_at else "never",
                ",".join(share.allowed_methods) if share.allowed_methods else "any",
                f"{share.rate_limit_per_minute}/min" if share.rate_limit_per_minute else _NONE,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _time(value: datetime | None) -> str:
    return _NONE if value is None else value.isoformat(sep=" ", timespec="seconds")
