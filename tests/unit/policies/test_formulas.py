"""Each policy computes the formula its docstring states, and rejects parameters it cannot use."""

from __future__ import annotations

import doctest
import math
import warnings
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pytest

from actors.policies import (
    beta_thompson,
    discounted_thompson,
    epsilon_greedy,
    gaussian_thompson,
    softmax,
    ucb1,
)
from actors.policies.base import Policy, decision_rng
from actors.policies.beta_thompson import BetaThompson
from actors.policies.discounted_thompson import DiscountedThompson
from actors.policies.epsilon_greedy import EpsilonGreedy
from actors.policies.gaussian_thompson import GaussianThompson
from actors.policies.softmax import Softmax
from actors.policies.ucb1 import UCB1

P = TypeVar("P", bound=Policy)


def feed(policy: P, updates: list[tuple[str, float]]) -> P:
    for t, (arm, reward) in enumerate(updates):
        policy.update(arm, reward, None, float(t))
    return policy


class TestBetaThompson:
    def test_fractional_rewards_are_fractional_successes(self) -> None:
        """A reward r adds r to the arm's successes and 1 - r to its failures."""
        policy = feed(BetaThompson(["a", "b"]), [("a", 0.25), ("a", 1.0), ("b", 0.0)])
        assert policy.state()["successes"] == [1.25, 0.0]
        assert policy.state()["failures"] == [0.75, 1.0]

    @pytest.mark.parametrize("reward", [-0.1, 1.5, 2.0])
    def test_reward_outside_unit_interval_raises(self, reward: float) -> None:
        """A reward outside [0, 1] would make the Beta posterior invalid, so it raises ValueError."""
        policy = BetaThompson(["a"])
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            policy.update("a", reward, None, 0.0)
        assert policy.state()["successes"] == [0.0]

    def test_posterior_concentrates(self) -> None:
        """After many successes on one arm and failures on another the first is always chosen."""
        policy = feed(BetaThompson(["a", "b"]), [("a", 1.0), ("b", 0.0)] * 100)
        picks = {policy.choose(["a", "b"], None, decision_rng(1, f"d{i}")) for i in range(50)}
        assert picks == {("a", 1.0)}


class TestDiscountedThompson:
    def test_every_update_discounts_every_arm(self) -> None:
        """Each update multiplies all arms' evidence by gamma before the played arm gets the reward."""
        policy = feed(
            DiscountedThompson(["a", "b"], gamma=0.5), [("a", 1.0), ("b", 0.0), ("b", 1.0)]
        )
        assert policy.state()["successes"] == [0.25, 1.0]
        assert policy.state()["failures"] == [0.0, 0.5]

    def test_gamma_one_is_plain_thompson(self) -> None:
        """With gamma = 1 the evidence and the choices are those of BetaThompson."""
        updates = [("a", 0.3), ("b", 0.9), ("a", 1.0), ("c", 0.0)] * 5
        discounted = feed(DiscountedThompson(["a", "b", "c"], gamma=1.0), updates)
        plain = feed(BetaThompson(["a", "b", "c"]), updates)
        assert discounted.state()["successes"] == plain.state()["successes"]
        assert discounted.state()["failures"] == plain.state()["failures"]
        for i in range(20):
            rng_d, rng_p = decision_rng(3, f"d{i}"), decision_rng(3, f"d{i}")
            assert discounted.choose(["a", "b", "c"], None, rng_d) == plain.choose(
                ["a", "b", "c"], None, rng_p
            )

    def test_evidence_is_bounded_and_neglected_arms_return_to_the_prior(self) -> None:
        """Total evidence stays below 1 / (1 - gamma) and an arm left alone decays to its prior."""
        policy = feed(DiscountedThompson(["a", "b"], gamma=0.9), [("b", 1.0)] + [("a", 1.0)] * 300)
        state = policy.state()
        assert sum(state["successes"]) + sum(state["failures"]) <= 1 / (1 - 0.9)
        assert state["successes"][1] < 1e-12

    @pytest.mark.parametrize("gamma", [0.0, -0.5, 1.01, math.nan])
    def test_gamma_outside_unit_interval_raises(self, gamma: float) -> None:
        """A discount outside (0, 1] raises ValueError."""
        with pytest.raises(ValueError, match="gamma"):
            DiscountedThompson(["a"], gamma=gamma)


