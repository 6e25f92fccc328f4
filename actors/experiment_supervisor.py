"""Carries out what an experiment's analysis proposes: appends the proposed events to the log.

The decisions (breach, pause, rollback, canary stage, promotion, completion, SRM) are taken by
the pure fold (``actors.experiment_analysis``) and kept in the state as proposals with
deterministic event ids. This thin shell, run by the experiment's actor next to its decision
service, publishes them: the log deduplicates a proposal published twice (``Nats-Msg-Id`` is
the event id), and the fold drops a proposal when its event comes back, so a restart that
proposes again changes nothing. The actor's fold stays the only reader of the log; this only
writes, as the decision service does for decisions.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from nats.aio.client import Client
from opentelemetry import trace
from prometheus_client import Counter

from actors.experiment_analysis import proposal_events
from actors.experiment_ledger import ExperimentLedger
from events.codec import encode
from events.log import LOG_STREAM, MSG_ID
from events.schema import subject_of

if TYPE_CHECKING:
    from actors.host import EntityHost

log = logging.getLogger("llmopt.experiments")
tracer = trace.get_tracer("llmopt.actors")

INTERVAL_S: Final = 0.1
"""How often the proposals are read: the latency between a look and its event."""
REMEMBERED: Final = 1024

EXPERIMENT_ACTIONS = Counter(
    "llmopt_experiment_actions_total",
    "Events an experiment appended by itself (guardrail breaches, pauses, rollbacks, canary "
    "stages, promotions, completions, sample-ratio mismatches)",
    ["event"],
)


class ExperimentSupervisor:
    """Publishes the proposals of one experiment's analysis while its actor serves."""

    def __init__(self, host: EntityHost, nc: Client) -> None:
        self.host = host
        self.js = nc.jetstream()
        self._sent: collections.OrderedDict[str, None] = collections.OrderedDict()
        """Event ids published and not yet folded back, so a proposal is sent once per run."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("experiment supervisor failed; retrying", extra=self._where())
            await asyncio.sleep(INTERVAL_S)

    async def tick(self) -> int:
        """Publish the proposals not published yet; returns how many events it appended."""
        state = self.host.state
        if not isinstance(state, ExperimentLedger):
            return 0
        fresh = [p for p in state.analysis.proposals if p.event_id not in self._sent]
        if not fresh:
            return 0
        events = proposal_events(state.entity_id, fresh, time.time())
        for event in events:
            name = type(event).__name__
            with tracer.start_as_current_span(
                "experiment_action", attributes={"event": name, "experiment": state.entity_id}
            ):
                await self.js.publish(
                    subject_of(event),
                    encode(event),
                    stream=LOG_STREAM,
                    headers={MSG_ID: event.event_id},
                )
            self._sent[event.event_id] = None
            while len(self._sent) > REMEMBERED:
                self._sent.popitem(last=False)
            EXPERIMENT_ACTIONS.labels(name).inc()
            log.info(
                "experiment action",
                extra={**self._where(), "event": name, "reason": getattr(event, "reason", "")},
            )
        return len(events)

    def _where(self) -> dict[str, Any]:
        return {"experiment_id": self.host.entity_id, "seq": self.host.seq}


class ServicesTogether:
    """Several services of one actor, started in order and stopped in reverse."""

    def __init__(self, *services: Any) -> None:
        self.services = services

    async def start(self) -> None:
        for service in self.services:
            await service.start()

    async def stop(self) -> None:
        for service in reversed(self.services):
            with contextlib.suppress(Exception):
                await service.stop()
