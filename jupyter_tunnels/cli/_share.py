"""``jupyter-tunnels share create|list|revoke``: share links from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from .._core.share_text import EXPIRATIONS, parse_methods, parse_rate, share_created, share_table
from . import _settings as settings

__all__ = ["add_share"]

SHARE_EPILOG = """\
Anyone with the link reaches the tunnel within its limits, without an account; the app never
sees the token. Browsers get a cookie scoped to the tunnel, so the app's own requests pass too.
The hub is --hub, else JUPYTER_TUNNELS_HUB; the token is --token, else JUPYTER_TUNNELS_TOKEN.

Examples:
  jupyter-tunnels share create dashboard --expires 7d --methods GET,HEAD --rate 60
  jupyter-tunnels share list dashboard
  jupyter-tunnels share revoke 7c0d1d6e-..."""

Command = Callable[..., argparse.ArgumentParser]


def _methods(value: str) -> list[str]:
    try:
        return parse_methods(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(value: str) -> int:
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _create(args: argparse.Namespace) -> int:
    from ._client_commands import hub_client

    with hub_client(args) as client:
        grant = client.create_share(
            args.tunnel,
            args.name,
            expiration=args.expires,
            allowed_methods=args.methods,
            rate_limit_per_minute=args.rate,
            path_prefix=args.path,
            description=args.description,
        )
    print(json.dumps(grant.to_json(), indent=2) if args.json else share_created(grant))
    return 0


def _list(args: argparse.Namespace) -> int:
    from ._client_commands import hub_client

    with hub_client(args) as client:
        shares = client.list_shares(args.tunnel)
    if args.json:
        print(json.dumps([share.to_json() for share in shares], indent=2))
    else:
        print(share_table(shares) if shares else f"no shares of {args.tunnel!r}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from ._client_commands import hub_client

    with hub_client(args) as client:
        share = client.revoke_share(args.id)
    print(f"revoked {share.name!r} (id {share.id}): its link no longer works")
    return 0


def add_share(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Command,
    client_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``share`` and its actions; ``command`` makes a subcommand parser."""
    share = command(commands, "share", "create, list and revoke share links", None)
    actions = share.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = command(
        actions, "create", "make a share link to a tunnel", _create, epilog=SHARE_EPILOG
    )
    create.add_argument(
        "tunnel", type=settings.text, metavar="TUNNEL", help="the tunnel's id or slug"
    )
    create.add_argument(
        "--name", type=settings.text, default="link", help="a name for you (default: link)"
    )
    create.add_argument(
        "--expires", choices=EXPIRATIONS, default="24h", help="how long it works (default 24h)"
    )
    create.add_argument(
        "--methods",
        type=_methods,
        default=None,
        metavar="M,M",
        help="allowed methods, e.g. GET,HEAD (default: any; CONNECT allows reach)",
    )
    create.add_argument(
        "--rate", type=_rate, default=None, metavar="N", help="requests a minute, 1-1000"
    )
    create.add_argument("--path", default=None, metavar="PREFIX", help="only paths under this")
    create.add_argument("--description", default=None, help="a note, up to 500 characters")
    create.add_argument("--json", action="store_true", help="print the share as JSON")

    listing = command(actions, "list", "list a tunnel's share links", _list, epilog=SHARE_EPILOG)
    listing.add_argument(
        "tunnel", type=settings.text, metavar="TUNNEL", help="the tunnel's id or slug"
    )
    listing.add_argument("--json", action="store_true", help="print the shares as JSON")

    revoke = command(actions, "revoke", "revoke a share link", _revoke, epilog=SHARE_EPILOG)
    revoke.add_argument("id", type=settings.text, metavar="SHARE_ID", help="the share's id")
    for parser in (create, listing, revoke):
        client_options(parser)
