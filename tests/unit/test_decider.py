"""Deciding from an experiment's state: pure, reproducible from the log, never changing state."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from actors.catalogue import Eligibility
from actors.decider import (
    DecideRequest,
    DecisionRefused,
    decide,
    decide_many,
    decision_id_for,
    experiment_of,
)
from actors.experiment_config import ConfigError, parse_config
from actors.experiment_ledger import ExperimentLedger
from actors.policies import POLICIES
from events.schema import (
    DecisionMade,
    DriftDetected,
    ExperimentArchived,
    ExperimentCreated,
    OutcomeObserved,
)

EXP = "router"
CATALOGUE = {
    "gpt-4": {
        "model": "gpt-4-1106",
        "price_in_per_1k": 0.01,
        "price_out_per_1k": 0.03,
        "context_window": 128_000,
        "tier": "strong",
        "params": {"temperature": 0.2},
    },
    "mixtral": {
        "model": "mixtral-8x7b",
        "price_in_per_1k": 0.0006,
        "price_out_per_1k": 0.0006,
        "context_window": 32_000,
        "tier": "weak",
    },
}
CONTEXTUAL = {
    "policy": "linucb",
    "policy_params": {"alpha": 0.5},
    "features": {
        "features": [
            {"kind": "bias", "name": "bias"},
            {"kind": "one_hot", "name": "task", "values": ["math", "chat"]},
        ]
    },
    "catalogue": CATALOGUE,
}


def ledger_with(config: dict[str, Any], *, fallback: str | None = "gpt-4") -> ExperimentLedger:
    ledger = ExperimentLedger.initial(EXP)
    ledger.apply(
        ExperimentCreated(
            event_id="c",
            entity_id=EXP,
            at=0.0,
            arms=("gpt-4", "mixtral"),
            seed=42,
            fallback_arm=fallback,
            config=config,
        )
    )
    return ledger


class TestDecide:
    def test_reply_and_event_agree(self) -> None:
        """The logged DecisionMade carries the reply's id, arm, propensity and the raw context."""
        ledger = ledger_with({"catalogue": CATALOGUE})
        reply, event = decide(
            ledger, DecideRequest(context={"task": "math"}), decision_id="router:1", now=5.0
        )
        assert (event.decision_id, event.arm, event.propensity) == (
            reply.decision_id,
            reply.arm,
            reply.propensity,
        )
        assert event.context == {"task": "math"}
        assert event.at == 5.0
        assert reply.arm in ("gpt-4", "mixtral")
        assert 0.0 < reply.propensity <= 1.0
        assert reply.fallback is False

    def test_deciding_does_not_change_state(self) -> None:
        """Deciding many times leaves the ledger's bytes unchanged: only outcomes change policy state."""
        ledger = ledger_with(CONTEXTUAL)
        before = ledger.digest()
        for i in range(50):
            decide(
                ledger, DecideRequest(context={"task": "chat"}), decision_id=f"router:{i}", now=1.0
            )
        assert ledger.digest() == before

    def test_same_decision_id_same_choice(self) -> None:
        """A decision is re-derivable: the same id on the same state chooses the same arm and propensity."""
        ledger = ledger_with({"policy": "thompson_beta"})
        choices = {
            (reply.arm, reply.propensity)
            for reply, _ in (
                decide(ledger, DecideRequest(), decision_id="router:x", now=1.0) for _ in range(5)
            )
        }
        assert len(choices) == 1

    def test_request_id_makes_the_decision_id(self) -> None:
        """A retried request (same request_id) gets the same decision id; others get fresh ones."""
        assert decision_id_for(EXP, "req-1") == decision_id_for(EXP, "req-1")
        assert decision_id_for(EXP, "req-1") != decision_id_for(EXP, "req-2")
        assert decision_id_for(EXP, None) != decision_id_for(EXP, None)
        assert experiment_of(decision_id_for(EXP, "req-1")) == EXP

    def test_catalogue_params_come_with_the_decision(self) -> None:
        """The reply names the arm's model and parameters from the catalogue."""
        ledger = ledger_with({"catalogue": CATALOGUE})
        constraints = Eligibility(excluded_arms=("mixtral",))
        reply, _ = decide(
            ledger, DecideRequest(constraints=constraints), decision_id="router:p", now=1.0
        )
        assert (reply.arm, reply.model, reply.params) == (
            "gpt-4",
            "gpt-4-1106",
            {"temperature": 0.2},
        )
        assert reply.removed == {"mixtral": "excluded"}
        assert reply.propensity == 1.0


