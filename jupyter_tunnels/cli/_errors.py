"""The two ways a command fails: a failure (exit 1) or bad usage (exit 2)."""

from __future__ import annotations

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_USAGE", "CommandError", "UsageError"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""What shells report for a command stopped by Ctrl-C (128 + SIGINT)."""


class CommandError(Exception):
    """A command failed; its message is printed as one line on stderr."""

    exit_code = EXIT_FAILURE


class UsageError(CommandError):
    """A setting is malformed (an option or its environment variable)."""

    exit_code = EXIT_USAGE
