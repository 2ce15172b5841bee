"""Nobody hangs on a connector that has silently gone (DESIGN.md): a frozen connector process,
and a laptop whose link drops so that packets vanish. Every visitor request made meanwhile is
answered within five seconds, with a clear 503, and the tunnel is back, at the same URL, soon
after the connector can reach the hub again.

These are the standalone hub's tests: the connector is a real ``jupyter-tunnels expose``
process (inside Jupyter, the server's own tunnels are dialled in-process, with no connector in
between).
"""

from __future__ import annotations

import concurrent.futures
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests._apps import Services
from tests._hubs import RunningHub
from tests._netns import HUB_ADDRESS, laptop
from tests._processes import CliHub, stop_process
from tests.cli.test_main import cli_env

URL_LINE = re.compile(r"^(?P<url>http://\S+/t/\S+/)$")
ANSWER_WITHIN = 5.0
"""Seconds within which every visitor gets an answer or a clear error (DESIGN.md)."""
BACK_WITHIN = 3.0
"""Seconds after the link returns within which the tunnel serves again (issue 14)."""
OUTAGE = 10.0
"""How long the laptop's link stays down: longer than the connector needs to notice."""
LAPTOP_PORT = "8050"
FROZEN_LEASE_TTL = 6.0
"""A short lease, so that heartbeats come every 2 s (a third of it)."""
"""The app's port inside the laptop's namespace (a fresh one: nothing else listens there)."""


def _visit(
    url: str, client: httpx.Client | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET ``url`` (on ``client``'s kept-alive connection, or a new one) and fail if it takes
    longer than :data:`ANSWER_WITHIN`."""
    started = time.monotonic()
    if client is not None:
        answer = client.get(url, headers=headers)
    else:
        answer = httpx.get(url, headers=headers, timeout=ANSWER_WITHIN, trust_env=False)
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"
    return answer


def _refused_clearly(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "AGENT_UNAVAILABLE"


def _wait_until_served(url: str, within: float) -> float:
    """Poll ``url`` until it answers 200; the seconds that took (fail after ``within``)."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        if time.monotonic() - started > within:
            pytest.fail(f"{url} not served again within {within:g} s")
        time.sleep(0.05)


def test_visitors_of_a_frozen_connector_get_a_503_within_seconds(
    tmp_path: Path, make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=FROZEN_LEASE_TTL)
    env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
    expose = CliHub(env, "expose", str(services.http_port), "--public", "--name", "frozen")
    try:
        url = expose.wait_for(URL_LINE)["url"]
        with httpx.Client(trust_env=False, timeout=ANSWER_WITHIN) as kept:
            assert kept.get(url).status_code == 200  # a kept-alive upstream through it now
            expose.process.send_signal(signal.SIGSTOP)
            try:
                with concurrent.futures.ThreadPoolExecutor(2) as pool:
                    waiting = [pool.submit(_visit, url, kept), pool.submit(_visit, url)]
                    first, other = (future.result() for future in waiting)
                later = _visit(url)
                page = _visit(url, headers={"Accept": "text/html"})
            finally:
                expose.process.send_signal(signal.SIGCONT)
        for answer in (first, other, later):
            _refused_clearly(answer)
        assert "stopped answering" in first.json()["message"]
        assert "did not answer a ping" in later.json()["message"]
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        # Back once it runs again: at once when its control channel reports the hub's close
        # (asyncio), else at its next heartbeat, whose answer says "reconnect" (on uvloop, the
        # CLI's default, the resumed connector does not see that close).
        _wait_until_served(url, within=FROZEN_LEASE_TTL / 3 + ANSWER_WITHIN)
    finally:
        expose.kill()


def test_a_partitioned_laptop_never_leaves_visitors_hanging(
    tmp_path: Path, make_hub: Callable[..., RunningHub]
) -> None:
    with laptop() as net:
        hub = make_hub(host=HUB_ADDRESS)
        app = subprocess.Popen(
            [*net.run, sys.executable, "-m", "http.server", "--bind", "127.0.0.1", LAPTOP_PORT],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
        expose = CliHub(env, "expose", LAPTOP_PORT, "--public", "--name", "laptop", prefix=net.run)
        try:
            url = expose.wait_for(URL_LINE)["url"]
            _wait_until_served(url, within=20.0)
            net.link_down()
            try:
                started = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    visits = []
                    while time.monotonic() - started < OUTAGE:  # a visitor every half second
                        visits.append(pool.submit(_visit, url))
                        time.sleep(0.5)
                    answers = [visit.result() for visit in visits]
            finally:
                net.link_up()
            back = _wait_until_served(url, within=BACK_WITHIN + 2.0)
        finally:
            expose.kill()
            stop_process(app)
    for answer in answers:
        _refused_clearly(answer)
    assert back < BACK_WITHIN, f"the tunnel came back {back:.1f} s after the link"
