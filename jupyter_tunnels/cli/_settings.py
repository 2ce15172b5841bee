"""Option values: their parsers, and the ``JUPYTER_TUNNELS_<NAME>`` variables behind them.

An option with a value can also be set in the environment under the option's name in upper
case (``--lease-ttl`` is ``JUPYTER_TUNNELS_LEASE_TTL``); the command line wins. Options that
may come from the environment have no argparse default (``argparse.SUPPRESS``), so "not given"
can be told apart from any value, and :func:`resolve` fills them in.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from ._errors import UsageError

__all__ = [
    "DISABLED",
    "ENV_PREFIX",
    "LOG_LEVELS",
    "MAX_OWNER_NAME_LENGTH",
    "MIN_LEASE_TTL",
    "MIN_SLUG_GRACE",
    "MIN_UNFINISHED_HEADS",
    "count_at_least",
    "env_name",
    "head_timeout",
    "hub_url",
    "lease_ttl",
    "log_level",
    "max_unfinished_heads",
    "owner_name",
    "path",
    "port",
    "port_range",
    "positive_seconds",
    "resolve",
    "seconds_at_least",
    "slug_grace",
    "text",
]

T = TypeVar("T")

ENV_PREFIX = "JUPYTER_TUNNELS_"
MAX_OWNER_NAME_LENGTH = 100
DISABLED = ("none", "off")
"""Values of ``--tcp-ports`` that turn TCP and UDP tunnels off."""
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_LEASE_TTL = 1.0
"""The shortest lease TTL the hub accepts (tests use it to see leases expire quickly)."""
MIN_SLUG_GRACE = 0.0
"""No grace at all: a stopped tunnel's slug is free at once."""
MIN_UNFINISHED_HEADS = 1
"""The smallest bound of unfinished request heads per client address the hub accepts."""
MAX_PORT = 65535


def env_name(dest: str) -> str:
    """The environment variable of an option: ``lease_ttl`` → ``JUPYTER_TUNNELS_LEASE_TTL``."""
    return ENV_PREFIX + dest.upper()


def resolve(
    args: argparse.Namespace,
    dest: str,
    parse: Callable[[str], T],
    default: T,
    *,
    environ: Mapping[str, str] = os.environ,
) -> T:
    """The option's value if given, else its environment variable's (parsed), else ``default``.

    :raises UsageError: the environment variable holds a value the option would refuse.
    """
    if hasattr(args, dest):
        value: T = getattr(args, dest)
        return value
    name = env_name(dest)
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{name}={raw!r}: {exc}") from None


def port(value: str) -> int:
    """A TCP port number; 0 lets the system pick a free one."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= number <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port {number} is not between 0 and {MAX_PORT}")
    return number


def target_port(value: str) -> int:
    """A port something listens on: 1 to 65535 (0 picks nothing to expose)."""
    number = port(value)
    if number == 0:
        raise argparse.ArgumentTypeError("port 0 is not a port an app listens on: give 1-65535")
    return number


def port_range(value: str) -> tuple[int, int] | None:
    """``FIRST-LAST`` (or one port) for TCP/UDP tunnels; ``none`` or ``off`` for no ports."""
    if value.strip().lower() in DISABLED:
        return None
    from ..hub import parse_port_range  # the hub is heavy; only hub commands need it

    try:
        return parse_port_range(value.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seconds_at_least(minimum: float) -> Callable[[str], float]:
    """A parser of a duration in seconds, refusing values below ``minimum``."""

    def seconds(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
        if not number >= minimum:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{value} s is less than the minimum, {minimum:g} s")
        if number == float("inf"):
            raise argparse.ArgumentTypeError("a duration must be finite")
        return number

    return seconds


def positive_seconds(value: str) -> float:
    """A duration in seconds greater than zero (and finite)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value} s is not a positive number of seconds")
    if number == float("inf"):
        raise argparse.ArgumentTypeError("a duration must be finite")
    return number


def count_at_least(minimum: int) -> Callable[[str], int]:
    """A parser of a whole number, refusing values below ``minimum``."""

    def count(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{number} is less than the minimum, {minimum}")
        return number

    return count


lease_ttl = seconds_at_least(MIN_LEASE_TTL)
"""Parse ``--lease-ttl``."""
slug_grace = seconds_at_least(MIN_SLUG_GRACE)
"""Parse ``--slug-grace``."""
head_timeout = positive_seconds
"""Parse ``--head-timeout``."""
max_unfinished_heads = count_at_least(MIN_UNFINISHED_HEADS)
"""Parse ``--max-unfinished-heads``."""


def hub_url(value: str) -> str:
    """An ``http://`` or ``https://`` URL with a host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an http:// or https:// URL, e.g. http://127.0.0.1:8765"
        )
    return value.strip()


def log_level(value: str) -> str:
    """One of :data:`LOG_LEVELS`, in any case."""
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def path(value: str) -> Path:
    """A file path; ``~`` is expanded."""
    if not value.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(value).expanduser()


def text(value: str) -> str:
    """A non-empty string (a host name, a domain)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("the value is empty")
    return value.strip()


def owner_name(value: str) -> str:
    """An owner's name: 1 to 100 printable characters, no surrounding spaces."""
    if not value or value != value.strip() or not value.isprintable():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a usable name: use printable characters without surrounding spaces"
        )
    if len(value) > MAX_OWNER_NAME_LENGTH:
        raise argparse.ArgumentTypeError(
            f"the name has {len(value)} characters; at most {MAX_OWNER_NAME_LENGTH} are allowed"
        )
    return value
