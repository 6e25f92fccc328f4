"""The decision path through real NATS and a real Ray actor: decide, log, outcome, learn, replay."""

from __future__ import annotations

import json
from typing import Any

import nats.errors
import numpy as np
import pytest
import ray

from actors.entity_actor import spawn_actor
from events.log import EventLog
from events.schema import DecisionsMade, decisions_in
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of, caught_up, last_entity_seq, scratch_digest
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def ask(nc: Any, subject: str, body: Any, within_s: float = 5.0) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = await nc.request(subject, data, timeout=within_s)
    decoded: dict[str, Any] = json.loads(reply.data)
    return decoded


async def serving_experiment(
    nc: Any,
    settings: Settings,
    entity_id: str,
    arms: list[str],
    config: dict[str, Any],
    fallback: str | None = None,
) -> Any:
    """Create the experiment and wait until its actor (not a fallback stand-in) answers."""
    created = await ask(
        nc,
        "llmopt.admin.experiment.create",
        {
            "experiment_id": entity_id,
            "arms": arms,
            "seed": 3,
            "config": config,
            "fallback_arm": fallback,
        },
    )
    assert created.get("ok"), created
    actor = await actor_of(settings, entity_id)

    async def answers() -> bool:
        try:
            reply = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}}, within_s=1.0)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return False
        return "arm" in reply and reply["fallback"] is False

    await eventually(answers, bool, within_s=60)
    return actor


class TestDecide:
    async def test_a_decision_is_answered_and_logged_with_its_propensity(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A decide request gets an arm, a decision id and a propensity, and the same decision is in the log."""
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        reply = await ask(
            nc, f"llmopt.decide.{entity_id}", {"context": {"task": "chat"}, "request_id": "r1"}
        )
        assert reply["arm"] in ("a", "b")
        assert reply["fallback"] is False
        assert 0.0 < reply["propensity"] <= 1.0
        logged = [
            decision
            async for chunk in event_log.read_entity("experiment", entity_id)
            for r in chunk
            for decision in decisions_in(r.event)
            if decision.decision_id == reply["decision_id"]
        ]
        assert len(logged) == 1
        assert (logged[0].arm, logged[0].propensity) == (reply["arm"], reply["propensity"])
        assert logged[0].context == {"task": "chat"}
        again = await ask(
            nc, f"llmopt.decide.{entity_id}", {"context": {"task": "chat"}, "request_id": "r1"}
        )
        assert again == reply  # a retried request is the same decision

    async def test_a_batch_gets_one_decision_per_context(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A batch of 100 contexts is answered with 100 distinct decisions, logged as one
        DecisionsMade (once, though retried); their outcomes join, and replay gives the live
        digest."""
        actor = await serving_experiment(
            nc, settings, entity_id, ["a", "b", "c"], {"policy": "ucb1"}
        )
        body = {"requests": [{"context": {"i": i}, "request_id": f"b{i}"} for i in range(100)]}
        reply = await ask(nc, f"llmopt.decide_batch.{entity_id}", body)
        decisions = reply["decisions"]
        assert len(decisions) == 100
        assert len({d["decision_id"] for d in decisions}) == 100
        assert await ask(nc, f"llmopt.decide_batch.{entity_id}", body) == reply

        batches = [
            r.event
            async for chunk in event_log.read_entity("experiment", entity_id)
            for r in chunk
            if isinstance(r.event, DecisionsMade)
        ]
        assert len(batches) == 1
        assert [(d.decision_id, d.arm, d.propensity) for d in batches[0].decisions] == [
            (d["decision_id"], d["arm"], d["propensity"]) for d in decisions
        ]
        for i, decision in enumerate(decisions):
            accepted = await ask(
                nc, "llmopt.outcome", {"decision_id": decision["decision_id"], "reward": i % 2}
            )
            assert accepted["ok"] is True and accepted["duplicate"] is False
        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)

    @pytest.mark.parametrize(
        ("subject", "body", "code", "field"),
        [
            ("decide", b"\xff\x00garbage", "malformed", None),
            ("decide", {"context": "not an object"}, "invalid_request", "context"),
            ("decide", {"context": {}, "surprise": 1}, "invalid_request", "surprise"),
            (
                "decide",
                {"context": {"input_tokens": "many"}},
                "invalid_request",
                "context.input_tokens",
            ),
            ("decide_batch", {"requests": [{}] * 1001}, "invalid_request", "requests"),
            ("decide_batch", {"requests": []}, "invalid_request", "requests"),
        ],
    )
    async def test_bad_requests_get_clear_errors_and_serving_goes_on(
        self,
        services: Services,
        settings: Settings,
        nc: Any,
        entity_id: str,
        subject: str,
        body: Any,
        code: str,
        field: str | None,
    ) -> None:
        """Malformed, mistyped or oversized requests are answered with the code and field, and the next request is served."""
        config = {
            "policy": "linucb",
            "features": {
                "features": [
                    {"kind": "bias", "name": "bias"},
                    {"kind": "token_count", "name": "input_tokens"},
                ]
            },
        }
        await serving_experiment(nc, settings, entity_id, ["a", "b"], config)
        reply = await ask(nc, f"llmopt.{subject}.{entity_id}", body)
        assert reply["error"]["code"] == code
        assert reply["error"].get("field") == field
        assert "arm" in await ask(
            nc, f"llmopt.decide.{entity_id}", {"context": {"input_tokens": 12}}
        )


