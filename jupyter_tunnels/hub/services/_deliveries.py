"""The webhook delivery worker: sends pending deliveries, signs them, retries with backoff.

One task owned by the hub. It claims due deliveries from the store (so deliveries queued
before a restart are sent after it), POSTs each one's stored body, and records the outcome:
a 2xx answer marks it ``delivered``; anything else (another status, a redirect, which is never
followed, a refused connection, a timeout) counts as a failed attempt, and the next attempt
waits ``webhook_retry_base * 2 ** (attempts - 1)`` seconds, at most :data:`MAX_RETRY_DELAY`.
After ``webhook_max_attempts`` attempts it is ``failed``.

Claiming a delivery moves its ``next_attempt_at`` past the time an attempt can take, inside a
write transaction, so it is not picked twice (by this worker, or by another hub replica on the
same PostgreSQL store). A delivery cut short by a hub stop is made due again at once; one cut
short by a crash becomes due when its claim runs out. Delivery is at least once: receivers
deduplicate by ``X-Tunnels-Delivery``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select, update

from ..._core.models import DeliveryStatus
from ..._core.timeouts import within
from ..._version import __version__
from .._config import HubConfig
from ..store import _tables as t
from ..store._clock import now
from ..store._engine import Store
from ._webhooks import receiver_refusal

if TYPE_CHECKING:
    import httpx

__all__ = ["DELIVERY_TIMEOUT", "DeliveryWorker", "retry_delay", "signature"]

log = logging.getLogger("jupyter_tunnels.hub.webhooks")

DELIVERY_TIMEOUT = 10.0
"""Seconds to connect, send and get an answer, per attempt."""
CLAIM_SECONDS = DELIVERY_TIMEOUT + 5.0
"""How long a claimed delivery stays out of others' reach."""
MAX_CONCURRENT_DELIVERIES = 8
"""Deliveries in flight at once; due ones beyond wait for a free slot."""
MAX_IDLE_SECONDS = 5.0
"""Longest sleep between looks at the store (deliveries queued by another replica)."""
MAX_RETRY_DELAY = 3600.0
"""The longest wait between two attempts of a delivery: one hour, whatever the retry base."""
MAX_ERROR_LENGTH = 1000
"""The longest ``lastError`` recorded for an attempt; a longer one is cut."""
USER_AGENT = f"jupyter-tunnels-hub/{__version__}"
"""The ``User-Agent`` of every delivery: the hub and its version."""


