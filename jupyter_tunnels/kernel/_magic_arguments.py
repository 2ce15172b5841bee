"""The argument types of ``%tunnel``'s options: each refuses a bad value with one line."""

from __future__ import annotations

import argparse

from .._core.share_text import parse_methods, parse_rate
from ._checks import validate_name, validate_port
from ._errors import InvalidArgument

__all__ = ["MAX_LOG_LIMIT", "limit", "methods", "name", "port", "rate", "seconds"]

MAX_LOG_LIMIT = 200
"""The most requests ``%tunnel log`` shows (what the hub keeps per tunnel)."""


def port(text: str) -> int:
    try:
        return validate_port(text)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def name(text: str) -> str:
    try:
        name = validate_name(text)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert name is not None
    return name


def methods(text: str) -> list[str]:
    try:
        return parse_methods(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def rate(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOG_LIMIT:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to {MAX_LOG_LIMIT}")
    return int(text)


def seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return seconds
