"""A property-based fuzz of the control API from its own OpenAPI document (schemathesis).

A real hub on 127.0.0.1:0 serves ``/v1/openapi.json``; schemathesis reads that document and,
for every operation, sends requests made from it with the admin token: valid ones and invalid
ones (wrong types, numbers out of range or beyond 64 bits, odd unicode, nulls, missing and
unknown fields, bad query strings and path segments, other methods, no token). Every answer
is checked against the same document with schemathesis' default checks:

- ``not_a_server_error``: no 5xx, whatever was sent;
- ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``
  and ``response_schema_conformance``: the status, content type, headers and body are the
  documented ones;
- ``negative_data_rejection``: a request that breaks the schema is refused with a 4xx;
- ``positive_data_acceptance``: a request that fits the schema is not refused as invalid;
- ``ignored_auth``, ``unsupported_method``, ``allow_header_conformance`` and
  ``missing_required_header``: no valid token is a 401, an undocumented method a 405 with
  ``Allow``;
- ``ensure_resource_availability`` (in the stateful walk): what was just created can be used.

Every other generated call on one record (``/v1/tunnels/{tunnelId}``...) is pointed at a new
record, so those operations see real ids and not only 404s. The stateful walk then follows the
links the document declares (a created tunnel's ``id`` into ``getTunnel``, ``rotateTunnel``,
``deleteTunnel``...), checking each answer the same way.

The walk loads the document from the hub. The per-operation test needs it when pytest collects,
before any hub runs (schemathesis' fixture-based loader, ``schemathesis.pytest.from_fixture``,
fails on pytest 9.2), so it builds it with the hub's own code (``build_openapi``, the function
behind ``/v1/openapi.json``); the first test checks that the hub serves exactly that document.

The run is bounded (:data:`MAX_EXAMPLES` per operation) and deterministic (derandomized, no
example database), so it neither flakes nor grows with time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

from jupyter_tunnels._core.env import TOKEN_ENV
from jupyter_tunnels._core.models import TARGET_STRING_PATTERN, Target
from jupyter_tunnels.connector import Connector
from jupyter_tunnels.hub._config import DEFAULT_TCP_PORTS
from jupyter_tunnels.hub.api._openapi import build_openapi
from jupyter_tunnels.hub.store._owners import USER_TOKEN_PREFIX, new_token
from tests._api import REQUEST_TIMEOUT, client, ok
from tests._hubs import RunningHub, start_hub

ADMIN_TOKEN = new_token(USER_TOKEN_PREFIX)
"""The fuzzed hub's admin token, known before the hub starts so the schemathesis config (made
at collection) can carry it as the value of the document's ``bearer`` security scheme."""
HUB_PORTS = DEFAULT_TCP_PORTS
"""The fuzzed hub's TCP/UDP port range, which its document gives as the bounds of hubPort."""
DOCUMENT_URL = "http://127.0.0.1:8765"
"""The server URL in the collected document; requests go to the fuzzed hub's real URL."""
TARGET_ALPHABET = "0123456789:.[]-afAFz \n"
"""Characters that make near-misses of target strings."""
TARGET_EXAMPLES = 500
"""Strings tried against both the documented target pattern and the hub's parser."""
MAX_EXAMPLES = 25
"""Generated requests per operation, beside the coverage phase's own boundary cases."""
STATEFUL_EXAMPLES = 60
"""Scenarios of the stateful walk."""
STATEFUL_STEPS = 10
"""Calls per scenario at most."""
FUZZ_TIMEOUT = 120
"""Seconds for one fuzz test; each takes a fraction of that on two cores."""
VALID_DATA_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]
"""What a request that fits the schema may get: schemathesis' default list (5xx are the other
check's business) plus 410 LEASE_EXPIRED, since a lease made with ``ttlSeconds: 1`` is gone a
second later, which says nothing about the data sent next."""

DEAD_RECEIVER = "http://127.0.0.1:9/fuzz"
"""The URL of the fuzz's own webhooks: the discard port, closed, so deliveries fail at once."""

HYPOTHESIS_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # A schema-driven fuzz rejects many drawn inputs and sends large bodies by design.
    suppress_health_check=list(HealthCheck),
)


