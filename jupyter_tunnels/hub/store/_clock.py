"""Time helpers: the hub stores UNIX seconds and speaks ISO 8601 UTC."""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["now", "to_datetime"]


def now() -> float:
    """The current time in UNIX seconds."""
    return time.time()


def to_datetime(seconds: float | None) -> datetime | None:
    """Turn stored UNIX seconds into an aware UTC datetime (None stays None)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
