"""How every command's parser is made: one sub-command, and help that names the environment.

A sub-command's description is its one-line summary as a sentence, its epilog is printed as
written, and an option that can be set in the environment says which variable sets it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import _settings as settings

__all__ = ["Handler", "command", "from_env"]

Handler = Callable[[argparse.Namespace], int]
"""Runs a parsed command and returns its exit code."""


def command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Handler | None,
    *,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` to ``commands``; ``handler`` runs it (None: it has
    sub-commands of its own)."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def from_env(text: str, dest: str) -> str:
    """Help text that names the option's environment variable."""
    return f"{text} [env {settings.env_name(dest)}]"
