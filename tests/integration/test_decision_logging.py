"""A decision is answered only once the log holds it: an append the log refuses or does not
acknowledge makes the reply an "unavailable" error, for single decisions and for batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import nats.errors
import pytest

from actors import decision_service
from actors.decision_service import DecisionService
from actors.experiment_ledger import ExperimentLedger
from actors.host import EntityHost
from events.log import EventLog
from events.pipelined_append import PipelinedAppender
from events.schema import DecisionMade, ExperimentCreated, decisions_in
from gateway.metrics import ACTOR_REGISTRY
from llmopt.settings import Settings
from tests.waiting import eventually


async def ask(nc: Any, subject: str, body: Any) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=10.0)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def decisions_in_log(event_log: EventLog, entity_id: str) -> list[DecisionMade]:
    return [
        decision
        async for chunk in event_log.read_entity("experiment", entity_id)
        for r in chunk
        for decision in decisions_in(r.event)
    ]


@pytest.fixture
async def host(
    settings: Settings, storage: Any, event_log: EventLog, entity_id: str
) -> AsyncIterator[EntityHost]:
    """An experiment's actor host, run in this process (no Ray), serving decisions."""
    await event_log.append(
        ExperimentCreated(
            event_id=f"create:{entity_id}",
            entity_id=entity_id,
            at=1.0,
            arms=("a", "b"),
            config={"policy": "thompson_beta"},
        )
    )
    running = EntityHost(settings, ExperimentLedger, entity_id, settings.nats_url or "")
    task = asyncio.get_running_loop().create_task(running.run())

    async def service() -> Any:
        return running._service

    await eventually(service, lambda s: isinstance(s, DecisionService), within_s=20.0)
    try:
        yield running
    finally:
        await running.stop(checkpoint=False)
        await asyncio.wait_for(task, 10.0)


async def test_logged_decisions_are_answered_and_in_the_log(
    host: EntityHost, nc: Any, event_log: EventLog, entity_id: str
) -> None:
    """Decisions of decide and decide_batch are in the log, each once, when their reply comes."""
    single = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})
    batch = await ask(nc, f"llmopt.decide_batch.{entity_id}", {"requests": [{"context": {}}] * 5})
    ids = [single["decision_id"], *(d["decision_id"] for d in batch["decisions"])]
    logged = [d.event_id for d in await decisions_in_log(event_log, entity_id)]
    assert sorted(logged) == sorted(ids)


async def test_a_decision_the_log_refuses_is_answered_unavailable(
    host: EntityHost, nc: Any, event_log: EventLog, entity_id: str
) -> None:
    """When every append is refused, decide and decide_batch answer "unavailable" (retry with
    the same request_id), never a decision, and the log holds none of them."""
    service = host._service
    assert isinstance(service, DecisionService)
    await service._appender.stop()
    refusing = PipelinedAppender(service.nc, "NOT_THE_LOG")  # the server refuses every append
    await refusing.start()
    service._appender = refusing
    single = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}, "request_id": "r1"})
    batch = await ask(nc, f"llmopt.decide_batch.{entity_id}", {"requests": [{"context": {}}] * 3})
    for reply in (single, batch):
        assert reply["error"]["code"] == "unavailable"
        assert "request_id" in reply["error"]["message"]
    assert await decisions_in_log(event_log, entity_id) == []
    assert unlogged(entity_id) == 4.0


def unlogged(experiment: str) -> float | None:
    return ACTOR_REGISTRY.get_sample_value(
        "llmopt_decisions_unlogged_total", {"experiment": experiment}
    )


async def test_an_overloaded_actor_drops_requests_and_counts_them(
    host: EntityHost, nc: Any, entity_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond its queue's capacity the actor answers nothing (the client's timeout and fallback
    take over), counts the drop, and serves again once below it."""
    monkeypatch.setattr(decision_service, "MAX_WAITING", 0)
    with pytest.raises(nats.errors.TimeoutError):
        await nc.request(f"llmopt.decide.{entity_id}", b'{"context": {}}', timeout=0.5)
    assert (
        ACTOR_REGISTRY.get_sample_value(
            "llmopt_decide_requests_dropped_total", {"experiment": entity_id}
        )
        == 1.0
    )
    monkeypatch.setattr(decision_service, "MAX_WAITING", 65_536)
    assert "decision_id" in await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})


async def test_a_pass_that_fails_answers_internal_and_serving_goes_on(
    host: EntityHost, nc: Any, event_log: EventLog, entity_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the policy pass answers its requests with an "internal" error at once (not a
    client timeout), logs nothing for them, and the next request is served."""

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug in the policy")

    monkeypatch.setattr(decision_service, "decide_many", broken)
    reply = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})
    assert reply["error"]["code"] == "internal"
    assert await decisions_in_log(event_log, entity_id) == []
    monkeypatch.undo()
    served = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})
    assert [d.event_id for d in await decisions_in_log(event_log, entity_id)] == [
        served["decision_id"]
    ]
