"""The spec's log-derived ``ml_*`` metrics, kept by following the log in the serve process.

Decisions and outcomes are logged by the actors in their own (Ray worker) processes; the
serve process's metrics endpoint cannot see those processes' registries, but it can read
the log they write. :class:`LogMetrics` folds events into the Prometheus metrics of
:mod:`gateway.metrics`:

* ``ml_inference_requests_total{experiment, arm}``: decisions (first per decision id);
* ``ml_training_samples_total{experiment}``: outcomes joined to a decision this process has
  seen (the first per decision; an outcome logged before its decision is not counted);
* ``ml_model_accuracy{experiment}``: share of those samples that succeeded (not an error and
  quality >= 0.5, or, without a quality score, reward >= 0.5);
* ``ml_model_regret{experiment}``: cumulative ``counterfactual_reward - reward`` where an
  outcome carries both (0 until outcomes do);
* ``ml_checkpoint_count{kind}``: checkpoints logged;
* ``llmopt_log_staleness_seconds{kind}``: wall-clock time since the newest event time of
  each entity kind, refreshed after every poll.

:func:`follow_log_metrics` polls the log and sets this follower's lag, and
:func:`poll_consumer_lag` reports every JetStream consumer's pending count (each actor's
and each projection's consumer lag).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from events.log import EventLog, Recorded
from events.schema import (
    CheckpointTaken,
    DecisionMade,
    DecisionsMade,
    OutcomeObserved,
    decisions_in,
)
from events.subjects import parse_subject
from gateway.metrics import (
    CHECKPOINT_COUNT,
    CONSUMER_LAG,
    INFERENCE_REQUESTS,
    LOG_STALENESS,
    MODEL_ACCURACY,
    MODEL_REGRET,
    TRAINING_SAMPLES,
)
from projections.metrics import PROJECTION_LAG, PROJECTION_POSITION

log = logging.getLogger("llmopt.projections")

NAME: Final = "metrics"
SUCCESS: Final = 0.5
PENDING_CAPACITY: Final = 500_000
"""Decisions remembered for the join; the oldest are forgotten first."""


class LogMetrics:
    """Folds log events into the ``ml_*`` metrics; remembers only what the join needs."""

    def __init__(self, *, pending_capacity: int = PENDING_CAPACITY) -> None:
        self.position = 0
        self.pending: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.joined: set[str] = set()
        self.samples: collections.Counter[str] = collections.Counter()
        self.successes: collections.Counter[str] = collections.Counter()
        self.regret: collections.Counter[str] = collections.Counter()
        self.newest: dict[str, float] = {}
        self.capacity = pending_capacity

    def apply(self, records: Iterable[Recorded]) -> None:
        for record in records:
            if record.seq <= self.position:
                continue
            self.position = record.seq
            kind = parse_subject(record.subject)[0]
            event = record.event
            self.newest[kind] = max(self.newest.get(kind, event.at), event.at)
            if isinstance(event, DecisionMade | DecisionsMade):
                for decision in decisions_in(event):
                    self._decision(decision)
            elif isinstance(event, OutcomeObserved):
                self._outcome(event)
            elif isinstance(event, CheckpointTaken):
                CHECKPOINT_COUNT.labels(event.kind).inc()
        PROJECTION_POSITION.labels(NAME).set(self.position)

    def refresh_staleness(self, now: float) -> None:
        for kind, newest in self.newest.items():
            LOG_STALENESS.labels(kind).set(max(0.0, now - newest))

    def _decision(self, event: DecisionMade) -> None:
        if event.decision_id in self.pending or event.decision_id in self.joined:
            return
        self.pending[event.decision_id] = event.entity_id
        if len(self.pending) > self.capacity:
            self.pending.popitem(last=False)
        INFERENCE_REQUESTS.labels(event.entity_id, event.arm).inc()

    def _outcome(self, event: OutcomeObserved) -> None:
        experiment = self.pending.pop(event.decision_id, None)
        if experiment is None:
            return
        self.joined.add(event.decision_id)
        self.samples[experiment] += 1
        TRAINING_SAMPLES.labels(experiment).inc()
        score = event.quality if event.quality is not None else event.reward
        if not event.error and score is not None and score >= SUCCESS:
            self.successes[experiment] += 1
        MODEL_ACCURACY.labels(experiment).set(self.successes[experiment] / self.samples[experiment])
        counterfactual = getattr(event, "counterfactual_reward", None)
        if counterfactual is not None and event.reward is not None:
            self.regret[experiment] += counterfactual - event.reward
        MODEL_REGRET.labels(experiment).set(self.regret[experiment])


async def catch_up_log_metrics(event_log: EventLog, metrics: LogMetrics, batch: int = 1000) -> None:
    """Apply every event after ``metrics.position`` and set the follower's lag."""
    async for chunk in event_log.read("llmopt.log.>", from_seq=metrics.position + 1, batch=batch):
        metrics.apply(chunk)
        await asyncio.sleep(0)
    head = await event_log.head_seq()
    PROJECTION_LAG.labels(NAME).set(max(0, head - metrics.position))


async def poll_consumer_lag(js: Any, stream: str) -> dict[str, int]:
    """Set ``llmopt_consumer_lag_events`` for every consumer of ``stream``; return the lags."""
    lags = {}
    for info in await js.consumers_info(stream):
        lags[info.name] = int(info.num_pending or 0)
        CONSUMER_LAG.labels(info.name).set(lags[info.name])
    return lags


async def follow_log_metrics(
    event_log: EventLog,
    stop: asyncio.Event,
    *,
    poll_s: float = 1.0,
    clock: Callable[[], float] = time.time,
    on_caught_up: Callable[[], None] | None = None,
) -> LogMetrics:
    """Keep the ``ml_*`` metrics and consumer lags current until ``stop`` is set."""
    metrics = LogMetrics()
    while not stop.is_set():
        try:
            await catch_up_log_metrics(event_log, metrics)
            await poll_consumer_lag(event_log.js, event_log.stream)
            metrics.refresh_staleness(clock())
            if on_caught_up is not None:
                on_caught_up()
        except Exception:
            log.exception("log metrics poll failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)
    return metrics