def _config() -> schemathesis.Config:
    """Schemathesis' defaults, but for the choices explained here."""
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearer": {"bearer": ADMIN_TOKEN}}},
            "request-timeout": REQUEST_TIMEOUT,
            "checks": {
                "positive_data_acceptance": {"expected-statuses": VALID_DATA_STATUSES},
                # DELETE on a tunnel or a relay lease closes it and keeps it for history (it is
                # listed with includeInactive and readable by id, status "stopped"/"closed"):
                # by design, not the use-after-free this check looks for.
                "use_after_free": {"enabled": False},
            },
            "phases": {
                "stateful": {
                    # The walk is there to reach records through real ids; invalid data is the
                    # per-operation test's job, and would end most walks at their first call.
                    "generation": {"mode": "positive"},
                    # Follow the links the document declares, not guessed ones.
                    "inference": {"algorithms": []},
                }
            },
        }
    )


schema = schemathesis.openapi.from_dict(build_openapi(DOCUMENT_URL, HUB_PORTS), config=_config())


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="module")
def fuzzed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for the whole fuzz (the default lease TTL of 60 s outlives the run)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, ADMIN_TOKEN)
        # generated webhook URLs are refused at once: no delivery leaves this machine
        hub = start_hub(tmp_path_factory.mktemp("fuzz") / "hub.db", webhook_hosts=LOOPBACK)
    hub.token = ADMIN_TOKEN
    try:
        assert hub.server.hub.config.tcp_ports == HUB_PORTS
        yield hub
    finally:
        hub.stop()


class Records:
    """Records of the fuzzed hub, made through its API for generated calls to address.

    Without them, every generated id is unknown and the operations on one record only ever
    answer 404. Tunnels and relay leases are closed again after each call, so the hub's TCP/UDP
    port range is never used up (a 503 NO_HUB_PORTS would be a fact about the run, not a bug);
    webhooks are deleted again too, so no delivery goes to a generated URL for long.
    """

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy between the fuzz and a hub on 127.0.0.1
        self.made = 0
        self.calls = 0
        self.to_close: list[str] = []
        self._agent: Connector | None = None

    def agent(self) -> str:
        """The id of an online agent of the admin (a connector on the hub's loop), for reach."""
        if self._agent is None:
            agent = Connector(self.hub.url, self.hub.token, client_instance_id="fuzz-reach")
            self.hub.call(agent.start())
            self._agent = agent
        assert self._agent.agent_id is not None
        return self._agent.agent_id

    def stop_agent(self) -> None:
        """Stop the reach agent, if one was started."""
        if self._agent is not None:
            self.hub.call(self._agent.close())

    def call(self, method: str, path: str, body: Any = None, *, gone_ok: bool = False) -> Any:
        """Call the API as the admin and return the JSON answer of a success (or of a 404,
        with ``gone_ok``)."""
        response = self.http.request(
            method,
            self.hub.url + path,
            json=body,
            headers=self.hub.headers,
            timeout=REQUEST_TIMEOUT,
        )
        expected = (200, 201, 404) if gone_ok else (200, 201)
        assert response.status_code in expected, (method, path, response.text)
        return response.json()

    def fresh(self, parameter: str) -> str:
        """The id of a new record for a path parameter (``tunnelId``...)."""
        self.made += 1
        agent = f"fuzz-{self.made}"
        if parameter == "tunnelId":
            made = self.call("POST", "/v1/tunnels", {"target": "8050"})
            self.to_close.append(f"/v1/tunnels/{made['id']}")
        elif parameter == "leaseId":
            made = self.call("POST", "/v1/leases", {"clientInstanceId": agent})
        elif parameter == "shareId":
            tunnel = self.call("POST", "/v1/tunnels", {"target": "8050"})
            self.to_close.append(f"/v1/tunnels/{tunnel['id']}")
            made = self.call("POST", f"/v1/tunnels/{tunnel['id']}/shares", {"name": "fuzz"})
        elif parameter == "webhookId":
            made = self.call("POST", "/v1/webhooks", {"url": DEAD_RECEIVER, "events": ["*"]})
            self.to_close.append(f"/v1/webhooks/{made['id']}")
        elif parameter == "connectionId":  # reach: an online agent binds a free port
            tunnel = self.call("POST", "/v1/tunnels", {"target": "8050"})
            self.to_close.append(f"/v1/tunnels/{tunnel['id']}")  # closing it closes the rest
            made = self.call(
                "POST", f"/v1/tunnels/{tunnel['id']}/connect", {"agentId": self.agent()}
            )
        else:
            assert parameter == "relayLeaseId", parameter
            made = self.call(
                "POST", "/v1/relay-leases", {"clientInstanceId": agent, "target": "80"}
            )
            self.to_close.append(f"/v1/relay-leases/{made['id']}")
        return str(made["id"])

    def address_a_real_record(self, case: schemathesis.Case[Any]) -> None:
        """Point every other call with a valid path at a new record instead of a random id."""
        self.calls += 1
        if not case.path_parameters or self.calls % 2:
            return
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
            return
        case.path_parameters = {name: self.fresh(name) for name in case.path_parameters}

    def close_live_tunnels(self) -> None:
        """Close every live tunnel, freeing the hub ports they hold, and delete every webhook
        (their deliveries would go to generated URLs)."""
        for tunnel in self.call("GET", "/v1/tunnels"):
            self.call("DELETE", f"/v1/tunnels/{tunnel['id']}")
        for webhook in self.call("GET", "/v1/webhooks"):
            self.call("DELETE", f"/v1/webhooks/{webhook['id']}")

    def close(self, response: schemathesis.Response | None = None) -> None:
        """Close what was made, including a tunnel or relay lease the response created."""
        if response is not None and response.status_code == 201:
            path = response.request.path_url.split("?", 1)[0]
            if path in ("/v1/tunnels", "/v1/relay-leases", "/v1/webhooks"):
                self.to_close.append(f"{path}/{response.json()['id']}")
        while self.to_close:
            path = self.to_close.pop()
            # a deleted webhook is gone (the call under test may have deleted it already)
            self.call("DELETE", path, gone_ok=path.startswith("/v1/webhooks/"))


