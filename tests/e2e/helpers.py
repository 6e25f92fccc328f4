"""Traffic and probes shared by the end-to-end tests."""

from __future__ import annotations

import json
from typing import Any

from actors.entity_actor import find_actor
from actors.host import HostStatus
from events.log import EventLog
from events.schema import DecisionMade, Event, OutcomeObserved
from llmopt.replay import replay
from llmopt.settings import Settings
from tests.waiting import eventually


def traffic(
    entity_id: str, start: int, count: int, arms: tuple[str, ...] = ("a", "b")
) -> list[Event]:
    """``count`` events: decisions and, for every decision but each fifth, its outcome."""
    events: list[Event] = []
    i = start
    while len(events) < count:
        decision_id = f"{entity_id}-d{i}"
        events.append(
            DecisionMade(
                event_id=decision_id,
                entity_id=entity_id,
                at=float(i),
                decision_id=decision_id,
                arm=arms[i % len(arms)],
                propensity=0.5,
            )
        )
        if i % 5 and len(events) < count:
            events.append(
                OutcomeObserved(
                    event_id=f"{decision_id}-o",
                    entity_id=entity_id,
                    at=i + 0.5,
                    decision_id=decision_id,
                    reward=(i % 7) / 7,
                    cost_usd=0.001 * (i % 3),
                )
            )
        i += 1
    return events


async def create_experiment(nc: Any, entity_id: str, arms: tuple[str, ...] = ("a", "b")) -> int:
    reply = await nc.request(
        "llmopt.admin.experiment.create",
        json.dumps({"experiment_id": entity_id, "arms": list(arms)}).encode(),
        timeout=5.0,
    )
    body = json.loads(reply.data)
    assert body.get("ok"), body
    return int(body["seq"])


async def actor_of(settings: Settings, entity_id: str) -> Any:
    """The entity's actor, once the directory has started it."""

    async def probe() -> Any:
        return find_actor(settings, "experiment", entity_id)

    return await eventually(probe, lambda actor: actor is not None, within_s=60)


async def status_of(actor: Any) -> HostStatus | None:
    """The actor's status, or None while it is dead or restarting."""
    try:
        status: HostStatus = await actor.status.remote()
    except Exception:
        return None
    return status


async def caught_up(actor: Any, seq: int, *, within_s: float = 90.0) -> HostStatus:
    status = await eventually(
        lambda: status_of(actor), lambda s: s is not None and s.seq >= seq, within_s=within_s
    )
    assert status is not None
    return status


async def last_entity_seq(event_log: EventLog, entity_id: str) -> int:
    return await event_log.last_subject_seq(f"llmopt.log.experiment.{entity_id}.>")


async def scratch_digest(event_log: EventLog, entity_id: str, to_seq: int) -> str:
    return (await replay(event_log, "experiment", entity_id, to_seq=to_seq)).digest