def trained(config: dict[str, Any], decisions: int = 60) -> ExperimentLedger:
    """A ledger whose policy has folded outcomes, so choices depend on its state."""
    ledger = ledger_with(config)
    for i in range(decisions):
        task = ("math", "chat")[i % 2]
        reply, event = decide(
            ledger, DecideRequest(context={"task": task}), decision_id=f"router:t{i}", now=1.0
        )
        ledger.apply(event)
        good = (task == "math") == (reply.arm == "gpt-4")
        ledger.apply(
            OutcomeObserved(
                event_id=f"o{i}",
                entity_id=EXP,
                at=2.0,
                decision_id=reply.decision_id,
                reward=1.0 if good else 0.0,
            )
        )
    return ledger


class TestDecideMany:
    @pytest.mark.parametrize("policy", sorted(POLICIES))
    def test_a_batch_decides_each_request_as_decide_alone_would(self, policy: str) -> None:
        """Every policy: the batch's arm and propensity per request equal one decide() each."""
        contextual = POLICIES[policy].contextual
        config = {**CONTEXTUAL, "policy": policy, "policy_params": {}}
        if not contextual:
            config = {"policy": policy, "catalogue": CATALOGUE}
        ledger = trained(config)
        requests = [DecideRequest(context={"task": ("math", "chat")[i % 2]}) for i in range(40)] + [
            DecideRequest(constraints=Eligibility(excluded_arms=("mixtral",)))
        ]
        ids = [f"router:b{i}" for i in range(len(requests))]
        batch = decide_many(ledger, requests, decision_ids=ids, now=3.0)
        for request, decision_id, got in zip(requests, ids, batch, strict=True):
            alone, _ = decide(ledger, request, decision_id=decision_id, now=3.0)
            assert not isinstance(got, DecisionRefused)
            assert (got[0].arm, got[0].propensity) == (alone.arm, alone.propensity)
            assert got[1].decision_id == decision_id

    def test_a_refused_request_takes_its_place_and_nothing_from_the_others(self) -> None:
        """A mistyped context in the middle of a batch is refused there; its neighbours are decided."""
        ledger = ledger_with(CONTEXTUAL)
        requests = [
            DecideRequest(context={"task": "math"}),
            DecideRequest(context={"task": 3}),
            DecideRequest(context={"task": "chat"}),
        ]
        results = decide_many(ledger, requests, decision_ids=["r:1", "r:2", "r:3"], now=1.0)
        assert isinstance(results[1], DecisionRefused)
        assert results[1].field == "context.task"
        assert [r[0].decision_id for r in (results[0], results[2]) if isinstance(r, tuple)] == [
            "r:1",
            "r:3",
        ]


class TestEligibility:
    def test_ineligible_arms_are_removed_before_choosing(self) -> None:
        """A prompt too long for an arm's context window is never routed to that arm."""
        ledger = ledger_with({"catalogue": CATALOGUE})
        constraints = Eligibility(input_tokens=60_000)
        for i in range(30):
            reply, _ = decide(
                ledger, DecideRequest(constraints=constraints), decision_id=f"router:{i}", now=1.0
            )
            assert reply.arm == "gpt-4"
            assert reply.removed == {"mixtral": "context_window"}

    def test_no_eligible_arm_serves_the_fallback(self) -> None:
        """When no arm fits, the fallback arm is served and flagged with the reason."""
        ledger = ledger_with({"catalogue": CATALOGUE})
        reply, event = decide(
            ledger,
            DecideRequest(constraints=Eligibility(max_cost_usd=0.0, input_tokens=10)),
            decision_id="router:f",
            now=1.0,
        )
        assert (reply.arm, reply.fallback, reply.reason) == ("gpt-4", True, "no_eligible_arm")
        assert event.arm == "gpt-4"

    def test_no_eligible_arm_and_no_fallback_is_refused(self) -> None:
        """Without a fallback arm, a request no arm can serve is refused naming the constraints."""
        ledger = ledger_with({"catalogue": CATALOGUE}, fallback=None)
        with pytest.raises(DecisionRefused) as refused:
            decide(
                ledger,
                DecideRequest(constraints=Eligibility(excluded_arms=("gpt-4", "mixtral"))),
                decision_id="router:n",
                now=1.0,
            )
        assert (refused.value.code, refused.value.field) == ("no_eligible_arm", "constraints")


