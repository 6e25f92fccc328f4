"""The policy contract: every policy in ALL_POLICIES passes the same checks.

A new policy joins by appending a :class:`PolicyFactory` to :data:`ALL_POLICIES`; a contextual
one sets ``d`` and the suite passes ``np.ones(d)`` as the context of every call. Rewards fed
here are in [0, 1], which every policy accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.policies.base import Choice, Policy, decision_rng
from actors.policies.beta_thompson import BetaThompson
from actors.policies.discounted_thompson import DiscountedThompson
from actors.policies.epsilon_greedy import EpsilonGreedy
from actors.policies.gaussian_thompson import GaussianThompson
from actors.policies.linear_thompson import LinearThompson
from actors.policies.linucb import LinUCB
from actors.policies.softmax import Softmax
from actors.policies.squarecb import SquareCB
from actors.policies.ucb1 import UCB1
from tests.strategies import DETERMINISTIC


@dataclass(frozen=True)
class PolicyFactory:
    """How the suite builds one policy: ``make(arms)``, and for a contextual policy the
    dimension ``d`` of the context the suite passes (``np.ones(d)``)."""

    id: str
    make: Callable[[Sequence[str]], Policy]
    d: int = 0

    def context(self, policy: Policy) -> np.ndarray | None:
        return np.ones(self.d) if policy.contextual else None


ALL_POLICIES: list[PolicyFactory] = [
    PolicyFactory("thompson_beta", BetaThompson),
    PolicyFactory(
        "thompson_beta_prior",
        lambda arms: BetaThompson(arms, alpha0=2.0, beta0=0.5, propensity_samples=16),
    ),
    PolicyFactory("thompson_gaussian", GaussianThompson),
    PolicyFactory("thompson_discounted", DiscountedThompson),
    PolicyFactory("ucb1", UCB1),
    PolicyFactory("epsilon_greedy", EpsilonGreedy),
    PolicyFactory(
        "epsilon_greedy_decay",
        lambda arms: EpsilonGreedy(arms, epsilon=0.5, decay=0.1, min_epsilon=0.01),
    ),
    PolicyFactory("softmax", Softmax),
    PolicyFactory("linucb", lambda a: LinUCB(a, dim=4), d=4),
    PolicyFactory("linear_thompson", lambda a: LinearThompson(a, dim=4), d=4),
    PolicyFactory("squarecb", lambda a: SquareCB(a, dim=4), d=4),
]
"""Every policy (and a few non-default configurations) the contract runs on."""

ARMS = ("a", "b", "c", "d")
SEED = 7

CONTRACT = settings(DETERMINISTIC, max_examples=25)
"""Fewer examples than the house default: the suite multiplies every property by every
policy, and a Thompson ``choose`` costs ~0.1 ms."""

histories = st.lists(
    st.tuples(st.sampled_from(ARMS), st.floats(min_value=0.0, max_value=1.0)), max_size=24
)
"""Updates as (arm, reward) with rewards in [0, 1]."""

eligible_sets = st.lists(st.sampled_from(ARMS), min_size=1, max_size=len(ARMS), unique=True)

parametrize_policies = pytest.mark.parametrize(
    "factory", ALL_POLICIES, ids=[factory.id for factory in ALL_POLICIES]
)

FIXED_HISTORY = [
    (ARMS[i % len(ARMS)], float(r))
    for i, r in enumerate(np.random.default_rng(3).uniform(0.2, 0.8, size=40))
]
"""Forty updates, ten per arm, with middling rewards: no arm is hopeless or certain."""


def fed(
    factory: PolicyFactory, history: Sequence[tuple[str, float]], arms: Sequence[str] = ARMS
) -> Policy:
    policy = factory.make(arms)
    x = factory.context(policy)
    for t, (arm, reward) in enumerate(history):
        policy.update(arm, reward, x, float(t))
    return policy


def choices(
    factory: PolicyFactory, policy: Policy, eligible: Sequence[str], n: int = 20
) -> list[Choice]:
    """The choices for decisions d-0 .. d-(n-1) of experiment seed SEED."""
    x = factory.context(policy)
    return [policy.choose(eligible, x, decision_rng(SEED, f"d-{i}")) for i in range(n)]


def assert_plain(value: Any, where: str = "state") -> None:
    """Only msgpack-plain values, with floats as Python floats (never numpy scalars)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert type(value) in (int, float, str, bytes, bool, type(None)), (
            f"{where}: {type(value).__name__}"
        )