class TestOutcomes:
    async def test_outcomes_join_once_and_unknown_decisions_are_refused(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """An outcome is accepted once its decision exists; twice updates once; unknown ids are refused."""
        actor = await serving_experiment(
            nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"}
        )
        decision = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})
        first = await ask(
            nc,
            "llmopt.outcome",
            {
                "decision_id": decision["decision_id"],
                "quality": 1.0,
                "cost_usd": 0.001,
                "latency_ms": 300,
            },
        )
        assert first["ok"] is True
        second = await ask(
            nc, "llmopt.outcome", {"decision_id": decision["decision_id"], "quality": 1.0}
        )
        assert second["duplicate"] is True
        unknown = await ask(
            nc, "llmopt.outcome", {"decision_id": f"{entity_id}:nope", "quality": 1.0}
        )
        assert (unknown["error"]["code"], unknown["error"]["field"]) == (
            "unknown_decision",
            "decision_id",
        )
        no_experiment = await ask(nc, "llmopt.outcome", {"decision_id": "no-such-experiment:x"})
        assert no_experiment["error"]["code"] == "not_found"
        mistyped = await ask(
            nc, "llmopt.outcome", {"decision_id": decision["decision_id"], "quality": "good"}
        )
        assert (mistyped["error"]["code"], mistyped["error"]["field"]) == (
            "invalid_request",
            "quality",
        )

        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        arms = status.summary["arms"]
        assert sum(arm["outcomes"] for arm in arms.values()) == 1
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)


class TestLearning:
    @pytest.mark.parametrize(
        ("policy", "params"),
        [
            ("thompson_beta", {}),
            ("thompson_gaussian", {}),
            ("thompson_discounted", {}),
            ("ucb1", {}),
            ("epsilon_greedy", {"epsilon": 0.1}),
            ("softmax", {}),
        ],
    )
    async def test_every_policy_converges_live_and_replays_to_the_same_digest(
        self,
        services: Services,
        settings: Settings,
        nc: Any,
        event_log: EventLog,
        entity_id: str,
        policy: str,
        params: dict[str, Any],
    ) -> None:
        """Through real request-reply and outcomes, each policy finds the best of three models on a seeded Bernoulli bandit, and a replay of the log gives the live policy's digest."""
        actor = await serving_experiment(
            nc,
            settings,
            entity_id,
            ["weak", "mid", "strong"],
            {"policy": policy, "policy_params": params},
        )
        world = np.random.default_rng(11)
        p_success = {"weak": 0.2, "mid": 0.5, "strong": 0.8}
        chosen: list[str] = []
        for i in range(600):
            decision = await ask(
                nc, f"llmopt.decide.{entity_id}", {"context": {}, "request_id": f"q{i}"}
            )
            chosen.append(decision["arm"])
            reward = float(world.random() < p_success[decision["arm"]])
            accepted = await ask(
                nc, "llmopt.outcome", {"decision_id": decision["decision_id"], "reward": reward}
            )
            assert accepted["ok"] is True
        # The best arm dominates the last 200 decisions; regret over all 600 stays far below
        # uniform random's (0.3 per decision on average = 180).
        assert chosen[-200:].count("strong") >= 140
        regret = sum(0.8 - p_success[arm] for arm in chosen)
        assert regret < 90
        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)

    @pytest.mark.parametrize("policy", ["linucb", "linear_thompson"])
    async def test_contextual_policies_learn_the_per_task_best_model_live(
        self,
        services: Services,
        settings: Settings,
        nc: Any,
        event_log: EventLog,
        entity_id: str,
        policy: str,
    ) -> None:
        """Through real request-reply, a contextual policy learns that math needs the strong model and chat does not."""
        config = {
            "policy": policy,
            "features": {
                "features": [
                    {"kind": "bias", "name": "bias"},
                    {"kind": "one_hot", "name": "task", "values": ["math", "chat"]},
                ]
            },
        }
        if policy == "linear_thompson":
            config["policy_params"] = {"v": 0.3}
        actor = await serving_experiment(nc, settings, entity_id, ["weak", "strong"], config)
        world = np.random.default_rng(5)
        p_success = {
            ("math", "weak"): 0.2,
            ("math", "strong"): 0.9,
            ("chat", "weak"): 0.9,
            ("chat", "strong"): 0.6,
        }
        late: list[tuple[str, str]] = []
        for i in range(800):
            task = "math" if world.random() < 0.5 else "chat"
            decision = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {"task": task}})
            reward = float(world.random() < p_success[(task, decision["arm"])])
            await ask(
                nc, "llmopt.outcome", {"decision_id": decision["decision_id"], "reward": reward}
            )
            if i >= 600:
                late.append((task, decision["arm"]))
        best = {"math": "strong", "chat": "weak"}
        assert np.mean([arm == best[task] for task, arm in late]) >= 0.8
        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)


