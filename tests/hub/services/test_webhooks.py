"""Webhooks over real HTTP (hub/services/_webhooks.py, hub/services/_deliveries.py): a
receiver on 127.0.0.1 gets signed deliveries of what happens in the hub, and failed ones are
retried by the worker, across a hub restart too."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from jupyter_tunnels import TunnelsClient, WebhookEvent
from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels.client import APIError, BadRequest, NotFound
from tests._api import assert_error, client, create_lease, create_tunnel, ok, snapshot, wait_for
from tests._hubs import RunningHub, start_hub
from tests._tunnels import connector_for

FAST_RETRY = 0.1
"""The hubs here retry after 0.1 s, 0.2 s, 0.4 s ... instead of 2 s, 4 s, 8 s ..."""


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request, answers ``status``."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks?source=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop listening: the port is closed from now on."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def events(self) -> list[str]:
        """The event names received, in order."""
        return [headers["x-tunnels-event"] for headers, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver, closed at the end."""
    made = Receiver()
    yield made
    with contextlib.suppress(OSError):
        made.close()


@pytest.fixture
def fast_hub(make_hub: Callable[..., RunningHub]) -> RunningHub:
    """A hub whose webhook retries come quickly."""
    return make_hub(webhook_retry_base=FAST_RETRY)


def sdk(hub: RunningHub, token: str | None = None) -> TunnelsClient:
    """The blocking SDK client for the hub."""
    return TunnelsClient(hub.url, hub.token if token is None else token)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of the raw body and compare."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-tunnels-signature"])


def test_tunnel_events_arrive_signed(fast_hub: RunningHub, receiver: Receiver) -> None:
    bob = fast_hub.new_owner("bob")
    events = [
        WebhookEvent.TUNNEL_CREATED,
        WebhookEvent.TUNNEL_STATUS_CHANGED,
        WebhookEvent.TUNNEL_DELETED,
    ]
    with sdk(fast_hub) as tunnels, sdk(fast_hub, bob) as bobs:
        hook = tunnels.create_webhook(receiver.url, events, description="ops channel")
        bobs.create(9000, name="bobs")  # another owner's tunnel is none of this webhook's business
        lease = tunnels.create_lease("laptop")
        tunnel = tunnels.create(8050, name="dash", lease_id=lease.id)
        tunnels.update(tunnel.id, status="paused")
        tunnels.delete(tunnel.id)
        wait_for(lambda: len(receiver.requests) >= 3)
        log = wait_for(
            lambda: (
                (found := tunnels.list_webhook_deliveries(hook.id))
                and all(d.status == "delivered" for d in found)
                and found
            )
        )
    assert hook.secret.startswith("whsec_")
    assert hook.events == [str(event) for event in events]
    assert sorted(receiver.events()) == sorted(str(event) for event in events)
    bodies = {}
    for headers, body in receiver.requests:
        assert verify(hook.secret, headers, body)
        assert not verify(hook.secret + "x", headers, body)
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("jupyter-tunnels-hub/")
        payload = json.loads(body)
        assert payload["id"] == headers["x-tunnels-delivery"]
        assert payload["event"] == headers["x-tunnels-event"]
        assert payload["data"]["tunnel"]["id"] == tunnel.id
        bodies[payload["event"]] = payload
    assert bodies["tunnel.created"]["data"]["tunnel"]["status"] == "connecting"
    changed = bodies["tunnel.status_changed"]["data"]
    assert (changed["previousStatus"], changed["tunnel"]["status"]) == ("connecting", "paused")
    assert bodies["tunnel.deleted"]["data"]["tunnel"]["status"] == "stopped"
    assert [d.event for d in log] == ["tunnel.deleted", "tunnel.status_changed", "tunnel.created"]
    for delivery in log:
        assert delivery.attempts == 1
        assert delivery.last_status_code == 200
        assert delivery.last_error is None
        assert delivery.next_attempt_at is None
        assert delivery.delivered_at is not None
        assert delivery.webhook_id == hook.id
        assert delivery.payload == bodies[delivery.event]


def test_the_secret_is_shown_once(hub: RunningHub) -> None:
    with client(hub) as api:
        made = ok(
            api.post("/v1/webhooks", json={"url": "https://example.com/h", "events": ["*"]}), 201
        )
        listed = ok(api.get("/v1/webhooks"))
        shown = ok(api.get(f"/v1/webhooks/{made['id']}"))
        test = ok(api.post(f"/v1/webhooks/{made['id']}/test"), 202)
        log = ok(api.get(f"/v1/webhooks/{made['id']}/deliveries"))
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    without = {k: v for k, v in made.items() if k != "secret"}
    assert listed == [without]
    assert shown == without
    assert made["description"] is None
    for text in (json.dumps(listed), json.dumps(shown), json.dumps(test), json.dumps(log)):
        assert made["secret"] not in text
    assert test["event"] == "webhook.test"
    assert test["status"] == "pending"
    assert test["payload"]["data"]["webhook"] == without


