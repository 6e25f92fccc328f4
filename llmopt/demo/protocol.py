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

**Any workload.** The ``*_on`` functions run any :class:`~llmopt.demo.workload.Workload` (the
simulated multi-model traffic of :mod:`llmopt.demo.simulated` too: N arms, a latency term, a
drift monitor); the functions without the suffix are the RouteLLM workload's (:class:`RouteLLM`).
Events a fold derives (drift alarms) are folded right after the outcome that caused them, as
the live actor appends them before it folds anything else when the driver waits for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
import numpy as np

from actors.catalogue import ArmSpec
from actors.decider import DecideRequest, decide, decision_id_for
from actors.experiment_ledger import ExperimentLedger
from actors.feature_schema import FeatureSchema
from actors.policies import policy_class
from actors.reward import RewardSpec, composite_reward
from events.schema import Event, ExperimentCreated, OutcomeObserved
from llmopt.demo.cost_model import ARMS, CATALOGUE, STRONG, WEAK, call, oracle_call
from llmopt.demo.dataset import Prompt
from llmopt.demo.prompt_features import context_of, feature_schema
from llmopt.demo.tally import Outcome
from llmopt.demo.tally import Tally as Tally
from llmopt.demo.workload import Workload

ItemT = TypeVar("ItemT")


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


class RouteLLM:
    """The RouteLLM prompts as a :class:`~llmopt.demo.workload.Workload`: two arms, correctness
    as quality, no latency. ``subjects`` are the one-hot's values (the benchmark's published
    subject list), needed only to configure a contextual policy."""

    arms: tuple[str, ...] = ARMS
    flagship: str = STRONG
    catalogue: Mapping[str, ArmSpec] = CATALOGUE
    drift: dict[str, Any] | None = None

    def __init__(self, subjects: Sequence[str] = ()) -> None:
        self.subjects = tuple(subjects)

    def key(self, item: Prompt) -> str:
        return item.key

    def group(self, item: Prompt) -> str:
        return item.subject

    def context(self, item: Prompt, spec: PolicySpec) -> dict[str, Any]:
        return context_of(item, spec.ngram_buckets)

    def features(self, spec: PolicySpec) -> FeatureSchema:
        return feature_schema(self.subjects, spec.ngram_buckets)

    def call(self, item: Prompt, arm: str) -> Outcome:
        return call(item, arm)


def seeded_order(prompts: Sequence[Prompt], seed: int) -> list[Prompt]:
    """The prompts in the order the protocol presents them: a permutation drawn from ``seed``."""
    return [prompts[i] for i in np.random.default_rng(seed).permutation(len(prompts))]


