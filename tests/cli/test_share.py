"""``jupyter-tunnels share create|list|revoke`` against a real hub (in-process ``main()``, the
same code the command runs; one real subprocess checks the installed command)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from jupyter_tunnels.cli import main
from tests._api import client, create_tunnel
from tests._hubs import RunningHub
from tests.cli.test_main import assert_one_line_error, cli_env, run_cli


def test_create_list_and_revoke_a_share(
    tmp_path: Path, hub: RunningHub, capsys: pytest.CaptureFixture[str]
) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="dash")
    options = ["--hub", hub.url, "--token", hub.token]
    assert main([*options, "share", "create", "dash", "--name", "review", "--expires", "7d",
                 "--methods", "get,head", "--rate", "60", "--path", "/api"]) == 0  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    link = printed[0].removeprefix("share link: ")
    assert link.startswith(f"{tunnel['url']}api?share_token=jts_")
    assert "GET, HEAD; 60/min; paths under /api" in printed[1]
    share_id = printed[2].split()[1].rstrip(";")

    assert main([*options, "share", "list", "dash"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "STATE", "ACCESSES"]
    assert table[1].split()[:4] == [share_id, "review", "active", "0"]
    assert main([*options, "share", "list", "dash", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["allowedMethods"], listed["pathPrefix"]) == (
        share_id,
        ["GET", "HEAD"],
        "/api",
    )

    assert main([*options, "share", "revoke", share_id]) == 0
    assert capsys.readouterr().out.startswith("revoked 'review'")
    refused = httpx.get(link, trust_env=False, timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (403, "SHARE_REVOKED")


def test_bad_share_options_are_one_clear_line(tmp_path: Path, hub: RunningHub) -> None:
    env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
    for args, expected in (
        (("share", "create", "x", "--rate", "0"), "between 1 and 1000"),
        (("share", "create", "x", "--methods", "FETCH"), "'FETCH' is not one of"),
        (("share", "create", "x", "--expires", "2h"), "invalid choice: '2h'"),
        (("share", "create", ""), "argument TUNNEL: the value is empty"),
        (("share", "create", "x", "--name", " "), "argument --name: the value is empty"),
        (("share", "list", ""), "argument TUNNEL: the value is empty"),
        (("share", "revoke", ""), "argument SHARE_ID: the value is empty"),
        (("expose", "0"), "port 0 is not a port an app listens on"),
    ):
        result = run_cli(env, *args)
        assert result.returncode == 2 and expected in result.stderr, result  # argparse usage
        assert "Traceback" not in result.stderr
    assert_one_line_error(run_cli(env, "share", "create", "no-such-tunnel"), "404")
    assert_one_line_error(run_cli(env, "share", "revoke", "no-such-share"), "404")