class TestFallback:
    async def test_while_the_actor_is_down_the_fallback_arm_answers_and_is_logged(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """With its actor gone, an experiment's decisions are answered with the fallback arm (flagged and logged); when the actor is back, it answers again."""
        actor = await serving_experiment(
            nc,
            settings,
            entity_id,
            ["cheap", "strong"],
            {"policy": "thompson_beta"},
            fallback="strong",
        )
        ray.kill(actor, no_restart=True)

        async def fallback_reply() -> dict[str, Any] | None:
            try:
                reply = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}}, within_s=1.0)
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                return None
            return reply

        reply = await eventually(
            fallback_reply, lambda r: r is not None and r.get("fallback") is True
        )
        assert reply is not None
        assert (reply["arm"], reply["reason"], reply["propensity"]) == (
            "strong",
            "unavailable",
            1.0,
        )
        accepted = await ask(
            nc, "llmopt.outcome", {"decision_id": reply["decision_id"], "quality": 1.0}
        )
        assert accepted["ok"] is True
        logged = {
            r.event.event_id
            async for chunk in event_log.read_entity("experiment", entity_id)
            for r in chunk
        }
        assert reply["decision_id"] in logged
        assert f"outcome:{reply['decision_id']}" in logged

        spawn_actor(settings, "experiment", entity_id, settings.nats_url or "")
        served = await eventually(
            fallback_reply, lambda r: r is not None and r.get("fallback") is False
        )
        assert served is not None
        assert served["arm"] in ("cheap", "strong")


class TestBatchAtomicity:
    async def test_a_refused_batch_logs_none_of_its_decisions(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A batch with one bad request is refused whole, naming it, and no decision of it reaches the log."""
        config = {
            "policy": "linucb",
            "features": {
                "features": [
                    {"kind": "bias", "name": "bias"},
                    {"kind": "token_count", "name": "input_tokens"},
                ]
            },
        }
        await serving_experiment(nc, settings, entity_id, ["a", "b"], config)

        async def decisions_logged() -> int:
            return sum(
                [
                    len(decisions_in(r.event))
                    async for chunk in event_log.read_entity("experiment", entity_id)
                    for r in chunk
                ]
            )

        before = await decisions_logged()
        reply = await ask(
            nc,
            f"llmopt.decide_batch.{entity_id}",
            {"requests": [{"context": {"input_tokens": 5}}, {"context": {"input_tokens": "many"}}]},
        )
        assert reply["error"]["field"] == "requests[1].context.input_tokens"
        assert await decisions_logged() == before


class TestArms:
    async def test_arms_join_and_leave_a_running_experiment(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """An added arm is tried (cold start) without a restart, a retired arm is never chosen again, and replay agrees."""
        actor = await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "ucb1"})
        for i in range(4):
            d = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})
            await ask(
                nc, "llmopt.outcome", {"decision_id": d["decision_id"], "reward": 0.5 + i / 10}
            )
        added = await ask(
            nc,
            "llmopt.admin.experiment.add_arm",
            {
                "experiment_id": entity_id,
                "arm": "c",
                "spec": {
                    "model": "new-model",
                    "price_in_per_1k": 0.001,
                    "price_out_per_1k": 0.002,
                    "context_window": 8000,
                },
            },
        )
        assert added["ok"] is True

        async def decision() -> dict[str, Any]:
            return await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}})

        tried = await eventually(decision, lambda d: d["arm"] == "c")
        assert tried["model"] == "new-model"  # UCB1 plays an untried arm first
        again = await ask(
            nc, "llmopt.admin.experiment.add_arm", {"experiment_id": entity_id, "arm": "c"}
        )
        assert again["error"]["code"] == "already_exists"

        assert (
            await ask(
                nc, "llmopt.admin.experiment.retire_arm", {"experiment_id": entity_id, "arm": "a"}
            )
        )["ok"] is True
        await eventually(decision, lambda d: d["arm"] != "a")
        arms = {(await decision())["arm"] for _ in range(30)}
        assert "a" not in arms
        missing = await ask(
            nc, "llmopt.admin.experiment.retire_arm", {"experiment_id": entity_id, "arm": "zzz"}
        )
        assert missing["error"]["code"] == "not_found"
        await ask(
            nc, "llmopt.admin.experiment.retire_arm", {"experiment_id": entity_id, "arm": "b"}
        )
        last = await ask(
            nc, "llmopt.admin.experiment.retire_arm", {"experiment_id": entity_id, "arm": "c"}
        )
        assert last["error"]["code"] == "invalid_transition"

        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)