class TestRefusals:
    def test_a_mistyped_context_feature_is_refused_with_its_field(self) -> None:
        """A context value of the wrong type is refused, naming context.<feature>."""
        ledger = ledger_with(CONTEXTUAL)
        with pytest.raises(DecisionRefused) as refused:
            decide(ledger, DecideRequest(context={"task": 3}), decision_id="router:t", now=1.0)
        assert (refused.value.code, refused.value.field) == ("invalid_request", "context.task")

    def test_missing_features_are_reported_not_refused(self) -> None:
        """A context without a declared feature is decided with the default and says so."""
        reply, _ = decide(
            ledger_with(CONTEXTUAL), DecideRequest(context={}), decision_id="router:m", now=1.0
        )
        assert reply.missing_features == ["task"]

    def test_archived_and_unknown_experiments_are_refused(self) -> None:
        """Deciding for an experiment that does not exist or is archived is a clear error."""
        with pytest.raises(DecisionRefused) as unknown:
            decide(ExperimentLedger.initial(EXP), DecideRequest(), decision_id="router:u", now=1.0)
        assert unknown.value.code == "not_found"
        ledger = ledger_with({})
        ledger.apply(ExperimentArchived(event_id="a", entity_id=EXP, at=1.0))
        with pytest.raises(DecisionRefused) as archived:
            decide(ledger, DecideRequest(), decision_id="router:v", now=1.0)
        assert archived.value.code == "invalid_transition"

    @pytest.mark.parametrize("decision_id", ["", "router", ":x", "router:"])
    def test_malformed_decision_ids_are_refused(self, decision_id: str) -> None:
        """An outcome's decision id that this service could not have issued is refused."""
        with pytest.raises(DecisionRefused):
            experiment_of(decision_id)


class TestConfig:
    @pytest.mark.parametrize(
        ("config", "field"),
        [
            ({"policy": "nope"}, "config.policy"),
            ({"policy": "linucb"}, "config.features"),
            ({**CONTEXTUAL, "policy_params": {"dim": 3}}, "config.policy_params.dim"),
            ({"policy": "ucb1", "policy_params": {"colour": 1}}, "config.policy_params"),
            ({"catalogue": {"claude": CATALOGUE["gpt-4"]}}, "config.catalogue"),
            ({"reward": {"cost_weight": -1}}, "config"),
            ({"surprise": 1}, "config"),
            (
                {"window_features": [{"field": "f", "window": "w", "kind": "k", "feature": "p42"}]},
                "config.window_features[0].feature",
            ),
            (
                {"window_features": [{"field": "f", "window": "w", "kind": "k", "feature": "p95"}]},
                "config.window_features[0].key_from",
            ),
            ({"drift": {"detectors": [{"metric": "quality", "detector": "nope"}]}}, "config.drift"),
            ({"baseline_arm": "gpt-4"}, "config.baseline_arm"),
        ],
    )
    def test_invalid_configs_name_their_field(self, config: dict[str, Any], field: str) -> None:
        """A configuration that cannot run is refused before it reaches the log, naming the field."""
        with pytest.raises(ConfigError) as refused:
            parse_config(config, ["gpt-4", "mixtral"])
        assert refused.value.field == field


class TestLearningThroughTheFold:
    def test_linucb_learns_the_per_task_best_model_from_decisions_and_outcomes(self) -> None:
        """Decide, log, observe, fold: the experiment learns that math needs gpt-4 and chat does not."""
        ledger = ledger_with(CONTEXTUAL)
        world = np.random.default_rng(7)
        quality = {
            ("math", "gpt-4"): 0.9,
            ("math", "mixtral"): 0.3,
            ("chat", "gpt-4"): 0.85,
            ("chat", "mixtral"): 0.8,
        }
        late: list[tuple[str, str]] = []
        for i in range(1_500):
            task = "math" if world.random() < 0.5 else "chat"
            reply, event = decide(
                ledger,
                DecideRequest(context={"task": task}),
                decision_id=f"router:{i}",
                now=float(i),
            )
            ledger.apply(event)
            q = float(world.random() < quality[(task, reply.arm)])
            cost = 0.04 if reply.arm == "gpt-4" else 0.0012
            ledger.apply(
                OutcomeObserved(
                    event_id=f"o{i}",
                    entity_id=EXP,
                    at=i + 0.5,
                    decision_id=reply.decision_id,
                    quality=q,
                    cost_usd=cost,
                    latency_ms=500.0,
                )
            )
            if i >= 1_300:
                late.append((task, reply.arm))
        math_share = np.mean([arm == "gpt-4" for task, arm in late if task == "math"])
        chat_share = np.mean([arm == "mixtral" for task, arm in late if task == "chat"])
        assert math_share > 0.8
        assert chat_share > 0.8