def signature(secret: str, body: bytes) -> str:
    """The ``X-Tunnels-Signature`` header value: ``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(config: HubConfig, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(config.webhook_retry_base * 2 ** (attempts - 1), MAX_RETRY_DELAY))


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


class DeliveryWorker:
    """Sends the store's due deliveries, :data:`MAX_CONCURRENT_DELIVERIES` at a time."""

    def __init__(self, store: Store, config: HubConfig) -> None:
        self.store = store
        self.config = config
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """Look for due deliveries now (something was queued)."""
        self._wake.set()

    def start(self) -> None:
        """Start the worker on the running loop."""
        self._task = asyncio.create_task(self._run(), name="jupyter-tunnels-webhooks")

    async def close(self) -> None:
        """Stop the worker; deliveries cut short are made due again (store still open)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        cut_short = list(self._sending)
        for task in self._sending.values():
            task.cancel()
        for task in list(self._sending.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sending.clear()
        if cut_short:
            try:
                async with self.store.write() as conn:
                    await conn.execute(
                        update(t.webhook_deliveries)
                        .where(
                            t.webhook_deliveries.c.id.in_(cut_short),
                            t.webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                        )
                        .values(next_attempt_at=now())
                    )
            except Exception:
                log.exception("could not release %d claimed webhook deliveries", len(cut_short))
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            idle = MAX_IDLE_SECONDS
            try:
                idle = await self._claim_and_send()
            except Exception:
                log.exception("the webhook worker failed to read the store; it will try again")
            with contextlib.suppress(asyncio.TimeoutError):
                await within(idle, self._wake.wait())  # (wait_for may swallow a cancel)

    async def _claim_and_send(self) -> float:
        """Claim what is due and free to send; return how long to sleep if nothing wakes us."""
        free = MAX_CONCURRENT_DELIVERIES - len(self._sending)
        current = now()
        pending = t.webhook_deliveries.c.status == DeliveryStatus.PENDING.value
        async with self.store.write() as conn:
            rows: list[Row[Any]] = []
            if free > 0:
                rows = list(
                    (
                        await conn.execute(
                            select(t.webhook_deliveries, t.webhooks.c.url, t.webhooks.c.secret)
                            .select_from(
                                t.webhook_deliveries.join(
                                    t.webhooks, t.webhook_deliveries.c.webhook_id == t.webhooks.c.id
                                )
                            )
                            .where(pending, t.webhook_deliveries.c.next_attempt_at <= current)
                            .order_by(t.webhook_deliveries.c.next_attempt_at)
                            .limit(free)
                        )
                    ).all()
                )
                if rows:
                    await conn.execute(
                        update(t.webhook_deliveries)
                        .where(t.webhook_deliveries.c.id.in_([row.id for row in rows]))
                        .values(next_attempt_at=current + CLAIM_SECONDS)
                    )
            next_due = (
                await conn.execute(
                    select(t.webhook_deliveries.c.next_attempt_at)
                    .where(pending)
                    .order_by(t.webhook_deliveries.c.next_attempt_at)
                    .limit(1)
                )
            ).scalar()
        for row in rows:
            task = asyncio.create_task(self._send(row), name=f"webhook-delivery-{row.id}")
            self._sending[row.id] = task
        if next_due is None or len(self._sending) >= MAX_CONCURRENT_DELIVERIES:
            return MAX_IDLE_SECONDS  # a finished delivery wakes the worker
        return min(MAX_IDLE_SECONDS, max(0.0, float(next_due) - now()))

    async def _send(self, row: Row[Any]) -> None:
        try:
            status_code, error = await self._post(row)
            await self._record(row, status_code, error)
        except Exception:
            log.exception("webhook delivery %s: could not record its attempt", row.id)
        finally:
            self._sending.pop(row.id, None)
            self._wake.set()

    async def _post(self, row: Row[Any]) -> tuple[int | None, str | None]:
        """One attempt: ``(status code, error)``; no error means delivered."""
        refusal = receiver_refusal(row.url, self.config.webhook_hosts)
        if refusal is not None:  # the rule changed since the webhook was made: no connection
            return None, refusal
        if self._http is None:  # at the first delivery: a hub without webhooks never loads httpx
            import httpx

            self._http = httpx.AsyncClient(
                timeout=DELIVERY_TIMEOUT, follow_redirects=False, trust_env=False
            )
        body = row.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Tunnels-Event": row.event,
            "X-Tunnels-Delivery": row.id,
            "X-Tunnels-Signature": signature(row.secret, body),
        }
        try:
            response = await self._http.post(row.url, content=body, headers=headers)
        # Whatever stops the request (network, timeout, a URL httpx cannot use) is one failed
        # attempt, recorded for the owner to see; the next attempt follows the schedule.
        except Exception as exc:
            return None, _shorten(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"the receiver answered {response.status_code}"

    async def _record(self, row: Row[Any], status_code: int | None, error: str | None) -> None:
        attempts = row.attempts + 1
        current = now()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": status_code,
            "last_error": error,
        }
        if error is None:
            values.update(status=DeliveryStatus.DELIVERED.value, next_attempt_at=None)
            values["delivered_at"] = current
        elif attempts >= self.config.webhook_max_attempts:
            values.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None)
            log.warning(
                "webhook delivery %s to %s failed %d times; giving up: %s",
                row.id,
                row.url,
                attempts,
                error,
            )
        else:
            values["next_attempt_at"] = current + retry_delay(self.config, attempts)
            log.info("webhook delivery %s to %s failed (%s); will retry", row.id, row.url, error)
        async with self.store.write() as conn:
            await conn.execute(
                update(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.id == row.id)
                .values(**values)
            )