@parametrize_policies
class TestChoose:
    @CONTRACT
    @given(history=histories, eligible=eligible_sets, seed=st.integers(0, 2**32 - 1))
    def test_chooses_an_eligible_arm(
        self,
        factory: PolicyFactory,
        history: list[tuple[str, float]],
        eligible: list[str],
        seed: int,
    ) -> None:
        """Whatever the history, the choice is one of the eligible arms, with propensity in (0, 1]."""
        policy = fed(factory, history)
        arm, propensity = policy.choose(eligible, factory.context(policy), decision_rng(seed, "d"))
        assert arm in eligible
        assert 0.0 < propensity <= 1.0

    @pytest.mark.parametrize("arm", ARMS)
    def test_single_eligible_arm_has_propensity_one(self, factory: PolicyFactory, arm: str) -> None:
        """With one eligible arm that arm is chosen with propensity exactly 1.0."""
        policy = fed(factory, FIXED_HISTORY)
        assert choices(factory, policy, [arm], n=3) == [(arm, 1.0)] * 3

    def test_choose_does_not_change_state(self, factory: PolicyFactory) -> None:
        """Choosing, however often, leaves the serialized state byte for byte as it was."""
        for history in ([], FIXED_HISTORY):
            policy = fed(factory, history)
            before = policy.to_bytes()
            choices(factory, policy, ARMS)
            choices(factory, policy, ARMS[1:3])
            assert policy.to_bytes() == before

    def test_same_decision_rng_same_choice(self, factory: PolicyFactory) -> None:
        """The same experiment seed and decision id reproduce the same choice and propensity."""
        policy = fed(factory, FIXED_HISTORY)
        assert choices(factory, policy, ARMS) == choices(factory, policy, ARMS)
        twin = fed(factory, FIXED_HISTORY)
        assert choices(factory, twin, ARMS) == choices(factory, policy, ARMS)

    @CONTRACT
    @given(eligible=eligible_sets, order=st.randoms(use_true_random=False))
    def test_eligible_order_does_not_matter(
        self, factory: PolicyFactory, eligible: list[str], order: Any
    ) -> None:
        """The choice depends on the set of eligible arms, not on the order the caller lists them in."""
        policy = fed(factory, FIXED_HISTORY)
        shuffled = list(eligible)
        order.shuffle(shuffled)
        assert choices(factory, policy, shuffled, n=3) == choices(factory, policy, eligible, n=3)

    def test_batch_equals_successive_chooses(self, factory: PolicyFactory) -> None:
        """choose_batch makes the choices choose would, with each decision's own generator or with one generator drawn from in turn."""
        policy = fed(factory, FIXED_HISTORY)
        x = factory.context(policy)
        contexts = [x] * 5
        own = [decision_rng(SEED, f"d-{i}") for i in range(5)]
        assert policy.choose_batch(ARMS, contexts, own) == choices(factory, policy, ARMS, n=5)
        shared = decision_rng(SEED, "batch")
        expected = [policy.choose(ARMS, x, shared) for _ in contexts]
        assert policy.choose_batch(ARMS, contexts, decision_rng(SEED, "batch")) == expected

    def test_bad_batch_raises(self, factory: PolicyFactory) -> None:
        """An empty batch, or a number of generators other than the number of decisions, raises ValueError."""
        policy = fed(factory, FIXED_HISTORY)
        x = factory.context(policy)
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by policy)
            policy.choose_batch(ARMS, [], decision_rng(SEED, "d"))
        with pytest.raises(ValueError, match="generators"):
            policy.choose_batch(ARMS, [x, x], [decision_rng(SEED, "d")])

    @pytest.mark.parametrize(
        "eligible", [[], ["zzz"], ["a", "zzz"]], ids=["empty", "unknown", "mixed"]
    )
    def test_bad_eligible_raises(self, factory: PolicyFactory, eligible: list[str]) -> None:
        """An empty eligible list or one naming an arm the policy lacks raises ValueError."""
        policy = fed(factory, FIXED_HISTORY)
        with pytest.raises(ValueError, match="arm"):
            policy.choose(eligible, factory.context(policy), decision_rng(SEED, "d"))