class TestUnvalidatedContexts:
    def test_a_logged_decision_with_a_bad_context_does_not_break_the_fold(self) -> None:
        """A decision logged without validation (the fallback stand-in) joins its outcome but leaves a contextual policy unchanged."""
        from events.schema import DecisionMade

        ledger = ledger_with(CONTEXTUAL)
        before = ledger.policy.to_bytes() if ledger.policy is not None else b""
        ledger.apply(
            DecisionMade(
                event_id="router:s",
                entity_id=EXP,
                at=1.0,
                decision_id="router:s",
                arm="gpt-4",
                propensity=1.0,
                context={"task": 7},
            )
        )
        ledger.apply(
            OutcomeObserved(
                event_id="o", entity_id=EXP, at=2.0, decision_id="router:s", quality=1.0
            )
        )
        assert ledger.context_errors == 1
        assert ledger.arms["gpt-4"].outcomes == 1
        assert ledger.policy is not None and ledger.policy.to_bytes() == before


class TestLoggedVectors:
    def test_a_logged_vector_folds_exactly_as_encoding_the_context_would(self) -> None:
        """A decision logged with its vector and the same decision logged without one (as the
        stand-in logs) give the ledger the same state, byte for byte."""
        with_x, without_x = ledger_with(CONTEXTUAL), ledger_with(CONTEXTUAL)
        for i in range(200):
            context = {"task": ("math", "chat", "other")[i % 3]} if i % 7 else {}
            _, event = decide(
                with_x, DecideRequest(context=context), decision_id=f"router:{i}", now=float(i)
            )
            assert event.x is not None
            bare = msgspec.structs.replace(event, x=None, missing_features=())
            outcome = OutcomeObserved(
                event_id=f"o{i}",
                entity_id=EXP,
                at=i + 0.5,
                decision_id=event.decision_id,
                reward=i % 2,
            )
            for ledger, decided in ((with_x, event), (without_x, bare)):
                ledger.apply(decided)
                ledger.apply(outcome)
        assert with_x.missing_features > 0
        assert with_x.digest() == without_x.digest()


SHADOWED = {"catalogue": CATALOGUE, "policy": "ucb1", "shadow": {"policy": "thompson_beta"}}


