"""The Python client against the real service: decide, report, fall back, batch."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from actors.decider import MAX_BATCH, decision_id_for
from gateway.client import OptimizerClient, OptimizerError, OptimizerUnavailable
from gateway.sync_client import SyncOptimizerClient
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.test_decisions import serving_experiment

pytestmark = pytest.mark.slow

GENEROUS_S = 5.0
"""Budget for requests that must be answered: a loaded test machine is not an outage."""

CONTEXTUAL = {
    "policy": "linucb",
    "features": {
        "features": [
            {"kind": "bias", "name": "bias"},
            {"kind": "token_count", "name": "input_tokens"},
        ]
    },
}


class TestRoundTrip:
    @pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
    async def test_a_decision_and_its_outcome_round_trip(
        self, services: Services, settings: Settings, nc: Any, entity_id: str, msgpack: bool
    ) -> None:
        """A decision comes back as a Decision from the live policy, and its outcome is accepted once and then reported as a duplicate."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        client = OptimizerClient(nc, timeout_s=GENEROUS_S, msgpack=msgpack)
        decision = await client.decide(entity_id, {"task": "chat"}, request_id="r1")
        assert decision.arm in ("a", "b")
        assert decision.fallback is False
        assert 0.0 < decision.propensity <= 1.0
        assert decision.decision_id == decision_id_for(entity_id, "r1")
        assert decision.experiment == entity_id
        first = await client.outcome(decision.decision_id, quality=1.0, cost_usd=0.001)
        assert first is not None and first.ok is True and first.seq > 0
        again = await client.outcome(decision.decision_id, quality=1.0, cost_usd=0.001)
        assert again is not None and again.duplicate is True

    async def test_a_first_outcome_is_not_reported_as_a_duplicate(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """The first outcome of a decision is accepted with duplicate=False."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        client = OptimizerClient(nc, timeout_s=GENEROUS_S)
        decision = await client.decide(entity_id)
        first = await client.outcome(decision.decision_id, reward=1.0)
        assert first is not None and first.duplicate is False

    async def test_constraints_reach_the_server(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """Per-request constraints given as a mapping remove the excluded arm, and the decision says why."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "ucb1"})
        client = OptimizerClient(nc, timeout_s=GENEROUS_S)
        decision = await client.decide(entity_id, constraints={"excluded_arms": ["a"]})
        assert decision.arm == "b"
        assert decision.removed == {"a": "excluded"}


class TestErrors:
    async def test_an_unknown_decision_raises_with_code_and_field(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """An outcome for a decision the experiment never made raises OptimizerError unknown_decision on decision_id."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        client = OptimizerClient(nc, timeout_s=GENEROUS_S)
        with pytest.raises(OptimizerError) as caught:
            await client.outcome(f"{entity_id}:nope", quality=1.0)
        assert (caught.value.code, caught.value.field) == ("unknown_decision", "decision_id")

    @pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
    async def test_a_mistyped_context_raises_with_code_and_field(
        self, services: Services, settings: Settings, nc: Any, entity_id: str, msgpack: bool
    ) -> None:
        """A context feature of the wrong type raises OptimizerError invalid_request naming the feature, and the next request is served."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], CONTEXTUAL)
        client = OptimizerClient(nc, timeout_s=GENEROUS_S, msgpack=msgpack)
        with pytest.raises(OptimizerError) as caught:
            await client.decide(entity_id, {"input_tokens": "many"})
        assert (caught.value.code, caught.value.field) == (
            "invalid_request",
            "context.input_tokens",
        )
        assert not isinstance(caught.value, OptimizerUnavailable)
        assert (await client.decide(entity_id, {"input_tokens": 12})).arm in ("a", "b")

    async def test_an_experiment_id_that_is_not_a_subject_token_is_refused_locally(
        self, nc: Any
    ) -> None:
        """An experiment id with a dot raises invalid_request on experiment instead of routing nowhere and falling back."""
        client = OptimizerClient(nc, fallbacks={"a.b": "x"})
        with pytest.raises(OptimizerError) as caught:
            await client.decide("a.b")
        assert (caught.value.code, caught.value.field) == ("invalid_request", "experiment")


class TestFallback:
    async def test_no_responders_serves_the_configured_fallback_quickly(
        self, services: Services, nc: Any, entity_id: str
    ) -> None:
        """Deciding for an experiment with no actor returns the configured fallback arm, flagged, within a second."""
        client = OptimizerClient(nc, fallbacks={entity_id: "gpt-4"})
        started = time.monotonic()
        decision = await client.decide(entity_id, {"task": "chat"}, request_id="q1")
        assert time.monotonic() - started < 1.0
        assert decision.fallback is True
        assert decision.arm == "gpt-4"
        assert decision.reason == "unavailable"
        assert decision.propensity == 1.0
        assert decision.decision_id == decision_id_for(entity_id, "q1")
        assert client.fallbacks_served == 1

    async def test_no_responders_without_a_fallback_raises_unavailable(
        self, services: Services, nc: Any, entity_id: str
    ) -> None:
        """Deciding for an experiment with no actor and no configured fallback raises OptimizerUnavailable."""
        client = OptimizerClient(nc, fallbacks={"some-other-experiment": "gpt-4"})
        with pytest.raises(OptimizerUnavailable) as caught:
            await client.decide(entity_id)
        assert caught.value.code == "unavailable"
        assert entity_id in str(caught.value)

    async def test_a_silent_service_times_out_into_the_fallback(
        self, services: Services, nc: Any, entity_id: str
    ) -> None:
        """A responder that never answers (a stalled actor) costs the budget and then serves the fallback arm."""
        silent = await nc.subscribe(f"llmopt.decide.{entity_id}", cb=_ignore)
        try:
            client = OptimizerClient(nc, timeout_s=0.05, fallbacks={entity_id: "mixtral"})
            started = time.monotonic()
            decision = await client.decide(entity_id)
            elapsed = time.monotonic() - started
        finally:
            await silent.unsubscribe()
        assert 0.04 < elapsed < 1.0
        assert (decision.arm, decision.fallback, decision.reason) == (
            "mixtral",
            True,
            "unavailable",
        )

    async def test_the_outcome_of_a_local_fallback_is_skipped(
        self, services: Services, nc: Any, entity_id: str
    ) -> None:
        """An outcome for a local fallback decision returns None and never reaches llmopt.outcome."""
        client = OptimizerClient(nc, fallbacks={entity_id: "gpt-4"})
        decision = await client.decide(entity_id)
        seen: list[bytes] = []

        async def record(msg: Any) -> None:
            seen.append(msg.data)

        tap = await nc.subscribe("llmopt.outcome", cb=record)
        try:
            assert await client.outcome(decision.decision_id, quality=1.0) is None
            await nc.flush()
        finally:
            await tap.unsubscribe()
        assert not [data for data in seen if decision.decision_id.encode() in data]

    async def test_a_served_retry_of_a_fallback_request_reports_its_outcome(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """Once the service answers a request id that earlier fell back, that decision is logged and its outcome is sent."""
        client = OptimizerClient(nc, timeout_s=GENEROUS_S, fallbacks={entity_id: "b"})
        local = await client.decide(entity_id, request_id="same")
        assert local.fallback is True
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        served = await client.decide(entity_id, request_id="same")
        assert served.fallback is False
        assert served.decision_id == local.decision_id
        accepted = await client.outcome(served.decision_id, reward=1.0)
        assert accepted is not None and accepted.ok is True


class TestBatch:
    async def test_a_batch_larger_than_the_limit_is_split_and_fully_answered(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """1,500 contexts, more than one batch request holds, come back as 1,500 distinct decisions in order."""
        await serving_experiment(nc, settings, entity_id, ["a", "b", "c"], {"policy": "ucb1"})
        client = OptimizerClient(nc)
        ids = [f"b{i}" for i in range(1500)]
        decisions = await client.decide_batch(
            entity_id, [{"i": i} for i in range(1500)], request_ids=ids
        )
        assert len(decisions) == 1500 > MAX_BATCH
        assert [d.decision_id for d in decisions] == [decision_id_for(entity_id, r) for r in ids]
        assert {d.arm for d in decisions} <= {"a", "b", "c"}
        assert not any(d.fallback for d in decisions)

    async def test_a_refused_request_in_a_later_chunk_is_named_by_its_index(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """A mistyped context at index 1203 raises invalid_request on requests[1203], not on its index within the second chunk."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], CONTEXTUAL)
        client = OptimizerClient(nc, msgpack=True)
        contexts: list[dict[str, Any]] = [{"input_tokens": i} for i in range(1500)]
        contexts[1203] = {"input_tokens": "many"}
        with pytest.raises(OptimizerError) as caught:
            await client.decide_batch(entity_id, contexts)
        assert (caught.value.code, caught.value.field) == (
            "invalid_request",
            "requests[1203].context.input_tokens",
        )

    async def test_an_unanswered_batch_falls_back_per_context(
        self, services: Services, nc: Any, entity_id: str
    ) -> None:
        """A batch for an experiment with no actor gets one local fallback decision per context."""
        client = OptimizerClient(nc, fallbacks={entity_id: "gpt-4"})
        decisions = await client.decide_batch(entity_id, [{}] * 1200)
        assert len(decisions) == 1200
        assert {(d.arm, d.fallback) for d in decisions} == {("gpt-4", True)}
        assert len({d.decision_id for d in decisions}) == 1200
        assert await client.outcome(decisions[-1].decision_id) is None


async def _ignore(msg: Any) -> None:
    """Receive and never answer."""


class TestSyncClient:
    async def test_a_blocking_client_decides_and_reports_from_a_thread(
        self, services: Services, settings: Settings, nc: Any, entity_id: str
    ) -> None:
        """An application without asyncio decides, reports the outcome once (then a duplicate)
        and closes, through its own connection."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})

        def application() -> tuple[Any, Any, Any, list[Any]]:
            with SyncOptimizerClient(settings.nats_url, timeout_s=GENEROUS_S) as client:
                decision = client.decide(entity_id, {"task": "chat"}, request_id="sync-1")
                first = client.outcome(decision.decision_id, quality=1.0, cost_usd=0.001)
                again = client.outcome(decision.decision_id, quality=1.0, cost_usd=0.001)
                batch = client.decide_batch(entity_id, [{"task": "a"}, {"task": "b"}])
            return decision, first, again, batch

        decision, first, again, batch = await asyncio.to_thread(application)
        assert decision.decision_id == decision_id_for(entity_id, "sync-1")
        assert decision.arm in ("a", "b") and decision.fallback is False
        assert first is not None and first.duplicate is False and first.seq > 0
        assert again is not None and again.duplicate is True
        assert [d.fallback for d in batch] == [False, False]

    async def test_a_blocking_client_falls_back_when_nobody_answers(
        self, services: Services, settings: Settings
    ) -> None:
        """With no service for the experiment, the blocking client serves the fallback arm
        within its budget and counts it."""

        def application() -> tuple[Any, int]:
            with SyncOptimizerClient(
                settings.nats_url, timeout_s=0.2, fallbacks={"nobody-serves-this": "cheap"}
            ) as client:
                return client.decide("nobody-serves-this"), client.fallbacks_served

        decision, served = await asyncio.to_thread(application)
        assert (decision.arm, decision.fallback, served) == ("cheap", True, 1)
