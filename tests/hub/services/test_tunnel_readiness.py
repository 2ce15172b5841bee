"""Each tunnel's readiness from the heartbeat's ``tunnels`` over real HTTP, and the lease's for
a connector that does not send it (hub/services/_readiness_rows.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import httpx

from jupyter_tunnels._core.errors import ErrorCode
from tests._api import assert_error, client, create_lease, create_tunnel, heartbeat, ok
from tests._hubs import RunningHub

SILENT = "port 9001 is not listening on 127.0.0.1: start your app first"


def readiness(api: httpx.Client, tunnel_id: str) -> dict[str, Any]:
    """The tunnel's ``readiness`` as the API shows it."""
    shown: dict[str, Any] = ok(api.get(f"/v1/tunnels/{tunnel_id}"))["readiness"]
    return shown


def ready(connected: bool = True) -> dict[str, Any]:
    return {"connectedToHub": connected, "localReady": True, "lastError": None}


def silent(connected: bool = True) -> dict[str, Any]:
    return {"connectedToHub": connected, "localReady": False, "lastError": SILENT}


def test_each_tunnel_shows_its_own_readiness(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        answering = create_tunnel(api, leaseId=grant["id"], target="9000", name="answering")
        quiet = create_tunnel(api, leaseId=grant["id"], target="9001", name="quiet")
        unnamed = create_tunnel(api, leaseId=grant["id"], target="9002", name="unnamed")
        ok(
            heartbeat(
                api,
                grant["id"],
                localReady=False,
                lastError=SILENT,
                tunnels={
                    answering["id"]: {"localReady": True, "lastError": None},
                    quiet["id"]: {"localReady": False, "lastError": SILENT},
                },
            )
        )
        assert readiness(api, answering["id"]) == ready(False)
        assert readiness(api, quiet["id"]) == silent(False)
        assert readiness(api, unnamed["id"]) == silent(False)  # not named: the lease's
        lease = ok(api.get(f"/v1/leases/{grant['id']}"))
        assert lease["readiness"] == silent(False)  # the lease's stays the whole lease's


def test_a_heartbeat_without_tunnels_sets_every_tunnel_from_the_lease(hub: RunningHub) -> None:
    """An older connector sends only the lease's readiness: every tunnel shows it, also one a
    newer heartbeat had reported on its own."""
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        first = create_tunnel(api, leaseId=grant["id"], target="9000", name="first")
        second = create_tunnel(api, leaseId=grant["id"], target="9001", name="second")
        ok(
            heartbeat(
                api, grant["id"], localReady=True, tunnels={first["id"]: {"localReady": True}}
            )
        )
        assert readiness(api, first["id"]) == ready(False)
        ok(heartbeat(api, grant["id"], connectedToHub=False, localReady=False, lastError=SILENT))
        assert readiness(api, first["id"]) == silent(False)
        assert readiness(api, second["id"]) == silent(False)
        ok(heartbeat(api, grant["id"], localReady=True))
        assert readiness(api, first["id"]) == readiness(api, second["id"]) == ready(False)


def test_tunnels_of_another_lease_and_unknown_ids_are_ignored(hub: RunningHub) -> None:
    with client(hub) as api:
        mine = create_lease(api, "laptop")
        theirs = create_lease(api, "server")
        other = create_tunnel(api, leaseId=theirs["id"], target="9000", name="other")
        ok(heartbeat(api, theirs["id"], localReady=True))
        beat = heartbeat(
            api,
            mine["id"],
            localReady=True,
            tunnels={
                other["id"]: {"localReady": False, "lastError": SILENT},
                "no-such-tunnel": {"localReady": False},
            },
        )
        assert ok(beat)["action"] == "none"
        assert readiness(api, other["id"]) == ready(False)


def test_a_bad_per_tunnel_readiness_is_refused_and_changes_nothing(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        created = create_tunnel(api, leaseId=grant["id"], target="9000")
        ok(heartbeat(api, grant["id"], localReady=True))
        for tunnels in (
            {created["id"]: {"localReady": "perhaps"}},
            {created["id"]: {"localReady": False, "ready": 1}},
            [created["id"]],
        ):
            error = assert_error(
                heartbeat(api, grant["id"], localReady=False, tunnels=tunnels),
                ErrorCode.INVALID_INPUT,
            )
            assert error["message"].startswith("tunnels"), error
        assert readiness(api, created["id"]) == ready(False)


def test_an_overlong_per_tunnel_error_is_cut(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        created = create_tunnel(api, leaseId=grant["id"], target="9000")
        tunnels = {created["id"]: {"localReady": False, "lastError": "x" * 5000}}
        ok(heartbeat(api, grant["id"], tunnels=tunnels))
        stored = readiness(api, created["id"])["lastError"]
    assert stored.startswith("xxx")
    assert len(stored) <= 1000


def test_a_store_made_before_per_tunnel_readiness_gains_it(
    make_hub: Callable[..., RunningHub],
) -> None:
    """A hub's store from before the field had no per-tunnel table: the hub adds it at start."""
    hub = make_hub()
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        created = create_tunnel(api, leaseId=grant["id"], target="9001")
    hub.stop()
    with sqlite3.connect(hub.db_path) as db:
        db.execute("DROP TABLE tunnel_readiness")
    again = make_hub(db_path=hub.db_path)
    with client(again) as api:
        assert readiness(api, created["id"])["localReady"] is False
        tunnels = {created["id"]: {"localReady": False, "lastError": SILENT}}
        ok(heartbeat(api, grant["id"], localReady=True, tunnels=tunnels))
        assert readiness(api, created["id"]) == silent(False)
