"""Experiments act by themselves on real NATS and Ray: canary rollback, promotion, SRM, crash recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import numpy as np
import pytest

from events.log import EventLog
from events.schema import (
    CanaryRolledBack,
    ChallengerPromoted,
    ExperimentCompleted,
    GuardrailBreached,
    SampleRatioMismatch,
)
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of, caught_up, last_entity_seq, scratch_digest, status_of
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def ask(nc: Any, subject: str, body: Any, within_s: float = 10.0) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=within_s)
    decoded: dict[str, Any] = json.loads(reply.data)
    return decoded


async def create(nc: Any, settings: Settings, entity_id: str, plan: dict[str, Any]) -> Any:
    created = await ask(
        nc,
        "llmopt.admin.experiment.create",
        {
            "experiment_id": entity_id,
            "arms": ["old", "new"],
            "fallback_arm": "old",
            "config": {"experiment": plan},
        },
    )
    assert created.get("ok"), created
    actor = await actor_of(settings, entity_id)

    async def serving() -> bool:
        try:
            reply = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {}}, within_s=1.0)
        except Exception:
            return False
        return reply.get("fallback") is False

    await eventually(serving, bool, within_s=60)
    return actor


async def round_of_traffic(
    nc: Any,
    entity_id: str,
    first_unit: int,
    units: int,
    rng: np.random.Generator,
    *,
    reward: dict[str, float],
    cost: dict[str, float],
) -> list[str]:
    """Decide for ``units`` new users in one batch, then report every outcome; returns the arms."""
    batch = await ask(
        nc,
        f"llmopt.decide_batch.{entity_id}",
        {"requests": [{"context": {"unit_id": f"u{first_unit + i}"}} for i in range(units)]},
    )
    decisions = batch["decisions"]

    async def report(decision: dict[str, Any]) -> None:
        arm = decision["arm"]
        reply = await ask(
            nc,
            "llmopt.outcome",
            {
                "decision_id": decision["decision_id"],
                "reward": float(rng.random() < reward[arm]),
                "cost_usd": cost[arm] * float(rng.lognormal(0.0, 0.3)),
                "latency_ms": float(400 * rng.lognormal(0.0, 0.3)),
                "quality": float(rng.normal(0.7, 0.1)),
            },
        )
        assert reply.get("ok"), reply

    for start in range(0, len(decisions), 50):
        await asyncio.gather(*(report(d) for d in decisions[start : start + 50]))
    return [d["arm"] for d in decisions]


async def lifecycle_types(event_log: EventLog, entity_id: str) -> list[Any]:
    return [
        r.event
        async for chunk in event_log.read(f"llmopt.log.experiment.{entity_id}.lifecycle")
        for r in chunk
    ]


async def drive_until(
    nc: Any,
    actor: Any,
    entity_id: str,
    done: Any,
    *,
    reward: dict[str, float],
    cost: dict[str, float],
    rounds: int = 40,
    units: int = 250,
) -> dict[str, Any]:
    """Send rounds of traffic until ``done(summary)`` holds; returns the summary then."""
    rng = np.random.default_rng(7)
    for r in range(rounds):
        await round_of_traffic(nc, entity_id, r * units, units, rng, reward=reward, cost=cost)

        async def summary() -> dict[str, Any] | None:
            status = await status_of(actor)
            return None if status is None else status.summary

        current = await eventually(summary, lambda s: s is not None, within_s=30)
        assert current is not None
        if done(current):
            return current
    raise AssertionError(f"not done after {rounds} rounds: {current}")


async def sigkill_and_compare(actor: Any, event_log: EventLog, entity_id: str) -> None:
    """SIGKILL the actor; once back, its state equals a from-scratch replay of the log."""
    pid: int = await actor.pid.remote()
    os.kill(pid, signal.SIGKILL)
    seq = await last_entity_seq(event_log, entity_id)
    status = await caught_up(actor, seq)
    assert status.pid != pid
    assert status.digest == await scratch_digest(event_log, entity_id, status.seq)


class TestAutomation:
    async def test_a_canary_that_breaches_a_guardrail_rolls_back_by_itself(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A challenger costing twice as much is rolled back with the breach as reason, then never served."""
        plan = {
            "mode": "canary",
            "control": "old",
            "challenger": "new",
            "look_every": 50,
            "guardrail_min_samples": 30,
            "canary": {"stages": [0.2, 0.5, 1.0], "min_samples_per_stage": 200},
        }
        actor = await create(nc, settings, entity_id, plan)
        summary = await drive_until(
            nc,
            actor,
            entity_id,
            lambda s: s["canary"] == "rolled_back",
            reward={"old": 0.5, "new": 0.5},
            cost={"old": 0.01, "new": 0.02},
        )
        assert "cost may not rise more than 10%" in summary["guardrail_breaches"]["cost"]
        events = await lifecycle_types(event_log, entity_id)
        kinds = [type(e) for e in events]
        assert GuardrailBreached in kinds and CanaryRolledBack in kinds
        rollback = next(e for e in events if isinstance(e, CanaryRolledBack))
        assert rollback.reason.startswith("rolled back at 20%: guardrail breached: cost")
        arms = await round_of_traffic(
            nc,
            entity_id,
            10**6,
            200,
            np.random.default_rng(1),
            reward={"old": 0.5, "new": 0.5},
            cost={"old": 0.01, "new": 0.02},
        )
        assert set(arms) == {"old"}
        await sigkill_and_compare(actor, event_log, entity_id)

    async def test_a_clear_winner_is_promoted(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A split experiment whose challenger succeeds 65% vs 40% promotes it and completes."""
        plan = {
            "mode": "split",
            "control": "old",
            "look_every": 100,
            "stopping": {"min_samples_per_variant": 200},
        }
        actor = await create(nc, settings, entity_id, plan)
        summary = await drive_until(
            nc,
            actor,
            entity_id,
            lambda s: s["status"] == "complete",
            reward={"old": 0.4, "new": 0.65},
            cost={"old": 0.01, "new": 0.01},
        )
        assert summary["champion"] == "new"
        kinds = [type(e) for e in await lifecycle_types(event_log, entity_id)]
        assert kinds[-2:] == [ChallengerPromoted, ExperimentCompleted]
        reply = await ask(nc, f"llmopt.decide.{entity_id}", {"context": {"unit_id": "late"}})
        assert (reply["arm"], reply["reason"]) == ("new", "experiment_complete")
        await sigkill_and_compare(actor, event_log, entity_id)

    async def test_a_skewed_assignment_raises_srm(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """A client that asks twice for one arm's users skews the logged split, and SRM is raised once."""
        plan = {"mode": "split", "control": "old", "look_every": 100, "auto_promote": False}
        actor = await create(nc, settings, entity_id, plan)
        units = [{"context": {"unit_id": f"s{i}"}} for i in range(1000)]
        batch = await ask(nc, f"llmopt.decide_batch.{entity_id}", {"requests": units})
        # A retry loop on one code path only: the users on "old" are decided for again.
        olds = [u for u, d in zip(units, batch["decisions"], strict=True) if d["arm"] == "old"]
        again = await ask(nc, f"llmopt.decide_batch.{entity_id}", {"requests": olds})
        assert {d["arm"] for d in again["decisions"]} == {"old"}
        # Looks run on outcomes; one round of ordinary traffic brings the next look.
        await round_of_traffic(
            nc,
            entity_id,
            5000,
            200,
            np.random.default_rng(3),
            reward={"old": 0.5, "new": 0.5},
            cost={"old": 0.01, "new": 0.01},
        )

        async def raised() -> list[Any]:
            events = await lifecycle_types(event_log, entity_id)
            return [e for e in events if isinstance(e, SampleRatioMismatch)]

        srm = await eventually(raised, lambda found: len(found) == 1, within_s=30)
        assert srm[0].p_value < 0.001
        assert srm[0].observed["old"] > 1.5 * srm[0].observed["new"]
        status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
        assert status.summary["srm"].startswith("sample ratio mismatch: decisions old=")
        await sigkill_and_compare(actor, event_log, entity_id)
