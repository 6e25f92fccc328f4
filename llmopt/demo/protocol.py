"""The offline routing protocol: each prompt once, in a seeded order, through the live decider.

The protocol of the figures the demo compares with (the issue's anchors, RouteLLM's
evaluation): every prompt arrives once, in an order drawn from the seed; the policy picks an
arm; only that arm's outcome (its correctness and its cost) is revealed and learnt from; and
every decision counts, exploration included. There is no training split.

**Offline = live.** A run here goes through the same code the decision service runs: an
:class:`~actors.experiment_ledger.ExperimentLedger` created by ``ExperimentCreated`` with the
configuration the demo sends to the admin API, :func:`actors.decider.decide` for each choice
(the same decision ids, so the same random draws), and ``DecisionMade`` / ``OutcomeObserved``
folded in the order the live actor folds them. Traffic moves in **rounds** of
``round_size`` prompts: all of a round's decisions are made against the state left by the
previous rounds, then the round's outcomes are folded in prompt order. ``llmopt demo`` drives
the live service in the same lockstep, so a seeded live run makes the same decisions.

The reward is the experiment's composite (:mod:`actors.reward`): quality 1 for a correct
answer and 0 otherwise, weight 1; cost normalised by the strong model's dearest call
(:func:`flagship_cost_bound`), weight ``cost_weight``; no latency term (the data has none).
Sweeping ``cost_weight`` traces a policy's cost-quality curve (:mod:`llmopt.demo.results`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import msgspec
import numpy as np

from actors.decider import DecideRequest, decide, decision_id_for
from actors.experiment_ledger import ExperimentLedger
from actors.policies import policy_class
from actors.reward import RewardSpec, composite_reward
from events.schema import ExperimentCreated, OutcomeObserved
from llmopt.demo.cost_model import ARMS, CATALOGUE, STRONG, WEAK, Call, call, oracle_call
from llmopt.demo.dataset import Prompt
from llmopt.demo.prompt_features import context_of, feature_schema


class PolicySpec(msgspec.Struct, frozen=True, kw_only=True):
    """A policy as the demo configures an experiment with it."""

    label: str
    policy: str
    """A name from ``actors.policies.POLICIES``."""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    ngram_buckets: int = 0
    """Hashed n-gram columns in the context (contextual policies only)."""
    per_subject: bool = False
    """One experiment per subject (offline only), as the per-subject Thompson anchor."""


class Tally(msgspec.Struct, kw_only=True):
    """Totals of a run: what the routed traffic cost, how much of it was right, and regret."""

    prompts: int = 0
    correct: int = 0
    cost_usd: float = 0.0
    reward: float = 0.0
    oracle_reward: float = 0.0
    arms: dict[str, int] = msgspec.field(default_factory=lambda: dict.fromkeys(ARMS, 0))

    def add(self, outcome: Call, reward: float, oracle_reward: float) -> None:
        self.prompts += 1
        self.correct += outcome.correct
        self.cost_usd += outcome.cost_usd
        self.reward += reward
        self.oracle_reward += oracle_reward
        self.arms[outcome.arm] = self.arms.get(outcome.arm, 0) + 1

    @property
    def accuracy(self) -> float:
        return self.correct / self.prompts if self.prompts else 0.0

    @property
    def regret(self) -> float:
        """Sum over prompts of the best arm's reward minus the chosen arm's (per-prompt oracle)."""
        return self.oracle_reward - self.reward


def seeded_order(prompts: Sequence[Prompt], seed: int) -> list[Prompt]:
    """The prompts in the order the protocol presents them: a permutation drawn from ``seed``."""
    return [prompts[i] for i in np.random.default_rng(seed).permutation(len(prompts))]


def reward_spec(cost_weight: float, cost_max_usd: float) -> RewardSpec:
    """Quality (weight 1) and cost (``cost_weight``), cost normalised by ``cost_max_usd``."""
    return RewardSpec(
        quality_weight=1.0,
        cost_weight=float(cost_weight),
        latency_weight=0.0,
        cost_max_usd=float(cost_max_usd),
    )


def flagship_cost_bound(prompts: Iterable[Prompt]) -> float:
    """The strong model's dearest call on ``prompts``: the reward's cost normalisation bound.

    The bound lies at or above every call, so the cost term is linear in dollars across the
    whole workload. A lower bound (say the typical call) clips every longer prompt's cost to
    it: a 3,000-token prompt then looks no dearer than a 300-token one, the policy cannot
    learn what sending it to the cheap model saves, and its curve bends away from the
    hindsight optimum (on MMLU the mean GPT-4 call as the bound held the best fixed model per
    subject to 49.5% saved, against 61.8% with this bound). A deployment takes it from its
    prompt-length limit and the catalogue's prices.
    """
    costs = [call(p, STRONG).cost_usd for p in prompts]
    if not costs:
        raise ValueError("no prompts")
    return max(costs)


def experiment_config(
    spec: PolicySpec, subjects: Sequence[str], reward: RewardSpec
) -> dict[str, Any]:
    """The ``config`` of the admin API's create request (``actors.experiment_config``)."""
    config: dict[str, Any] = {
        "policy": spec.policy,
        "policy_params": dict(spec.params),
        "catalogue": {arm: msgspec.to_builtins(CATALOGUE[arm]) for arm in ARMS},
        "reward": msgspec.to_builtins(reward),
    }
    if policy_class(spec.policy).contextual:
        schema = feature_schema(subjects, spec.ngram_buckets)
        config["features"] = msgspec.to_builtins(schema)
    return config