class TestGaussianThompson:
    def test_sequential_update_equals_batch_posterior(self) -> None:
        """Folding rewards one by one gives the batch Normal-Inverse-Gamma posterior (Murphy 2007)."""
        mu0, kappa0, a0, b0 = 0.5, 2.0, 1.5, 0.8
        rewards = np.random.default_rng(0).normal(1.3, 2.0, size=50)
        policy = GaussianThompson(["a"], mu0=mu0, kappa0=kappa0, a0=a0, b0=b0)
        feed(policy, [("a", float(r)) for r in rewards])
        n, mean = rewards.size, rewards.mean()
        expected = {
            "kappa": kappa0 + n,
            "mu": (kappa0 * mu0 + n * mean) / (kappa0 + n),
            "a": a0 + n / 2,
            "b": b0
            + 0.5 * np.sum((rewards - mean) ** 2)
            + kappa0 * n * (mean - mu0) ** 2 / (2 * (kappa0 + n)),
        }
        for key, value in expected.items():
            assert policy.state()[key][0] == pytest.approx(value, rel=1e-12)

    def test_negative_and_large_rewards_are_accepted(self) -> None:
        """Continuous rewards of any sign and scale are folded, and the higher mean wins."""
        policy = feed(GaussianThompson(["cost", "gain"]), [("cost", -250.0), ("gain", 1e6)] * 30)
        picks = {
            policy.choose(["cost", "gain"], None, decision_rng(1, f"d{i}")).arm for i in range(30)
        }
        assert picks == {"gain"}

    @pytest.mark.parametrize(
        "params",
        [
            {"kappa0": 0.0},
            {"a0": -1.0},
            {"b0": math.inf},
            {"mu0": math.nan},
            {"propensity_samples": 0},
        ],
    )
    def test_invalid_prior_raises(self, params: dict[str, Any]) -> None:
        """A prior that is not a proper Normal-Inverse-Gamma distribution raises ValueError."""
        with pytest.raises(ValueError, match=next(iter(params))):
            GaussianThompson(["a"], **params)


class TestUCB1:
    def test_untried_arms_first_in_arm_order(self) -> None:
        """Untried eligible arms are played first, in arm order, whatever the others' means."""
        policy = feed(UCB1(["a", "b", "c", "d"]), [("c", 1.0)])
        assert policy.choose(["d", "c", "b"], None, decision_rng(0, "x")) == ("b", 1.0)

    @pytest.mark.parametrize(
        ("updates", "expected"),
        [
            ([("a", 1.0)] * 100 + [("b", 0.0)] * 100, "a"),
            ([("a", 1.0)] * 9 + [("a", 0.0), ("b", 1.0), ("b", 0.0)] + [("c", 0.0)] * 20, "b"),
        ],
        ids=["higher-mean-wins", "less-tried-wins"],
    )
    def test_index_is_mean_plus_confidence_width(
        self, updates: list[tuple[str, float]], expected: str
    ) -> None:
        """The chosen arm maximises mean + sqrt(2 ln N / n), with N counting every arm's updates."""
        policy = feed(UCB1(["a", "b", "c"]), updates)
        counts = {arm: sum(1 for a, _ in updates if a == arm) for arm in ("a", "b")}
        means = {arm: sum(r for a, r in updates if a == arm) / counts[arm] for arm in ("a", "b")}
        index = {
            arm: means[arm] + math.sqrt(2 * math.log(len(updates)) / counts[arm])
            for arm in ("a", "b")
        }
        assert max(index, key=index.__getitem__) == expected
        assert policy.choose(["a", "b"], None, decision_rng(0, "x")) == (expected, 1.0)

    def test_ties_go_to_the_first_arm(self) -> None:
        """Arms with equal indices are broken by arm order, not by the generator."""
        policy = feed(UCB1(["a", "b", "c"]), [("a", 0.5), ("b", 0.5), ("c", 0.5)])
        assert {policy.choose(["c", "b"], None, decision_rng(0, f"d{i}")) for i in range(10)} == {
            ("b", 1.0)
        }

    def test_scale_widens_the_bonus(self) -> None:
        """With scale c the bonus is c times wider, so a less-tried arm with a lower mean can win."""
        updates = [("a", 0.6)] * 50 + [("b", 0.4)] * 5
        assert (
            feed(UCB1(["a", "b"], scale=0.1), updates)
            .choose(["a", "b"], None, decision_rng(0, "x"))
            .arm
            == "a"
        )
        assert (
            feed(UCB1(["a", "b"], scale=1.0), updates)
            .choose(["a", "b"], None, decision_rng(0, "x"))
            .arm
            == "b"
        )


