"""A feature window actor on real Ray and NATS: it folds an experiment's traffic, its state is
the replay's, and its closed windows are served by ``llmopt.features.get``."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from actors.entity_actor import find_actor
from actors.feature_window import FeatureWindowAggregate
from events.log import EventLog
from events.schema import DecisionMade, Event, FeatureWindowDefined, OutcomeObserved
from events.subjects import entity_subject
from gateway.features import GET_SUBJECT
from gateway.window_admin import CREATE_SUBJECT
from llmopt.replay import replay
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import caught_up
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def window_traffic(experiment: str, start: float, n: int) -> list[Event]:
    """Decisions for two arms, each followed by its outcome half a second later; arm ``b`` is
    twice as slow and fails every fifth call. One event time per second."""
    events: list[Event] = []
    for i in range(n):
        did = f"{experiment}-d{i}"
        arm = "ab"[i % 2]
        events.append(
            DecisionMade(
                event_id=did,
                entity_id=experiment,
                at=start + i,
                decision_id=did,
                arm=arm,
                propensity=0.5,
                context={"tier": "pro" if i % 3 else "free"},
            )
        )
        events.append(
            OutcomeObserved(
                event_id=f"{did}-o",
                entity_id=experiment,
                at=start + i + 0.5,
                decision_id=did,
                latency_ms=(100.0 if arm == "a" else 200.0) + i % 7,
                error=arm == "b" and i % 5 == 0,
                cost_usd=0.001,
            )
        )
    return events


async def test_window_actor_serves_features_and_equals_its_replay(
    services: Services, settings: Settings, event_log: EventLog, nc: Any, entity_id: str
) -> None:
    """A window created over NATS gets an actor whose digest equals a replay's at the same
    sequence, and the newest closed window of a key is served fresh with the fold's values."""
    experiment = f"{entity_id}-exp"
    start = time.time() - 900  # event times near now, so values are fresh for the store
    # The definition's event time is the request's wall time: traffic is logged after it and
    # the window folds what the log holds after its definition, whatever the event times.
    config = {
        "experiment": experiment,
        "metric": "latency_ms",
        "key_by": ["arm", "tier"],
        "windows": [{"type": "tumbling", "size": 60}, {"type": "session", "gap": 30}],
        "max_out_of_orderness": 2,
        "allowed_lateness": 30,
        "ttl_s": 3600,
    }
    created = await nc.request(
        CREATE_SUBJECT,
        json.dumps({"window_id": entity_id, "config": config}).encode(),
        timeout=10.0,
    )
    assert json.loads(created.data)["ok"] is True
    subject = entity_subject("window", entity_id, "lifecycle")
    (definition,) = [r.event async for chunk in event_log.read(subject) for r in chunk]
    traffic = window_traffic(experiment, start, 400)
    appended = await event_log.append_many(traffic)
    last_seq = max(a.seq for a in appended)

    actor = await eventually(
        lambda: _find(settings, entity_id), lambda a: a is not None, within_s=60
    )
    status = await caught_up(actor, last_seq)
    rebuilt = await replay(event_log, "window", entity_id, to_seq=status.seq)
    assert rebuilt.digest == status.digest
    assert status.summary["outcomes"] == 400 and status.summary["unmatched_outcomes"] == 0

    expected = FeatureWindowAggregate.initial(entity_id)
    for event in [definition, *traffic]:
        expected.apply(event)
    assert expected.digest() == status.digest
    newest = expected.latest["tumbling_60s/b|pro"]
    body = await eventually(
        lambda: _get(nc, entity_id, "tumbling_60s", "b|pro"),
        lambda b: (
            b.get("found") and b.get("revision") is not None and b.get("computed_at") == newest.end
        ),
        within_s=30,
    )
    assert body["stale"] is False
    assert body["values"]["count"] == newest.stats.count
    assert body["values"]["p95"] == newest.stats.p95
    assert body["values"]["error_rate"] == newest.stats.error_rate


async def test_killed_window_actor_recovers_to_the_replayed_state(
    services: Services, settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """A window actor killed with SIGKILL mid-traffic restarts from its checkpoint, folds the
    rest (late outcomes included) and its digest equals a replay of the same log."""
    experiment = f"{entity_id}-exp"
    start = 1_700_000_000.0
    await event_log.append(
        FeatureWindowDefined(
            event_id=f"define:{entity_id}",
            entity_id=entity_id,
            at=start - 1,
            config={
                "experiment": experiment,
                "windows": [
                    {"type": "tumbling", "size": 60},
                    {"type": "sliding", "size": 120, "slide": 30},
                    {"type": "session", "gap": 20},
                ],
                "max_out_of_orderness": 1,
                "allowed_lateness": 10,
            },
        )
    )
    traffic = window_traffic(experiment, start, 1_500)
    # Every 50th outcome arrives 100 s late: beyond the lateness for some windows.
    late = [e for i, e in enumerate(traffic) if isinstance(e, OutcomeObserved) and i % 100 == 1]
    on_time = [e for e in traffic if e not in late]
    first = await event_log.append_many(on_time[:1_500])
    actor = await eventually(
        lambda: _find(settings, entity_id), lambda a: a is not None, within_s=60
    )
    before = await caught_up(actor, max(a.seq for a in first))
    assert before.checkpoints_taken >= 1
    killed = await actor.pid.remote()
    os.kill(killed, signal.SIGKILL)
    rest = await event_log.append_many(on_time[1_500:] + late)
    after = await caught_up(actor, max(a.seq for a in rest))
    assert after.pid != killed and after.recovered_from_seq > 0
    assert after.digest == (await replay(event_log, "window", entity_id, to_seq=after.seq)).digest
    windows = after.summary["windows"]
    assert windows["tumbling_60s"]["dropped_events"] > 0  # the policy's drops are counted
    assert after.summary["outcomes"] == 1_500


async def _find(settings: Settings, entity_id: str) -> Any:
    return find_actor(settings, "window", entity_id)


async def _get(nc: Any, window: str, kind: str, key: str) -> dict[str, Any]:
    request = {"window": window, "kind": kind, "key": key}
    reply = await nc.request(GET_SUBJECT, json.dumps(request).encode(), timeout=5.0)
    result: dict[str, Any] = json.loads(reply.data)
    return result
