"""Tunnels over real HTTP: create, list, get, update, delete and rotate
(hub/services/_tunnels.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import update

from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels._core.models import SLUG_PATTERN
from jupyter_tunnels.hub._config import DEFAULT_TCP_PORTS
from jupyter_tunnels.hub.services._tunnels import NOT_SERVED
from jupyter_tunnels.hub.store import _tables
from tests._api import assert_error, client, create_lease, create_tunnel, heartbeat, ok, when
from tests._hubs import RunningHub

LIST_SHAPE = {
    "id",
    "hostname",
    "slug",
    "status",
    "requestedPort",
    "createdAt",
    "lease",
    "stoppedAt",
    "lastError",
}
"""The fields of the seed's tunnel listing, which every tunnel carries."""


# --- create --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "name", "protocol"),
    [
        (5432, "postgres", "tcp"),
        (6379, "redis", "tcp"),
        (8050, "dash", "http"),
        (8888, "jupyter", "http"),
        (12345, "port-12345", "http"),
    ],
)
def test_create_names_and_protocol_from_the_port(
    hub: RunningHub, port: int, name: str, protocol: str
) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, target={"port": port})
    assert tunnel["name"] == name
    assert tunnel["slug"] == name
    assert tunnel["protocol"] == protocol
    assert tunnel["requestedPort"] == port
    assert tunnel["target"] == {"host": "127.0.0.1", "port": port}
    assert tunnel["status"] == "creating"
    assert tunnel["access"] == "private"
    assert tunnel["lease"] is None
    assert tunnel["stoppedAt"] is None
    assert tunnel["lastError"] == NOT_SERVED
    assert set(tunnel) >= LIST_SHAPE
    if protocol == "tcp":
        first, last = DEFAULT_TCP_PORTS
        assert first <= tunnel["hubPort"] <= last
        assert tunnel["url"] == f"tcp://127.0.0.1:{tunnel['hubPort']}"
    else:
        assert tunnel["hubPort"] is None
        assert tunnel["url"] == f"{hub.url}/t/{name}/"
        assert tunnel["hostname"] == "127.0.0.1"


def test_create_tcp_hub_ports_come_from_the_configured_range(
    make_hub: Callable[..., RunningHub],
) -> None:
    hub = make_hub(tcp_ports=(31000, 31002))
    with client(hub) as api:
        ports = {create_tunnel(api, target="5432")["hubPort"] for _ in range(3)}
        assert ports == {31000, 31001, 31002}
        assert_error(api.post("/v1/tunnels", json={"target": "6379"}), ErrorCode.NO_HUB_PORTS)


def test_create_with_an_explicit_hub_port(make_hub: Callable[..., RunningHub]) -> None:
    hub = make_hub(tcp_ports=(31010, 31019))
    with client(hub) as api:
        tunnel = create_tunnel(api, target="5432", hubPort=31015)
        assert tunnel["hubPort"] == 31015
        assert tunnel["url"] == "tcp://127.0.0.1:31015"
        taken = api.post("/v1/tunnels", json={"target": "6379", "hubPort": 31015})
        assert_error(taken, ErrorCode.HUB_PORT_TAKEN)


def test_a_hub_without_ports_takes_private_tcp_only_for_reach(
    make_hub: Callable[..., RunningHub],
) -> None:
    hub = make_hub(tcp_ports=None)
    with client(hub) as api:
        private = create_tunnel(api, target="5432", name="db")
        assert (private["protocol"], private["hubPort"]) == ("tcp", None)
        assert private["url"] == f"reach://{private['slug']}"
        for refused in (
            {"target": "5432", "access": "public"},
            {"target": "5432", "protocol": "udp"},
            {"target": "6379", "hubPort": 20000},
        ):
            body = assert_error(api.post("/v1/tunnels", json=refused), ErrorCode.NO_HUB_PORTS)
            assert "tcp-ports" in body["message"]
        assert create_tunnel(api, target="8050")["protocol"] == "http"


def test_create_with_an_explicit_protocol(hub: RunningHub) -> None:
    with client(hub) as api:
        tcp = create_tunnel(api, target="8050", protocol="tcp")
        assert tcp["protocol"] == "tcp"
        assert tcp["hubPort"] is not None
        http = create_tunnel(api, target="5432", protocol="http")
        assert http["protocol"] == "http"
        assert http["hubPort"] is None
        udp = create_tunnel(api, target="5353", protocol="udp")
        assert udp["url"] == f"udp://127.0.0.1:{udp['hubPort']}"


