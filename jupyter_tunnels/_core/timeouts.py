"""A deadline for an awaitable that costs no extra task where Python allows it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["within"]

T = TypeVar("T")


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, raising :class:`TimeoutError` after ``seconds``.

    On Python 3.11 and newer this uses :func:`asyncio.timeout`, which, unlike
    :func:`asyncio.wait_for`, does not wrap the awaitable in a task: it matters on the data
    path, where a connection is opened for every visitor.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)  # pragma: no cover (3.10)