def outcome_reward(outcome: Call, reward: RewardSpec) -> float:
    """The composite reward the experiment folds for ``outcome`` (quality and tokens)."""
    event = outcome_event("", "", outcome, 0.0)
    value = composite_reward(event, reward, cost_usd=outcome.cost_usd)
    if value is None:  # impossible: quality is always reported
        raise ValueError("outcome without a scored term")
    return value


def outcome_event(
    experiment_id: str, decision_id: str, outcome: Call, at: float
) -> OutcomeObserved:
    """The outcome the demo reports: correctness as quality, and the tokens (the experiment
    prices them with its catalogue)."""
    return OutcomeObserved(
        event_id=f"{decision_id}:outcome",
        entity_id=experiment_id,
        at=at,
        decision_id=decision_id,
        quality=1.0 if outcome.correct else 0.0,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
    )


def rounds(prompts: Sequence[Prompt], round_size: int) -> Iterator[Sequence[Prompt]]:
    if round_size < 1:
        raise ValueError(f"round_size must be >= 1, got {round_size}")
    for start in range(0, len(prompts), round_size):
        yield prompts[start : start + round_size]


def run_policy(
    ordered: Sequence[Prompt],
    spec: PolicySpec,
    *,
    experiment_id: str,
    seed: int,
    subjects: Sequence[str],
    reward: RewardSpec,
    round_size: int,
) -> tuple[Tally, list[str]]:
    """Route ``ordered`` with ``spec`` as the live experiment would; returns the totals and
    the arm chosen for each prompt, in order."""
    config = experiment_config(spec, subjects, reward)
    ledgers: dict[str, ExperimentLedger] = {}

    def ledger_for(prompt: Prompt) -> tuple[str, ExperimentLedger]:
        name = f"{experiment_id}.{prompt.subject}" if spec.per_subject else experiment_id
        if name not in ledgers:
            ledger = ExperimentLedger.initial(name)
            ledger.apply(
                ExperimentCreated(
                    event_id=f"{name}:created",
                    entity_id=name,
                    at=0.0,
                    arms=ARMS,
                    seed=seed,
                    fallback_arm=STRONG,
                    config=config,
                )
            )
            ledgers[name] = ledger
        return name, ledgers[name]

    tally = Tally()
    chosen: list[str] = []
    for number, batch in enumerate(rounds(ordered, round_size), start=1):
        at = float(number)
        made = []
        for prompt in batch:
            name, ledger = ledger_for(prompt)
            decision_id = decision_id_for(name, prompt.key)
            request = DecideRequest(
                context=context_of(prompt, spec.ngram_buckets), request_id=prompt.key
            )
            decision, event = decide(ledger, request, decision_id=decision_id, now=at)
            made.append((prompt, name, ledger, decision.arm, decision_id))
            ledger.apply(event)
        for prompt, name, ledger, arm, decision_id in made:
            outcome = call(prompt, arm)
            ledger.apply(outcome_event(name, decision_id, outcome, at))
            tally.add(outcome, outcome_reward(outcome, reward), oracle_reward(prompt, reward))
            chosen.append(arm)
    return tally, chosen


def oracle_reward(prompt: Prompt, reward: RewardSpec) -> float:
    """The best reward any arm gets on ``prompt``."""
    return max(outcome_reward(call(prompt, arm), reward) for arm in ARMS)


def route_fixed(ordered: Sequence[Prompt], choose: Sequence[str], reward: RewardSpec) -> Tally:
    """Totals when prompt ``i`` goes to arm ``choose[i]`` (baselines and replays)."""
    if len(choose) != len(ordered):
        raise ValueError(f"{len(choose)} arms for {len(ordered)} prompts")
    tally = Tally()
    for prompt, arm in zip(ordered, choose, strict=True):
        outcome = call(prompt, arm)
        tally.add(outcome, outcome_reward(outcome, reward), oracle_reward(prompt, reward))
    return tally


def random_mix(ordered: Sequence[Prompt], p_strong: float, seed: int) -> list[str]:
    """Each prompt to the strong model with probability ``p_strong``, independently."""
    if not 0.0 <= p_strong <= 1.0:
        raise ValueError(f"p_strong must lie in [0, 1], got {p_strong}")
    draws = np.random.default_rng(seed).random(len(ordered))
    return [STRONG if u < p_strong else WEAK for u in draws]


def oracle_arms(ordered: Sequence[Prompt]) -> list[str]:
    """The per-prompt oracle: the cheapest arm that answers correctly (cheapest if none)."""
    return [oracle_call(p).arm for p in ordered]


def best_fixed_per_subject(ordered: Sequence[Prompt], reward: RewardSpec) -> list[str]:
    """In hindsight, per subject, the one arm with the largest total reward on that subject."""
    totals: dict[tuple[str, str], float] = {}
    for prompt in ordered:
        for arm in ARMS:
            key = (prompt.subject, arm)
            totals[key] = totals.get(key, 0.0) + outcome_reward(call(prompt, arm), reward)
    best = {
        subject: max(ARMS, key=lambda arm: (totals[(subject, arm)], arm == WEAK))
        for subject, _ in totals
    }
    return [best[p.subject] for p in ordered]


def cumulative_regret(
    ordered: Sequence[Prompt], choose: Sequence[str], reward: RewardSpec
) -> list[float]:
    """After each prompt, the summed regret so far against the per-prompt oracle."""
    if len(choose) != len(ordered):
        raise ValueError(f"{len(choose)} arms for {len(ordered)} prompts")
    total, out = 0.0, []
    for prompt, arm in zip(ordered, choose, strict=True):
        total += oracle_reward(prompt, reward) - outcome_reward(call(prompt, arm), reward)
        out.append(total)
    return out