def reward_spec(
    cost_weight: float,
    cost_max_usd: float,
    *,
    latency_weight: float = 0.0,
    latency_max_ms: float = 10_000.0,
) -> RewardSpec:
    """Quality (weight 1) and cost (``cost_weight``), cost normalised by ``cost_max_usd``;
    latency (``latency_weight``, normalised by ``latency_max_ms``) for a workload that has it."""
    return RewardSpec(
        quality_weight=1.0,
        cost_weight=float(cost_weight),
        latency_weight=float(latency_weight),
        cost_max_usd=float(cost_max_usd),
        latency_max_ms=float(latency_max_ms),
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
    return workload_config(RouteLLM(subjects), spec, reward)


def workload_config(
    workload: Workload[Any], spec: PolicySpec, reward: RewardSpec
) -> dict[str, Any]:
    """The experiment ``config`` for ``spec`` on ``workload``: policy, catalogue, reward, the
    feature schema for a contextual policy, and the workload's drift monitor if it has one."""
    config: dict[str, Any] = {
        "policy": spec.policy,
        "policy_params": dict(spec.params),
        "catalogue": {arm: msgspec.to_builtins(workload.catalogue[arm]) for arm in workload.arms},
        "reward": msgspec.to_builtins(reward),
        "baseline_arm": workload.flagship,
    }
    if policy_class(spec.policy).contextual:
        config["features"] = msgspec.to_builtins(workload.features(spec))
    if workload.drift is not None:
        config["drift"] = workload.drift
    return config


def outcome_reward(outcome: Outcome, reward: RewardSpec) -> float:
    """The composite reward the experiment folds for ``outcome`` (quality, tokens, latency)."""
    event = outcome_event("", "", outcome, 0.0)
    value = composite_reward(event, reward, cost_usd=outcome.cost_usd)
    if value is None:  # impossible: quality is always reported
        raise ValueError("outcome without a scored term")
    return value


def outcome_event(
    experiment_id: str, decision_id: str, outcome: Outcome, at: float
) -> OutcomeObserved:
    """The outcome the demo reports: the quality score, the tokens (the experiment prices
    them with its catalogue) and the latency when the workload has one. Its id is the one the
    decision service gives a reported outcome, so a drift alarm's ``cause_event_id`` names
    the same request offline and live."""
    return OutcomeObserved(
        event_id=f"outcome:{decision_id}",  # as the decision service names it
        entity_id=experiment_id,
        at=at,
        decision_id=decision_id,
        quality=outcome.quality,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
        latency_ms=outcome.latency_ms,
    )


def rounds(prompts: Sequence[ItemT], round_size: int) -> Iterator[Sequence[ItemT]]:
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
    return run_policy_on(
        RouteLLM(subjects),
        ordered,
        spec,
        experiment_id=experiment_id,
        seed=seed,
        reward=reward,
        round_size=round_size,
    )


def run_policy_on(
    workload: Workload[ItemT],
    ordered: Sequence[ItemT],
    spec: PolicySpec,
    *,
    experiment_id: str,
    seed: int,
    reward: RewardSpec,
    round_size: int,
    derived: list[Event] | None = None,
) -> tuple[Tally, list[str]]:
    """:func:`run_policy` for any workload; the events the fold derived (drift alarms) are
    appended to ``derived`` when given."""
    config = workload_config(workload, spec, reward)
    ledgers: dict[str, ExperimentLedger] = {}

    def ledger_for(item: ItemT) -> tuple[str, ExperimentLedger]:
        name = f"{experiment_id}.{workload.group(item)}" if spec.per_subject else experiment_id
        if name not in ledgers:
            ledger = ExperimentLedger.initial(name)
            ledger.apply(
                ExperimentCreated(
                    event_id=f"{name}:created",
                    entity_id=name,
                    at=0.0,
                    arms=workload.arms,
                    seed=seed,
                    fallback_arm=workload.flagship,
                    config=config,
                )
            )
            ledgers[name] = ledger
        return name, ledgers[name]

    tally = Tally.over(workload.arms)
    chosen: list[str] = []
    for number, batch in enumerate(rounds(ordered, round_size), start=1):
        at = float(number)
        made = []
        for item in batch:
            name, ledger = ledger_for(item)
            key = workload.key(item)
            decision_id = decision_id_for(name, key)
            request = DecideRequest(context=workload.context(item, spec), request_id=key)
            decision, event = decide(ledger, request, decision_id=decision_id, now=at)
            made.append((item, name, ledger, decision.arm, decision_id))
            ledger.apply(event)
        for item, name, ledger, arm, decision_id in made:
            outcome = workload.call(item, arm)
            ledger.apply(outcome_event(name, decision_id, outcome, at))
            for follower in ledger.outbox():
                ledger.apply(follower)
                if derived is not None:
                    derived.append(follower)
            tally.add(
                outcome,
                outcome_reward(outcome, reward),
                oracle_reward_on(workload, item, reward),
            )
            chosen.append(arm)
    return tally, chosen


def oracle_reward(prompt: Prompt, reward: RewardSpec) -> float:
    """The best reward any arm gets on ``prompt``."""
    return oracle_reward_on(RouteLLM(), prompt, reward)


def oracle_reward_on(workload: Workload[ItemT], item: ItemT, reward: RewardSpec) -> float:
    """The best reward any arm of ``workload`` gets on ``item``."""
    return max(outcome_reward(workload.call(item, arm), reward) for arm in workload.arms)


def route_fixed(ordered: Sequence[Prompt], choose: Sequence[str], reward: RewardSpec) -> Tally:
    """Totals when prompt ``i`` goes to arm ``choose[i]`` (baselines and replays)."""
    return route_fixed_on(RouteLLM(), ordered, choose, reward)


def route_fixed_on(
    workload: Workload[ItemT], ordered: Sequence[ItemT], choose: Sequence[str], reward: RewardSpec
) -> Tally:
    """:func:`route_fixed` for any workload."""
    if len(choose) != len(ordered):
        raise ValueError(f"{len(choose)} arms for {len(ordered)} prompts")
    tally = Tally.over(workload.arms)
    for item, arm in zip(ordered, choose, strict=True):
        outcome = workload.call(item, arm)
        tally.add(
            outcome, outcome_reward(outcome, reward), oracle_reward_on(workload, item, reward)
        )
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


def oracle_arms_on(
    workload: Workload[ItemT], ordered: Sequence[ItemT], reward: RewardSpec
) -> list[str]:
    """The per-request oracle of a workload with graded quality: the arm of the largest
    reward on each request (ties to the earlier arm of ``workload.arms``)."""
    return [
        max(workload.arms, key=lambda arm: outcome_reward(workload.call(item, arm), reward))
        for item in ordered
    ]


def best_fixed_per_subject(ordered: Sequence[Prompt], reward: RewardSpec) -> list[str]:
    """In hindsight, per subject, the one arm with the largest total reward on that subject."""
    return best_fixed_per_group(RouteLLM(), ordered, reward, prefer=WEAK)


def best_fixed_per_group(
    workload: Workload[ItemT], ordered: Sequence[ItemT], reward: RewardSpec, prefer: str = ""
) -> list[str]:
    """In hindsight, per group (subject, task type), the arm with the largest total reward on
    it; a tie goes to ``prefer``, then to the earlier arm."""
    totals: dict[tuple[str, str], float] = {}
    for item in ordered:
        for arm in workload.arms:
            key = (workload.group(item), arm)
            value = outcome_reward(workload.call(item, arm), reward)
            totals[key] = totals.get(key, 0.0) + value
    best = {
        group: max(workload.arms, key=lambda arm: (totals[(group, arm)], arm == prefer))
        for group, _ in totals
    }
    return [best[workload.group(item)] for item in ordered]


def cumulative_regret(
    ordered: Sequence[Prompt], choose: Sequence[str], reward: RewardSpec
) -> list[float]:
    """After each prompt, the summed regret so far against the per-prompt oracle."""
    return cumulative_regret_on(RouteLLM(), ordered, choose, reward)


def cumulative_regret_on(
    workload: Workload[ItemT], ordered: Sequence[ItemT], choose: Sequence[str], reward: RewardSpec
) -> list[float]:
    """:func:`cumulative_regret` for any workload."""
    if len(choose) != len(ordered):
        raise ValueError(f"{len(choose)} arms for {len(ordered)} prompts")
    total, out = 0.0, []
    for item, arm in zip(ordered, choose, strict=True):
        best = oracle_reward_on(workload, item, reward)
        total += best - outcome_reward(workload.call(item, arm), reward)
        out.append(total)
    return out