def test_create_slug_from_name(hub: RunningHub) -> None:
    with client(hub) as api:
        first = create_tunnel(api, name="My App!")
        assert first["name"] == "My App!"
        assert first["slug"] == "my-app"
        assert first["url"] == f"{hub.url}/t/my-app/"
        second = create_tunnel(api, name="My App!")
        assert second["slug"] != "my-app"
        assert second["slug"].startswith("my-app-")
        assert re.match(SLUG_PATTERN, second["slug"])
        unsluggable = create_tunnel(api, name="!!!")
        assert re.match(SLUG_PATTERN, unsluggable["slug"])


def test_create_long_name_gives_a_valid_slug(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="A very long name " * 5 + "end")
    assert len(tunnel["name"]) <= 100
    assert re.match(SLUG_PATTERN, tunnel["slug"])


def test_create_with_an_explicit_slug(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="Model server", slug="model-1")
        assert tunnel["slug"] == "model-1"
        assert tunnel["name"] == "Model server"
        assert ok(api.get("/v1/tunnels/model-1"))["id"] == tunnel["id"]


@pytest.mark.parametrize(
    ("target", "host", "port"),
    [
        ("localhost:8050", "localhost", 8050),
        ("8050", "127.0.0.1", 8050),
        ("127.0.0.2:9000", "127.0.0.2", 9000),
        ("[::1]:8080", "::1", 8080),
        ({"port": 7860}, "127.0.0.1", 7860),
        ({"host": "notebook.local", "port": 80}, "notebook.local", 80),
    ],
)
def test_create_target_forms(hub: RunningHub, target: object, host: str, port: int) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, target=target)
    assert tunnel["target"] == {"host": host, "port": port}
    assert tunnel["requestedPort"] == port


def test_create_metadata_is_stored_and_returned(hub: RunningHub) -> None:
    metadata = {"notebook": "demo.ipynb", "tags": ["a", "b"], "nested": {"n": 1, "ok": True}}
    with client(hub) as api:
        tunnel = create_tunnel(api, metadata=metadata)
        assert tunnel["metadata"] == metadata
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["metadata"] == metadata
        assert ok(api.get("/v1/tunnels"))[0]["metadata"] == metadata
        assert create_tunnel(api)["metadata"] == {}


def test_create_public_tunnel(hub: RunningHub) -> None:
    with client(hub) as api:
        assert create_tunnel(api, access="public")["access"] == "public"


def test_create_on_a_lease_starts_connecting_or_active(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "laptop")
        tunnel = create_tunnel(api, leaseId=lease["id"])
        assert tunnel["status"] == "connecting"
        assert tunnel["leaseId"] == lease["id"]
        assert tunnel["agentId"] == lease["agentId"]
        assert tunnel["lease"]["expiresAt"] == lease["expiresAt"]
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        assert create_tunnel(api, leaseId=lease["id"])["status"] == "active"


def test_a_tunnel_nobody_serves_says_so_until_it_is_bound(hub: RunningHub) -> None:
    with client(hub) as api:
        unserved = create_tunnel(api, name="unserved")
        assert unserved["status"] == "creating"
        assert unserved["lastError"] == NOT_SERVED
        assert "no connector serves this tunnel" in unserved["lastError"]
        lease = create_lease(api, "laptop")
        bound = ok(api.patch(f"/v1/tunnels/{unserved['id']}", json={"leaseId": lease["id"]}))
        assert bound["status"] == "connecting"
        assert bound["lastError"] is None
        assert create_tunnel(api, name="served", leaseId=lease["id"])["lastError"] is None


# --- list ----------------------------------------------------------------------------------


def test_list_is_oldest_first(hub: RunningHub) -> None:
    with client(hub) as api:
        ids = [create_tunnel(api, name=f"t{i}")["id"] for i in range(4)]
        listed = ok(api.get("/v1/tunnels"))
    assert [tunnel["id"] for tunnel in listed] == ids
    created = [when(tunnel["createdAt"]) for tunnel in listed]
    assert created == sorted(created)