class TestEpsilonGreedy:
    @pytest.mark.parametrize(
        ("params", "updates", "expected"),
        [
            ({"epsilon": 0.1}, 1000, 0.1),
            ({"epsilon": 0.8, "decay": 0.5}, 6, 0.8 / 4),
            ({"epsilon": 0.8, "decay": 0.5, "min_epsilon": 0.3}, 6, 0.3),
        ],
    )
    def test_schedule(self, params: dict[str, Any], updates: int, expected: float) -> None:
        """epsilon_t = max(min_epsilon, epsilon / (1 + decay * t)) with t the number of updates."""
        policy = feed(EpsilonGreedy(["a", "b"], **params), [("a", 0.5)] * updates)
        assert policy.current_epsilon == pytest.approx(expected)

    def test_zero_epsilon_is_greedy_with_propensity_one(self) -> None:
        """With epsilon 0 the best mean is always chosen, with propensity 1."""
        policy = feed(
            EpsilonGreedy(["a", "b", "c"], epsilon=0.0), [("a", 0.2), ("b", 0.9), ("c", 0.5)]
        )
        assert {
            policy.choose(["a", "b", "c"], None, decision_rng(0, f"d{i}")) for i in range(20)
        } == {("b", 1.0)}

    def test_untried_arm_is_greedy(self) -> None:
        """An untried arm counts as the best, so each arm is tried once before exploiting."""
        policy = feed(EpsilonGreedy(["a", "b"], epsilon=0.0), [("a", 1.0)])
        assert policy.choose(["a", "b"], None, decision_rng(0, "x")) == ("b", 1.0)

    @pytest.mark.parametrize("params", [{"epsilon": 1.5}, {"min_epsilon": -0.1}, {"decay": -1.0}])
    def test_invalid_parameters_raise(self, params: dict[str, Any]) -> None:
        """A rate outside [0, 1] or a negative decay raises ValueError."""
        with pytest.raises(ValueError, match=next(iter(params))):
            EpsilonGreedy(["a"], **params)


class TestSoftmax:
    def test_probabilities_follow_the_boltzmann_formula(self) -> None:
        """p_k is proportional to exp(mean_k / tau) over the eligible arms."""
        policy = feed(
            Softmax(["a", "b", "c"], temperature=0.25, decay=0.0),
            [("a", 0.2), ("b", 0.5), ("c", 0.9)],
        )
        weights = np.exp(np.array([0.2, 0.9]) / 0.25)
        assert policy.probabilities(["c", "a"]) == pytest.approx(
            dict(zip(["a", "c"], weights / weights.sum(), strict=True))
        )

    def test_temperature_cools_with_updates(self) -> None:
        """tau_t = max(min_temperature, temperature / (1 + decay * t))."""
        policy = feed(
            Softmax(["a"], temperature=1.0, decay=0.1, min_temperature=0.3), [("a", 0.0)] * 10
        )
        assert policy.current_temperature == pytest.approx(0.5)
        feed(policy, [("a", 0.0)] * 100)
        assert policy.current_temperature == 0.3

    def test_extreme_means_do_not_overflow(self) -> None:
        """Means thousands of temperatures apart give probabilities 1 and 0, without warnings."""
        policy = feed(Softmax(["a", "b"], temperature=0.01, decay=0.0), [("a", 1e3), ("b", -1e3)])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert policy.probabilities(["a", "b"]) == {"a": 1.0, "b": 0.0}
            assert {
                policy.choose(["a", "b"], None, decision_rng(0, f"d{i}")) for i in range(20)
            } == {("a", 1.0)}

    def test_untried_arms_share_the_probability(self) -> None:
        """While eligible arms are untried, they and only they are chosen, uniformly."""
        policy = feed(Softmax(["a", "b", "c"]), [("a", 1.0)])
        assert policy.probabilities(["a", "b", "c"]) == {"a": 0.0, "b": 0.5, "c": 0.5}

    @pytest.mark.parametrize(
        "params", [{"temperature": 0.0}, {"decay": -0.1}, {"min_temperature": math.inf}]
    )
    def test_invalid_parameters_raise(self, params: dict[str, Any]) -> None:
        """A non-positive temperature, a negative decay or an infinite floor raises ValueError."""
        with pytest.raises(ValueError, match=next(iter(params))):
            Softmax(["a"], **params)


class TestDocstrings:
    @pytest.mark.parametrize(
        "module",
        [beta_thompson, discounted_thompson, gaussian_thompson, ucb1, epsilon_greedy, softmax],
        ids=lambda module: module.__name__.rsplit(".", 1)[-1],
    )
    def test_docstring_examples_run(self, module: ModuleType) -> None:
        """The runnable example in each policy's docstring gives the output it shows."""
        result = doctest.testmod(module, verbose=False, report=False)
        assert result.attempted > 0
        assert result.failed == 0