class TestShadowChallenger:
    def test_the_challenger_is_logged_and_the_champion_served(self) -> None:
        """With a shadow challenger every decision logs its choice and propensity, and the
        served arm is exactly what the experiment without a challenger would serve."""
        shadowed = ledger_with(SHADOWED)
        alone = ledger_with({"catalogue": CATALOGUE, "policy": "ucb1"})
        world = np.random.default_rng(5)
        for i in range(300):
            (served, event), (plain, _) = (
                decide(ledger, DecideRequest(), decision_id=f"router:s{i}", now=float(i))
                for ledger in (shadowed, alone)
            )
            assert served.arm == plain.arm
            assert event.shadow_arm in ("gpt-4", "mixtral") and event.shadow_propensity
            reward = float(world.random() < (0.8 if served.arm == "gpt-4" else 0.4))
            for ledger in (shadowed, alone):
                decided = (
                    event
                    if ledger is shadowed
                    else msgspec.structs.replace(event, shadow_arm=None, shadow_propensity=None)
                )
                ledger.apply(decided)
                ledger.apply(
                    OutcomeObserved(
                        event_id=f"o{i}", entity_id=EXP, at=i + 0.5,
                        decision_id=event.decision_id, reward=reward,
                    )
                )  # fmt: skip
        tally = shadowed.shadow
        assert tally.compared == 300 and tally.scored == 300
        assert 0.0 < (tally.agreement_rate or 0.0) <= 1.0
        assert shadowed.shadow_policy is not None
        assert shadowed.summary()["shadow"]["policy"] == "thompson_beta"  # type: ignore[index]

    def test_the_ips_estimate_counts_agreements_weighted_by_the_served_propensity(
        self,
    ) -> None:
        """Outcomes where the challenger agreed count reward / propensity, the others 0."""
        ledger = ledger_with(SHADOWED)
        cases = [
            ("gpt-4", "gpt-4", 0.5, 1.0),
            ("gpt-4", "mixtral", 0.5, 1.0),
            ("mixtral", "mixtral", 0.25, 0.5),
        ]
        for i, (served, shadow, propensity, reward) in enumerate(cases):
            ledger.apply(
                DecisionMade(
                    event_id=f"router:i{i}", entity_id=EXP, at=1.0, decision_id=f"router:i{i}",
                    arm=served, propensity=propensity, shadow_arm=shadow, shadow_propensity=0.5,
                )
            )  # fmt: skip
            ledger.apply(
                OutcomeObserved(
                    event_id=f"oi{i}", entity_id=EXP, at=2.0, decision_id=f"router:i{i}",
                    reward=reward,
                )
            )  # fmt: skip
        assert ledger.shadow.shadow_ips_mean == pytest.approx((1.0 / 0.5 + 0.5 / 0.25) / 3)
        assert ledger.shadow.served_mean == pytest.approx(2.5 / 3)
        assert ledger.shadow.agreement_rate == pytest.approx(2 / 3)

    def test_an_unknown_challenger_policy_is_refused_with_its_field(self) -> None:
        """A shadow policy that does not exist is a config error naming config.shadow.policy."""
        with pytest.raises(ConfigError) as refused:
            parse_config({"shadow": {"policy": "oracle"}}, ["gpt-4", "mixtral"])
        assert refused.value.field == "config.shadow.policy"


class TestDriftRollback:
    def test_a_rollback_alarm_pauses_the_experiment_on_the_named_arm(self) -> None:
        """Folding a drift alarm whose action is rollback_experiment(to_arm) derives, through
        the outbox, the promotion of that arm and a pause; once they are logged and folded,
        decide serves that arm, flagged, and the outbox is empty."""
        alarm = DriftDetected(
            event_id="drift-1", entity_id=EXP, at=5.0, detector="cusum", metric="quality",
            statistic=9.0, threshold=8.0, samples=300, window=300, direction="down",
            arm="gpt-4", action={"kind": "rollback_experiment", "to_arm": "mixtral"},
        )  # fmt: skip
        ledger = ledger_with({"catalogue": CATALOGUE})
        ledger.apply(alarm)
        derived = ledger.outbox()
        assert [type(e).__name__ for e in derived] == ["ChallengerPromoted", "ExperimentPaused"]
        assert "drift: cusum on quality of gpt-4" in derived[1].reason  # type: ignore[attr-defined]
        for event in derived:
            ledger.apply(event)
        assert ledger.outbox() == []
        reply, _ = decide(ledger, DecideRequest(), decision_id="router:rb", now=6.0)
        assert (reply.arm, reply.fallback, reply.reason) == ("mixtral", True, "experiment_paused")
        replayed = ledger_with({"catalogue": CATALOGUE})
        for event in [alarm, *derived]:
            replayed.apply(event)
        assert replayed.outbox() == [] and replayed.digest() == ledger.digest()

    def test_a_raise_exploration_alarm_lasts_its_number_of_decisions(self) -> None:
        """raise_exploration(factor 3, 5 decisions) multiplies the policy's exploration for the
        next five logged decisions, then the configured policy is back."""
        ledger = ledger_with({"catalogue": CATALOGUE, "policy": "epsilon_greedy"})
        ledger.apply(
            DriftDetected(
                event_id="drift-x", entity_id=EXP, at=5.0, detector="page_hinkley",
                metric="reward", statistic=9.0, threshold=8.0, samples=300, window=300,
                direction="down", arm="gpt-4",
                action={"kind": "raise_exploration", "factor": 3.0, "decisions": 5},
            )
        )  # fmt: skip
        assert ledger.policy is not None and ledger.policy.exploration == 3.0
        for i in range(5):
            assert ledger.policy.exploration == 3.0
            _, event = decide(ledger, DecideRequest(), decision_id=f"router:x{i}", now=6.0)
            ledger.apply(event)
        assert ledger.policy.exploration == 1.0 and ledger.exploration_left == 0