@pytest.fixture(scope="module")
def records(fuzzed_hub: RunningHub) -> Iterator[Records]:
    """The fuzz's records, made and closed over one keep-alive session."""
    made = Records(fuzzed_hub)
    with made.http:
        yield made
    made.stop_agent()


def test_the_fuzz_reads_the_document_the_hub_serves(fuzzed_hub: RunningHub) -> None:
    with client(fuzzed_hub, token="") as anonymous:
        served = ok(anonymous.get("/v1/openapi.json"))
    assert served == build_openapi(fuzzed_hub.url, HUB_PORTS)


@pytest.mark.timeout(FUZZ_TIMEOUT)
@schema.parametrize()
@HYPOTHESIS_SETTINGS
def test_every_operation_matches_the_document(
    case: schemathesis.Case[Any], fuzzed_hub: RunningHub, records: Records
) -> None:
    records.address_a_real_record(case)
    response = None
    try:
        response = case.call_and_validate(base_url=fuzzed_hub.url, session=records.http)
    finally:
        records.close(response)


@pytest.mark.timeout(FUZZ_TIMEOUT)
def test_stateful_walk_matches_the_document(fuzzed_hub: RunningHub, records: Records) -> None:
    served = schemathesis.openapi.from_url(
        f"{fuzzed_hub.url}/v1/openapi.json", config=_config(), timeout=REQUEST_TIMEOUT
    )

    # the base class is made at run time from the served document: mypy cannot check it
    class HubWalk(served.as_state_machine()):  # type: ignore[misc]
        """Schemathesis' walk along the served document's links, against the fuzzed hub."""

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": fuzzed_hub.url, "session": records.http}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case[Any],
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            excluded = []
            if _error_code(response) in ("LEASE_NOT_FOUND", "AGENT_NOT_FOUND"):
                # A 404 naming a lease or agent given in the body (PATCH a tunnel with an
                # unknown leaseId, connect with an unknown agentId) says nothing about the
                # tunnel in the path, which this check assumes.
                excluded.append(schemathesis.checks.ensure_resource_availability)
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=excluded,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

        def teardown(self) -> None:
            records.close_live_tunnels()

    HubWalk.run(
        settings=settings(
            HYPOTHESIS_SETTINGS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS
        )
    )


def _error_code(response: schemathesis.Response) -> str | None:
    """The API error code of a failed call."""
    if response.status_code < 400:
        return None
    body = response.json()
    return body.get("code") if isinstance(body, dict) else None


def _takes_target(text: str) -> bool:
    try:
        Target.model_validate_json(json.dumps(text), strict=True)
    except pydantic.ValidationError:
        return False
    return True


def _documents_target(text: str) -> bool:
    return re.fullmatch(TARGET_STRING_PATTERN, text) is not None


@settings(HYPOTHESIS_SETTINGS, max_examples=TARGET_EXAMPLES)
@given(
    st.one_of(
        st.from_regex(TARGET_STRING_PATTERN, fullmatch=True),
        st.text(TARGET_ALPHABET, max_size=12),
    )
)
def test_documented_target_strings_are_the_accepted_ones(text: str) -> None:
    assert _takes_target(text) == _documents_target(text)


def test_documented_target_ports_are_the_accepted_ones() -> None:
    for port in range(70000):
        for text in (str(port), f"0{port}", f"[::1]:{port}"):
            assert _takes_target(text) == _documents_target(text) == (1 <= port <= 65535), text