@parametrize_policies
class TestState:
    @CONTRACT
    @given(history=histories)
    def test_round_trip_is_identical(
        self, factory: PolicyFactory, history: list[tuple[str, float]]
    ) -> None:
        """from_bytes(to_bytes()) gives the same bytes, the same choices and the same future."""
        policy = fed(factory, history)
        copy = type(policy).from_bytes(policy.to_bytes())
        assert copy.to_bytes() == policy.to_bytes()
        assert choices(factory, copy, ARMS, n=5) == choices(factory, policy, ARMS, n=5)
        for p in (policy, copy):
            p.update("b", 0.25, factory.context(p), 1e9)
        assert copy.to_bytes() == policy.to_bytes()

    @CONTRACT
    @given(history=histories)
    def test_same_updates_same_bytes(
        self, factory: PolicyFactory, history: list[tuple[str, float]]
    ) -> None:
        """Two policies fed the same updates serialize to identical bytes."""
        assert fed(factory, history).to_bytes() == fed(factory, history).to_bytes()

    def test_integer_reward_folds_like_the_equal_float(self, factory: PolicyFactory) -> None:
        """A reward passed as int 1 gives the same bytes as 1.0, so digests do not depend on the caller's types."""
        as_int = fed(factory, [("a", 1), ("b", 0)])
        assert as_int.to_bytes() == fed(factory, [("a", 1.0), ("b", 0.0)]).to_bytes()

    def test_state_is_plain_values(self, factory: PolicyFactory) -> None:
        """state() holds only msgpack-plain values, floats as Python floats, and names the arms."""
        policy = fed(factory, FIXED_HISTORY)
        assert_plain(policy.state())
        assert msgspec.msgpack.decode(policy.to_bytes())["policy"] == policy.name

    def test_from_bytes_rejects_another_policy(self, factory: PolicyFactory) -> None:
        """Bytes written by another policy kind are refused, not misread."""
        data = msgspec.msgpack.encode({"policy": "not-" + factory.make(ARMS).name, "state": {}})
        with pytest.raises(ValueError, match="expected"):
            type(factory.make(ARMS)).from_bytes(data)


@parametrize_policies
class TestArms:
    def test_added_arm_starts_from_the_prior(self, factory: PolicyFactory) -> None:
        """Adding an arm to a fresh policy gives the bytes of a policy built with that arm."""
        policy = factory.make(ARMS[:3])
        policy.add_arm(ARMS[3])
        assert policy.to_bytes() == factory.make(ARMS).to_bytes()

    def test_added_arm_can_be_chosen(self, factory: PolicyFactory) -> None:
        """An arm added to a policy with history is chosen alone, and sometimes among the others."""
        policy = fed(factory, FIXED_HISTORY)
        policy.add_arm("new")
        assert choices(factory, policy, ["new"], n=1) == [("new", 1.0)]
        picked = {arm for arm, _ in choices(factory, policy, [*ARMS, "new"], n=100)}
        assert "new" in picked

    def test_adding_an_existing_arm_raises(self, factory: PolicyFactory) -> None:
        """Adding an arm the policy already has raises ValueError and changes nothing."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        with pytest.raises(ValueError, match="exists"):
            policy.add_arm("a")
        assert policy.to_bytes() == before

    def test_retired_arm_is_gone(self, factory: PolicyFactory) -> None:
        """A retired arm is never chosen again, cannot be eligible or updated, and survives no round trip."""
        policy = fed(factory, FIXED_HISTORY)
        policy.retire_arm("b")
        assert "b" not in {arm for arm, _ in choices(factory, policy, ["a", "c", "d"], n=100)}
        x = factory.context(policy)
        with pytest.raises(ValueError, match="arm"):
            policy.choose(ARMS, x, decision_rng(SEED, "d"))
        with pytest.raises(ValueError, match="arm"):
            policy.update("b", 0.5, x, 0.0)
        with pytest.raises(ValueError, match="arm"):
            policy.retire_arm("b")
        assert type(policy).from_bytes(policy.to_bytes()).arms == ["a", "c", "d"]

    def test_retiring_the_last_arm_raises(self, factory: PolicyFactory) -> None:
        """Retiring the only arm raises ValueError: a policy without arms could not be rebuilt."""
        policy = factory.make(["a"])
        with pytest.raises(ValueError, match="last arm"):
            policy.retire_arm("a")

    @CONTRACT
    @given(history=histories, eligible=eligible_sets, retired=st.sampled_from(ARMS))
    def test_ineligible_arms_never_chosen(
        self,
        factory: PolicyFactory,
        history: list[tuple[str, float]],
        eligible: list[str],
        retired: str,
    ) -> None:
        """Across decisions, histories and retirements only eligible arms are ever chosen."""
        policy = fed(factory, history)
        if retired not in eligible:
            policy.retire_arm(retired)
        assert {arm for arm, _ in choices(factory, policy, eligible, n=8)} <= set(eligible)


@parametrize_policies
class TestUpdate:
    @pytest.mark.parametrize("reward", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite_reward_raises(self, factory: PolicyFactory, reward: float) -> None:
        """A NaN or infinite reward raises ValueError and leaves the state unchanged."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        with pytest.raises(ValueError, match="reward"):
            policy.update("a", reward, factory.context(policy), 0.0)
        assert policy.to_bytes() == before

    def test_unknown_arm_raises(self, factory: PolicyFactory) -> None:
        """An update for an arm the policy does not have raises ValueError and changes nothing."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        with pytest.raises(ValueError, match="unknown arm"):
            policy.update("zzz", 0.5, factory.context(policy), 0.0)
        assert policy.to_bytes() == before

    def test_update_changes_state(self, factory: PolicyFactory) -> None:
        """Folding a reward changes the serialized state (the update is not silently dropped)."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        policy.update("a", 0.5, factory.context(policy), 0.0)
        assert policy.to_bytes() != before