def test_a_failed_delivery_is_retried_until_the_receiver_answers(
    fast_hub: RunningHub, receiver: Receiver
) -> None:
    receiver.status = 500
    with sdk(fast_hub) as tunnels:
        hook = tunnels.create_webhook(receiver.url, ["tunnel.created"])
        queued = tunnels.test_webhook(hook.id)
        failing = wait_for(
            lambda: (d := tunnels.list_webhook_deliveries(hook.id)[0]).attempts >= 2 and d
        )
        assert failing.status == "pending"
        assert failing.last_status_code == 500
        assert failing.last_error == "the receiver answered 500"
        assert failing.next_attempt_at is not None
        receiver.status = 204
        done = wait_for(
            lambda: (d := tunnels.list_webhook_deliveries(hook.id)[0]).status == "delivered" and d
        )
    assert done.id == queued.id
    assert done.attempts >= 3
    assert done.last_status_code == 204
    assert done.last_error is None
    sent = {(headers["x-tunnels-delivery"], body) for headers, body in receiver.requests}
    assert len(sent) == 1  # every attempt carries the same delivery id and the same bytes
    assert len(receiver.requests) == done.attempts
    assert all(verify(hook.secret, headers, body) for headers, body in receiver.requests)
    assert receiver.events() == ["webhook.test"] * done.attempts


def test_a_delivery_that_keeps_failing_ends_failed(
    make_hub: Callable[..., RunningHub], receiver: Receiver
) -> None:
    hub = make_hub(webhook_retry_base=FAST_RETRY, webhook_max_attempts=3)
    receiver.status = 302  # redirects are not followed: a failed attempt
    with sdk(hub) as tunnels:
        hook = tunnels.create_webhook(receiver.url, ["*"])
        tunnels.test_webhook(hook.id)
        failed = wait_for(
            lambda: (d := tunnels.list_webhook_deliveries(hook.id)[0]).status == "failed" and d
        )
    assert failed.attempts == 3
    assert failed.next_attempt_at is None
    assert failed.delivered_at is None
    assert failed.last_status_code == 302
    assert len(receiver.requests) == 3


def test_a_pending_delivery_survives_a_restart(
    make_hub: Callable[..., RunningHub], receiver: Receiver
) -> None:
    receiver.close()  # the receiver is down: its port is closed
    first = make_hub(webhook_retry_base=FAST_RETRY)
    with sdk(first) as tunnels:
        hook = tunnels.create_webhook(receiver.url, ["tunnel.created"])
        tunnel = tunnels.create(8050)
        refused = wait_for(
            lambda: (d := tunnels.list_webhook_deliveries(hook.id)[0]).attempts >= 1 and d
        )
    assert refused.status == "pending"
    assert refused.last_status_code is None
    assert refused.last_error
    first.stop()

    back = Receiver(receiver.port)
    try:
        second = make_hub(db_path=first.db_path, webhook_retry_base=FAST_RETRY)
        with sdk(second) as tunnels:
            done = wait_for(
                lambda: (
                    (d := tunnels.list_webhook_deliveries(hook.id)[0]).status == "delivered" and d
                )
            )
    finally:
        back.close()
    assert done.id == refused.id
    assert done.attempts >= 2
    ((headers, body),) = back.requests
    assert verify(hook.secret, headers, body)
    assert json.loads(body)["data"]["tunnel"]["id"] == tunnel.id


def test_lease_expiry_is_an_event(make_hub: Callable[..., RunningHub], receiver: Receiver) -> None:
    hub = make_hub(lease_ttl=1, webhook_retry_base=FAST_RETRY)
    with client(hub) as api:
        hook = ok(
            api.post(
                "/v1/webhooks",
                json={"url": receiver.url, "events": ["lease.expired", "tunnel.status_changed"]},
            ),
            201,
        )
        lease = create_lease(api, "laptop", ttlSeconds=60)  # no expiry while setting up
        tunnel = create_tunnel(api, leaseId=lease["id"])
        ok(api.post(f"/v1/leases/{lease['id']}/refresh", json={"ttlSeconds": 1}))
        wait_for(lambda: len(receiver.requests) >= 2)
    bodies = {json.loads(body)["event"]: json.loads(body)["data"] for _, body in receiver.requests}
    assert bodies["lease.expired"]["lease"]["id"] == lease["id"]
    assert bodies["lease.expired"]["lease"]["status"] == "expired"
    assert bodies["lease.expired"]["stoppedTunnelIds"] == [tunnel["id"]]
    stopped = bodies["tunnel.status_changed"]
    assert (stopped["previousStatus"], stopped["tunnel"]["status"]) == ("connecting", "stopped")
    assert all(verify(hook["secret"], headers, body) for headers, body in receiver.requests)