@pytest.mark.parametrize(
    ("flag", "included"),
    [("true", True), ("1", True), ("false", False), ("0", False)],
)
def test_list_include_inactive_accepts_true_1_false_0(
    hub: RunningHub, flag: str, included: bool
) -> None:
    with client(hub) as api:
        live = create_tunnel(api, name="live")
        stopped = create_tunnel(api, name="stopped")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))
        listed = ok(api.get("/v1/tunnels", params={"includeInactive": flag}))
    ids = [tunnel["id"] for tunnel in listed]
    assert ids == ([live["id"], stopped["id"]] if included else [live["id"]])


def test_list_default_excludes_stopped_and_failed(hub: RunningHub) -> None:
    with client(hub) as api:
        live = create_tunnel(api, name="live")
        stopped = create_tunnel(api, name="stopped")
        failed = create_tunnel(api, name="failed")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))
        # No API call fails a tunnel (only connectors and the hub do), so set it in the store.

        async def fail() -> None:
            async with hub.server.hub.store.write() as conn:
                await conn.execute(
                    update(_tables.tunnels)
                    .where(_tables.tunnels.c.id == failed["id"])
                    .values(status="failed", last_error="the target refused to start")
                )

        hub.call(fail())
        assert [t["id"] for t in ok(api.get("/v1/tunnels"))] == [live["id"]]
        everything = ok(api.get("/v1/tunnels", params={"includeInactive": "1"}))
        assert [t["status"] for t in everything] == ["creating", "stopped", "failed"]
        only_failed = ok(api.get("/v1/tunnels", params={"status": "failed"}))
        assert [t["id"] for t in only_failed] == [failed["id"]]
        assert only_failed[0]["lastError"] == "the target refused to start"


def test_list_status_filter(hub: RunningHub) -> None:
    with client(hub) as api:
        creating = create_tunnel(api, name="creating")
        lease = create_lease(api, "agent")
        connecting = create_tunnel(api, name="connecting", leaseId=lease["id"])
        stopped = create_tunnel(api, name="stopped")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))

        def listed(status: str, **params: str) -> list[str]:
            found = ok(api.get("/v1/tunnels", params={"status": status, **params}))
            assert {t["status"] for t in found} <= {status}
            return [t["id"] for t in found]

        assert listed("creating") == [creating["id"]]
        assert listed("connecting") == [connecting["id"]]
        assert listed("stopped") == [stopped["id"]]
        assert listed("stopped", includeInactive="false") == [stopped["id"]]
        assert listed("active") == []
        by_lease = ok(api.get("/v1/tunnels", params={"leaseId": lease["id"]}))
        assert [t["id"] for t in by_lease] == [connecting["id"]]


# --- get -----------------------------------------------------------------------------------


def test_get_by_id_and_by_slug(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="Gradio demo", target="7860")
        by_id = ok(api.get(f"/v1/tunnels/{tunnel['id']}"))
        by_slug = ok(api.get("/v1/tunnels/gradio-demo"))
    assert by_id == tunnel
    assert by_slug == tunnel


def test_get_by_slug_prefers_the_live_tunnel(hub: RunningHub) -> None:
    with client(hub) as api:
        old = create_tunnel(api, slug="app")
        ok(api.delete(f"/v1/tunnels/{old['id']}"))
        assert ok(api.get("/v1/tunnels/app"))["id"] == old["id"]
        new = create_tunnel(api, slug="app")
        assert ok(api.get("/v1/tunnels/app"))["id"] == new["id"]
        assert ok(api.get(f"/v1/tunnels/{old['id']}"))["status"] == "stopped"


# --- update --------------------------------------------------------------------------------


def test_update_name_keeps_the_slug(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, name="first")
        updated = ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"name": "second"}))
        assert updated["name"] == "second"
        assert updated["slug"] == "first"
        assert updated["url"] == tunnel["url"]
        assert when(updated["updatedAt"]) > when(tunnel["updatedAt"])
        assert updated["createdAt"] == tunnel["createdAt"]
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["name"] == "second"


def test_update_metadata_replaces_it(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api, metadata={"a": 1})
        updated = ok(api.patch(f"/v1/tunnels/{tunnel['slug']}", json={"metadata": {"b": [2]}}))
        assert updated["metadata"] == {"b": [2]}
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["metadata"] == {"b": [2]}
        both = ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"name": "n", "metadata": {}}))
        assert (both["name"], both["metadata"]) == ("n", {})


