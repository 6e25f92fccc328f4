"""A seeded traffic history of one experiment, for the projection and report tests.

Three priced arms, decisions over several hours and two task types, outcomes with tokens,
quality and latency; some outcomes are reported twice, some name decisions that were never
made, some come before their decision; checkpoints now and then.
"""

from __future__ import annotations

import random
from typing import Any

from events.decision_batch import pack
from events.schema import (
    AnyEvent,
    CheckpointTaken,
    DecisionMade,
    ExperimentCreated,
    OutcomeObserved,
)

T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z."""

CATALOGUE: dict[str, dict[str, Any]] = {
    "small": {
        "model": "small-1",
        "price_in_per_1k": 0.0005,
        "price_out_per_1k": 0.0015,
        "context_window": 16_000,
        "tier": "cheap",
    },
    "medium": {
        "model": "medium-2",
        "price_in_per_1k": 0.003,
        "price_out_per_1k": 0.006,
        "context_window": 32_000,
        "tier": "mid",
    },
    "flagship": {
        "model": "large-4",
        "price_in_per_1k": 0.01,
        "price_out_per_1k": 0.03,
        "context_window": 128_000,
        "tier": "strong",
    },
}
ARMS = tuple(CATALOGUE)
TASKS = ("chat", "code")
QUALITY = {
    ("small", "chat"): 0.70,
    ("small", "code"): 0.40,
    ("medium", "chat"): 0.72,
    ("medium", "code"): 0.45,
    ("flagship", "chat"): 0.75,
    ("flagship", "code"): 0.90,
}


def created(experiment: str, at: float = T0) -> ExperimentCreated:
    return ExperimentCreated(
        event_id=f"{experiment}-created",
        entity_id=experiment,
        at=at,
        arms=ARMS,
        fallback_arm="flagship",
        config={"catalogue": CATALOGUE},
    )


def traffic(experiment: str, n: int, *, seed: int = 7, start: int = 0) -> list[AnyEvent]:
    """``n`` requests (decisions ``start`` .. ``start + n - 1``) and what came of them."""
    rng = random.Random(seed * 1_000_003 + start)
    events: list[AnyEvent] = []
    for i in range(start, start + n):
        at = T0 + 60.0 + i * 97.0
        arm = rng.choice(ARMS)
        task = TASKS[i % 2]
        decision = DecisionMade(
            event_id=f"{experiment}-d{i}",
            entity_id=experiment,
            at=at,
            decision_id=f"{experiment}-d{i}",
            arm=arm,
            propensity=1 / 3,
            context={"task_type": task, "user": f"u{i % 5}"},
        )
        outcome = OutcomeObserved(
            event_id=f"{experiment}-o{i}",
            entity_id=experiment,
            at=at + rng.uniform(1, 30),
            decision_id=decision.decision_id,
            quality=min(1.0, max(0.0, rng.gauss(QUALITY[arm, task], 0.1))),
            input_tokens=rng.randrange(200, 3000),
            output_tokens=rng.randrange(50, 800),
            latency_ms=rng.uniform(100, 3000),
            error=rng.random() < 0.03,
        )
        roll = rng.random()
        if roll < 0.1:
            events += [outcome, decision]  # the outcome overtook its decision
        elif roll < 0.8:
            events += [decision, outcome]
        else:
            events.append(decision)  # no outcome (yet)
        if rng.random() < 0.08:  # reported twice, under a new event id
            events.append(
                OutcomeObserved(
                    **{**_fields(outcome), "event_id": f"{experiment}-o{i}-again", "quality": 0.0}
                )
            )
        if rng.random() < 0.05:
            events.append(
                OutcomeObserved(
                    event_id=f"{experiment}-ghost{i}",
                    entity_id=experiment,
                    at=at,
                    decision_id=f"{experiment}-never-{i}",
                    quality=1.0,
                    input_tokens=10,
                    output_tokens=10,
                )
            )
        if i % 40 == 39:
            events.append(
                CheckpointTaken(
                    event_id=f"{experiment}-ckpt{i}",
                    entity_id=experiment,
                    at=at,
                    kind="experiment",
                    seq=i,
                    digest="ab" * 32,
                    state_version=2,
                )
            )
    return events


def batched(events: list[AnyEvent], size: int) -> list[AnyEvent]:
    """``events`` with each run of consecutive decisions logged in messages of up to ``size``,
    as the decision service logs the decisions of one policy pass."""
    out: list[AnyEvent] = []
    run: list[DecisionMade] = []
    for event in [*events, None]:
        if isinstance(event, DecisionMade):
            run.append(event)
            continue
        for message in pack(run, at=T0, max_bytes=1 << 20, max_decisions=size):
            out.append(message.event)
        run.clear()
        if event is not None:
            out.append(event)
    return out


def joined(events: list[AnyEvent]) -> list[tuple[DecisionMade, OutcomeObserved]]:
    """Each decision with the first outcome the log holds for it, wherever it stands."""
    decisions = {e.decision_id: e for e in events if isinstance(e, DecisionMade)}
    first: dict[str, OutcomeObserved] = {}
    for e in events:
        if isinstance(e, OutcomeObserved) and e.decision_id in decisions:
            first.setdefault(e.decision_id, e)
    return [(decisions[k], o) for k, o in first.items()]


def _fields(event: OutcomeObserved) -> dict[str, Any]:
    return {f: getattr(event, f) for f in event.__struct_fields__}
