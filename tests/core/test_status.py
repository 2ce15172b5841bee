"""The tunnel status enum and its transition table (_status.py), and how the API applies it."""

from __future__ import annotations

import itertools

import pytest

from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels._core.status import (
    INACTIVE_STATUSES,
    LIVE_STATUSES,
    TRANSITIONS,
    TunnelStatus,
    can_transition,
)
from tests._api import assert_error, client, create_lease, create_tunnel, heartbeat, ok
from tests._hubs import RunningHub

S = TunnelStatus
DOCUMENTED: dict[TunnelStatus, set[TunnelStatus]] = {
    S.CREATING: {S.CONNECTING, S.STOPPING, S.FAILED},
    S.CONNECTING: {S.ACTIVE, S.PAUSED, S.STOPPING, S.FAILED},
    S.ACTIVE: {S.PAUSED, S.CONNECTING, S.STOPPING, S.FAILED},
    S.PAUSED: {S.ACTIVE, S.CONNECTING, S.STOPPING, S.FAILED},
    S.STOPPING: {S.STOPPED, S.FAILED},
    S.STOPPED: set(),
    S.FAILED: set(),
}
"""The table as drawn in the docstring of _status.py and in DESIGN.md, written out by hand."""


@pytest.mark.parametrize(
    ("current", "new"), list(itertools.product(S, S)), ids=lambda s: str(s.value)
)
def test_transition_table(current: TunnelStatus, new: TunnelStatus) -> None:
    assert can_transition(current, new) is (new in DOCUMENTED[current])


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(S)
    assert {s.value for s in S} == {
        "creating",
        "connecting",
        "active",
        "paused",
        "stopping",
        "stopped",
        "failed",
    }


def test_live_and_inactive_statuses() -> None:
    final = {S.STOPPED, S.FAILED}
    assert set(INACTIVE_STATUSES) == final
    assert set(LIVE_STATUSES) == set(S) - final
    for status in S:
        if status in LIVE_STATUSES:
            assert can_transition(status, S.FAILED), status
        assert not can_transition(status, status), status


def test_every_status_can_reach_an_end() -> None:
    for status in S:
        seen, frontier = {status}, [status]
        while frontier:
            for following in TRANSITIONS[frontier.pop()]:
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
        assert seen & INACTIVE_STATUSES or status in INACTIVE_STATUSES, status


# --- through the API -----------------------------------------------------------------------


def test_pause_and_resume_an_active_tunnel(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "laptop")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        tunnel = create_tunnel(api, leaseId=lease["id"])
        url = f"/v1/tunnels/{tunnel['id']}"
        assert tunnel["status"] == "active"
        assert ok(api.patch(url, json={"status": "paused"}))["status"] == "paused"
        assert ok(api.patch(url, json={"status": "paused"}))["status"] == "paused"
        # Paused is the owner's decision: connector reconnects do not undo it.
        ok(heartbeat(api, lease["id"], connectedToHub=False))
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        assert ok(api.get(url))["status"] == "paused"
        assert ok(api.patch(url, json={"status": "active"}))["status"] == "active"
        assert ok(api.patch(url, json={"status": "active"}))["status"] == "active"


def test_resume_while_the_connector_is_away_goes_to_connecting(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "laptop")
        tunnel = create_tunnel(api, leaseId=lease["id"])
        url = f"/v1/tunnels/{tunnel['id']}"
        assert tunnel["status"] == "connecting"
        assert ok(api.patch(url, json={"status": "active"}))["status"] == "connecting"
        assert ok(api.patch(url, json={"status": "paused"}))["status"] == "paused"
        assert ok(api.patch(url, json={"status": "active"}))["status"] == "connecting"
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        assert ok(api.get(url))["status"] == "active"


def test_binding_a_creating_tunnel_to_a_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api)
        url = f"/v1/tunnels/{tunnel['id']}"
        lease = create_lease(api, "laptop")
        bound = ok(api.patch(url, json={"leaseId": lease["id"]}))
        assert (bound["status"], bound["leaseId"]) == ("connecting", lease["id"])
        other = create_tunnel(api)
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        both = ok(
            api.patch(
                f"/v1/tunnels/{other['id']}", json={"leaseId": lease["id"], "status": "active"}
            )
        )
        assert both["status"] == "active"


@pytest.mark.parametrize("wanted", ["paused", "active"])
def test_a_creating_tunnel_cannot_be_paused_or_activated(hub: RunningHub, wanted: str) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api)
        answer = api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": wanted})
        body = assert_error(answer, ErrorCode.ILLEGAL_TRANSITION)
        assert body["message"] == f"a tunnel cannot go from creating to {wanted}"
        assert body["details"] == {"from": "creating", "to": wanted}
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "creating"


@pytest.mark.parametrize("wanted", ["paused", "active"])
def test_a_stopped_tunnel_stays_stopped(hub: RunningHub, wanted: str) -> None:
    with client(hub) as api:
        lease = create_lease(api, "laptop")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        tunnel = create_tunnel(api, leaseId=lease["id"])
        ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        answer = api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": wanted})
        body = assert_error(answer, ErrorCode.ILLEGAL_TRANSITION)
        assert "stopped" in body["message"]
        assert wanted in body["message"]
        assert body["details"]["from"] == "stopped"
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "stopped"
        rotate = api.post(f"/v1/tunnels/{tunnel['id']}/rotate", json={"target": "9000"})
        assert "stopped" in assert_error(rotate, ErrorCode.ILLEGAL_TRANSITION)["message"]