def test_update_status_pause_and_resume(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "agent")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        tunnel = create_tunnel(api, leaseId=lease["id"])
        assert tunnel["status"] == "active"
        paused = ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": "paused"}))
        assert paused["status"] == "paused"
        resumed = ok(api.patch(f"/v1/tunnels/{tunnel['id']}", json={"status": "active"}))
        assert resumed["status"] == "active"


def test_update_status_failed_ends_the_tunnel_with_its_error(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "agent")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        tunnel = create_tunnel(api, leaseId=lease["id"], slug="crashed")
        path = f"/v1/tunnels/{tunnel['id']}"
        error = "the app exited with code 3"
        failed = ok(api.patch(path, json={"status": "failed", "lastError": error}))
        assert (failed["status"], failed["lastError"]) == ("failed", error)
        assert failed["stoppedAt"] is not None
        assert ok(api.get("/v1/tunnels")) == []
        again = api.patch(path, json={"status": "failed", "lastError": error})
        assert_error(again, ErrorCode.ILLEGAL_TRANSITION)
        assert create_tunnel(api, slug="crashed")["slug"] == "crashed"  # reserved for its owner


@pytest.mark.parametrize(
    "body", [{"status": "failed"}, {"lastError": "boom"}, {"status": "paused", "lastError": "x"}]
)
def test_update_failed_and_its_error_go_together(hub: RunningHub, body: dict[str, str]) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api)
        assert_error(api.patch(f"/v1/tunnels/{tunnel['id']}", json=body), ErrorCode.INVALID_INPUT)
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == tunnel["status"]


# --- delete --------------------------------------------------------------------------------


def test_delete_keeps_the_tunnel_for_history(hub: RunningHub) -> None:
    with client(hub) as api:
        tunnel = create_tunnel(api)
        deleted = ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        assert deleted["id"] == tunnel["id"]
        assert deleted["status"] == "stopped"
        assert deleted["stoppedAt"] is not None
        assert deleted["lastError"] is None
        assert ok(api.get("/v1/tunnels")) == []
        assert ok(api.get("/v1/tunnels", params={"includeInactive": "true"})) == [deleted]
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}")) == deleted
        again = ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        assert again == deleted


def test_delete_reserves_the_slug_for_its_owner(hub: RunningHub) -> None:
    other = hub.new_owner("bob")
    with client(hub) as api, client(hub, other) as bob:
        tunnel = create_tunnel(api, slug="reserved")
        ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        taken = bob.post("/v1/tunnels", json={"target": "8050", "slug": "reserved"})
        assert_error(taken, ErrorCode.SLUG_TAKEN)
        assert create_tunnel(api, slug="reserved")["slug"] == "reserved"


def test_slug_is_free_for_others_once_the_grace_is_over(
    make_hub: Callable[..., RunningHub],
) -> None:
    hub = make_hub(slug_grace=0)
    other = hub.new_owner("bob")
    with client(hub) as api, client(hub, other) as bob:
        tunnel = create_tunnel(api, slug="shared")
        assert_error(
            bob.post("/v1/tunnels", json={"target": "8050", "slug": "shared"}),
            ErrorCode.SLUG_TAKEN,
        )
        ok(api.delete(f"/v1/tunnels/{tunnel['id']}"))
        assert create_tunnel(bob, slug="shared")["slug"] == "shared"


# --- rotate --------------------------------------------------------------------------------


def test_rotate_changes_the_target_and_keeps_the_url(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "agent")
        tunnel = create_tunnel(api, target="8050", leaseId=lease["id"])
        rotated = ok(
            api.post(
                f"/v1/tunnels/{tunnel['id']}/rotate",
                json={"target": "localhost:8051", "reason": "new version"},
            )
        )
        assert rotated["target"] == {"host": "localhost", "port": 8051}
        assert rotated["requestedPort"] == 8051
        for field in ("id", "slug", "url", "hostname", "status", "leaseId", "name"):
            assert rotated[field] == tunnel[field], field
        assert ok(api.get(f"/v1/tunnels/{tunnel['slug']}"))["target"]["port"] == 8051
        again = ok(api.post(f"/v1/tunnels/{tunnel['id']}/rotate", json={"target": {"port": 9000}}))
        assert again["target"] == {"host": "127.0.0.1", "port": 9000}
        assert again["url"] == tunnel["url"]