@parametrize_policies
class TestForgetting:
    def test_reset_arm_puts_the_arm_back_at_the_prior(self, factory: PolicyFactory) -> None:
        """After reset_arm, what the policy keeps about that arm equals a fresh policy's."""
        policy = fed(factory, FIXED_HISTORY)
        policy.reset_arm("a")
        for arm in ARMS[1:]:
            policy.retire_arm(arm)
        assert policy.model.state() == factory.make(["a"]).model.state()

    def test_reset_arm_leaves_the_other_arms_alone(self, factory: PolicyFactory) -> None:
        """Resetting one arm changes nothing the policy keeps about the others."""
        policy, untouched = fed(factory, FIXED_HISTORY), fed(factory, FIXED_HISTORY)
        policy.reset_arm("a")
        for p in (policy, untouched):
            p.retire_arm("a")
        assert policy.model.state() == untouched.model.state()

    def test_down_weighting_changes_a_learnt_arm_and_not_a_fresh_one(
        self, factory: PolicyFactory
    ) -> None:
        """Down-weighting an arm with evidence changes the state; an arm at its prior stays."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        policy.down_weight_arm("a", 0.5)
        assert policy.to_bytes() != before
        fresh = factory.make(ARMS)
        fresh.down_weight_arm("a", 0.5)
        assert fresh.to_bytes() == factory.make(ARMS).to_bytes()

    @pytest.mark.parametrize("factor", [0.0, 1.0, -0.5, 2.0, float("nan")])
    def test_a_factor_outside_zero_one_is_refused(
        self, factory: PolicyFactory, factor: float
    ) -> None:
        """down_weight_arm takes a factor in (0, 1) only, and leaves the policy as it was."""
        policy = fed(factory, FIXED_HISTORY)
        before = policy.to_bytes()
        with pytest.raises(ValueError, match="factor"):
            policy.down_weight_arm("a", factor)
        assert policy.to_bytes() == before

    def test_down_weighted_evidence_is_overturned_sooner(self, factory: PolicyFactory) -> None:
        """After down-weighting a good arm, fewer bad outcomes make the policy leave it."""

        def bad_outcomes_until_abandoned(factor: float | None) -> int:
            policy = fed(factory, [("a", 1.0), ("b", 0.6)] * 30)
            if factor is not None:
                policy.down_weight_arm("a", factor)
            x = factory.context(policy)
            for n in range(1, 400):
                policy.update("a", 0.0, x, 100.0 + n)
                if sum(arm == "b" for arm, _ in choices(factory, policy, ["a", "b"])) >= 15:
                    return n
            return 400

        assert bad_outcomes_until_abandoned(0.1) < bad_outcomes_until_abandoned(None)


@parametrize_policies
class TestExploration:
    def test_a_factor_of_one_is_the_configured_policy(self, factory: PolicyFactory) -> None:
        """set_exploration(1) changes neither the bytes nor a single choice."""
        policy, untouched = fed(factory, FIXED_HISTORY), fed(factory, FIXED_HISTORY)
        policy.set_exploration(1.0)
        assert policy.to_bytes() == untouched.to_bytes()
        assert choices(factory, policy, ARMS) == choices(factory, untouched, ARMS)

    def test_raised_exploration_is_state_and_survives_bytes(self, factory: PolicyFactory) -> None:
        """A raised factor is in the state: rebuilt from bytes, the policy makes the same choices."""
        policy = fed(factory, FIXED_HISTORY)
        policy.set_exploration(4.0)
        rebuilt = type(policy).from_bytes(policy.to_bytes())
        assert rebuilt.exploration == 4.0
        assert choices(factory, rebuilt, ARMS) == choices(factory, policy, ARMS)

    @pytest.mark.parametrize("value", [0.5, 0.0, -1.0, float("nan"), float("inf")])
    def test_a_factor_below_one_is_refused(self, factory: PolicyFactory, value: float) -> None:
        """Exploration can be raised, not lowered below the configured policy."""
        policy = fed(factory, FIXED_HISTORY)
        with pytest.raises(ValueError, match="exploration"):
            policy.set_exploration(value)
        assert policy.exploration == 1.0

    def test_raised_exploration_tries_the_other_arms_more(self, factory: PolicyFactory) -> None:
        """With one arm clearly best, a factor of 20 sends more of 200 decisions elsewhere."""
        history = [("a", 1.0)] * 30 + [(arm, 0.0) for arm in ARMS[1:] for _ in range(10)]

        def elsewhere(exploration: float) -> int:
            policy = fed(factory, history)
            policy.set_exploration(exploration)
            return sum(arm != "a" for arm, _ in choices(factory, policy, ARMS, n=200))

        assert elsewhere(20.0) > elsewhere(1.0)
