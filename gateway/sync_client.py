"""A blocking client for applications that do not run asyncio (a Flask view, a batch script).

nats-py is asyncio only, so this client owns a private event loop in a daemon thread and its own
connection on it; each call hands :class:`~gateway.client.OptimizerClient`'s coroutine to that
loop and waits for the result. Budgets, fallbacks and retries are the async client's, unchanged:
the thread adds one hand-over (tens of microseconds) and nothing else. Safe to call from several
threads at once; the calls share the connection.

>>> with SyncOptimizerClient("nats://127.0.0.1:4222", fallbacks={"router": "gpt-4"}) as client:
...     decision = client.decide("router", {"task": "chat"})  # doctest: +SKIP
...     client.outcome(decision.decision_id, quality=0.9, cost_usd=0.002)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import nats

from actors.catalogue import Eligibility
from actors.decider import Decision
from actors.decision_service import OutcomeAccepted
from gateway.client import DECIDE_TIMEOUT_S, OptimizerClient

T = TypeVar("T")


class SyncOptimizerClient:
    """Decide and report outcomes with blocking calls; see :class:`OptimizerClient` for what each
    call does. ``connect_options`` go to ``nats.connect`` (credentials, TLS, name...)."""

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        timeout_s: float = DECIDE_TIMEOUT_S,
        fallbacks: Mapping[str, str] | None = None,
        msgpack: bool = False,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="llmopt-client", daemon=True
        )
        self._thread.start()
        options = {"name": "llmopt-sync-client", **(connect_options or {})}
        servers_list = [servers] if isinstance(servers, str) else list(servers)
        try:
            self._nc = self._run(nats.connect(servers_list, **options))
        except BaseException:
            self._stop_loop()
            raise
        self._client = OptimizerClient(
            self._nc, timeout_s=timeout_s, fallbacks=fallbacks, msgpack=msgpack
        )

    @property
    def fallbacks_served(self) -> int:
        """Local fallback decisions returned so far: a non-zero count means an outage."""
        return self._client.fallbacks_served

    def decide(
        self,
        experiment: str,
        context: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
        constraints: Eligibility | Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Decision:
        return self._run(
            self._client.decide(
                experiment,
                context,
                request_id=request_id,
                constraints=constraints,
                timeout_s=timeout_s,
            )
        )

    def decide_batch(
        self,
        experiment: str,
        contexts: Sequence[Mapping[str, Any]],
        *,
        request_ids: Sequence[str | None] | None = None,
        constraints: Eligibility | Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> list[Decision]:
        return self._run(
            self._client.decide_batch(
                experiment,
                contexts,
                request_ids=request_ids,
                constraints=constraints,
                timeout_s=timeout_s,
            )
        )

    def outcome(self, decision_id: str, **fields: Any) -> OutcomeAccepted | None:
        """Keyword fields as :meth:`OptimizerClient.outcome` takes them (``cost_usd``,
        ``quality``, ``latency_ms``, ...)."""
        return self._run(self._client.outcome(decision_id, **fields))

    def close(self) -> None:
        """Flush what was sent, close the connection and stop the loop's thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._nc.drain())
        finally:
            self._stop_loop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncOptimizerClient called from its own event loop's thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