@pytest.mark.anyio
async def test_agent_connects_and_disconnects(fast_hub: RunningHub, receiver: Receiver) -> None:
    with sdk(fast_hub) as tunnels:
        tunnels.create_webhook(receiver.url, ["agent.connected", "agent.disconnected"])

    def received(*events: str) -> Callable[[], bool]:
        return lambda: receiver.events() == list(events)

    async with connector_for(fast_hub, client_instance_id="laptop"):
        await anyio.to_thread.run_sync(wait_for, received("agent.connected"))
    await anyio.to_thread.run_sync(wait_for, received("agent.connected", "agent.disconnected"))
    for _, body in receiver.requests:
        assert json.loads(body)["data"]["agent"]["clientInstanceId"] == "laptop"


# --- bad requests change nothing -----------------------------------------------------------

BAD_BODIES = [
    ({"url": "ftp://example.com/h", "events": ["*"]}, ErrorCode.INVALID_URL),
    ({"url": "http://", "events": ["*"]}, ErrorCode.INVALID_URL),
    ({"url": "example.com/h", "events": ["*"]}, ErrorCode.INVALID_URL),
    ({"url": "http://exa mple.com/", "events": ["*"]}, ErrorCode.INVALID_URL),
    ({"url": 42, "events": ["*"]}, ErrorCode.INVALID_URL),
    ({"events": ["*"]}, ErrorCode.INVALID_URL),
    ({"url": "http://127.0.0.1/h", "events": []}, ErrorCode.INVALID_EVENT),
    ({"url": "http://127.0.0.1/h", "events": ["tunnel.exploded"]}, ErrorCode.INVALID_EVENT),
    ({"url": "http://127.0.0.1/h", "events": "*"}, ErrorCode.INVALID_EVENT),
    ({"url": "http://127.0.0.1/h"}, ErrorCode.INVALID_EVENT),
    ({"url": "http://127.0.0.1/h", "events": ["*"], "secret": "mine"}, ErrorCode.INVALID_INPUT),
    (
        {"url": "http://127.0.0.1/h", "events": ["*"], "description": "x" * 501},
        ErrorCode.INVALID_INPUT,
    ),
]


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
def test_bad_create_is_400_and_changes_nothing(
    hub: RunningHub, body: dict[str, Any], code: ErrorCode
) -> None:
    with client(hub) as api:
        before = snapshot(api)
        assert_error(api.post("/v1/webhooks", json=body), code)
        assert snapshot(api) == before


def test_malformed_json_is_400(hub: RunningHub) -> None:
    with client(hub) as api:
        before = snapshot(api)
        answer = api.post(
            "/v1/webhooks", content=b'{"url": ', headers={"Content-Type": "application/json"}
        )
        assert_error(answer, ErrorCode.INVALID_JSON)
        assert snapshot(api) == before


def test_sdk_errors(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with sdk(hub) as tunnels, sdk(hub, bob) as bobs:
        hook = tunnels.create_webhook("http://127.0.0.1:9/h", "tunnel.created")
        assert hook.events == ["tunnel.created"]
        with pytest.raises(BadRequest) as bad:
            tunnels.create_webhook("http://127.0.0.1:9/h", ["tunnel.exploded"])
        assert bad.value.code == ErrorCode.INVALID_EVENT
        for call in (bobs.get_webhook, bobs.delete_webhook, bobs.test_webhook):
            with pytest.raises(NotFound) as missing:
                call(hook.id)
            assert missing.value.code == ErrorCode.WEBHOOK_NOT_FOUND
        assert bobs.list_webhooks() == []
        assert tunnels.list_webhook_deliveries(hook.id) == []
        deleted = tunnels.delete_webhook(hook.id).model_dump()
        assert deleted == {k: v for k, v in hook.model_dump().items() if k != "secret"}
        assert tunnels.list_webhooks() == []
        with pytest.raises(NotFound):
            tunnels.list_webhook_deliveries(hook.id)


def test_repeated_events_are_kept_once(hub: RunningHub) -> None:
    body = {"url": "http://127.0.0.1:9/h", "events": ["tunnel.deleted", "*", "tunnel.deleted"]}
    with client(hub) as api:
        made = ok(api.post("/v1/webhooks", json=body), 201)
    assert made["events"] == ["tunnel.deleted", "*"]


def test_a_hub_limited_to_some_hosts_refuses_other_receivers(tmp_path: Path) -> None:
    hub = start_hub(tmp_path / "limited" / "hub.db", webhook_hosts=("127.0.0.1",))
    try:
        with TunnelsClient(hub.url, hub.token) as sdk, client(hub) as api:
            before = snapshot(api)
            with pytest.raises(APIError) as refused:
                sdk.create_webhook("http://receiver.example.org/hook", events=["*"])
            assert (refused.value.status_code, refused.value.code) == (403, "HOST_NOT_ALLOWED")
            assert "receiver.example.org" in refused.value.message
            assert snapshot(api) == before
            allowed = sdk.create_webhook("http://127.0.0.1:9/hook", events=["*"])
            assert allowed.url == "http://127.0.0.1:9/hook"
    finally:
        hub.stop()
