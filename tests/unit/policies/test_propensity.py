"""Reported propensities are the probabilities with which the policies really choose.

Off-policy evaluation divides by these numbers, so they are checked against the empirical
choice frequencies of many seeded decisions from one fixed state.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from actors.policies.base import Policy
from actors.policies.beta_thompson import BetaThompson
from actors.policies.discounted_thompson import DiscountedThompson
from actors.policies.epsilon_greedy import EpsilonGreedy
from actors.policies.gaussian_thompson import GaussianThompson
from actors.policies.softmax import Softmax

ARMS = ("a", "b", "c", "d")
ELIGIBLE = ("a", "b", "c")
"""Arm d is never eligible here, so its history must not leak into the distribution."""
HISTORY = {"a": [0.5, 0.6, 0.55], "b": [0.7, 0.5, 0.65], "c": [0.3, 0.45, 0.4], "d": [1.0] * 3}
"""Close means, so that every eligible arm has a sizeable probability of being chosen."""


def fed(make: Callable[[Sequence[str]], Policy]) -> Policy:
    policy = make(ARMS)
    for i in range(3):
        for arm, rewards in HISTORY.items():
            policy.update(arm, rewards[i], None, float(i))
    return policy


def with_samples(policy: Policy, samples: int) -> Policy:
    """The same policy state with another number of Monte-Carlo propensity samples."""
    state = policy.state()
    return type(policy).from_state(
        {**state, "params": {**state["params"], "propensity_samples": samples}}
    )


def draw(policy: Policy, n: int, seed: int = 5) -> tuple[Counter[str], dict[str, list[float]]]:
    """Arm counts and the propensities reported for each arm over n decisions."""
    rng = np.random.default_rng(seed)
    counts: Counter[str] = Counter()
    reported: dict[str, list[float]] = {arm: [] for arm in ELIGIBLE}
    for _ in range(n):
        arm, propensity = policy.choose(ELIGIBLE, None, rng)
        counts[arm] += 1
        reported[arm].append(propensity)
    return counts, reported


class TestExactPropensities:
    @pytest.mark.parametrize(
        "make",
        [
            lambda arms: EpsilonGreedy(arms, epsilon=0.3),
            lambda arms: EpsilonGreedy(arms, epsilon=0.9, decay=0.05, min_epsilon=0.2),
            Softmax,
        ],
        ids=["epsilon_greedy", "epsilon_greedy_decay", "softmax"],
    )
    def test_frequencies_match_propensities(self, make: Callable[[Sequence[str]], Policy]) -> None:
        """Over 20,000 seeded decisions each arm's frequency is within 0.01 of the one propensity reported for it."""
        counts, reported = draw(fed(make), 20_000)
        for arm in ELIGIBLE:
            assert len(set(reported[arm])) == 1, "an exact propensity is the same every time"
            assert abs(counts[arm] / 20_000 - reported[arm][0]) <= 0.01
        assert sum(reported[arm][0] for arm in ELIGIBLE) == pytest.approx(1.0)

    def test_softmax_reports_its_probabilities(self) -> None:
        """Softmax reports exactly the probability its distribution gives the chosen arm."""
        policy = fed(Softmax)
        assert isinstance(policy, Softmax)
        probabilities = policy.probabilities(ELIGIBLE)
        _, reported = draw(policy, 200)
        assert {arm: values[0] for arm, values in reported.items() if values} == {
            arm: p for arm, p in probabilities.items() if reported[arm]
        }


MONTE_CARLO: dict[str, Callable[[Sequence[str]], Policy]] = {
    "thompson_beta": BetaThompson,
    "thompson_gaussian": GaussianThompson,
    "thompson_discounted": lambda arms: DiscountedThompson(arms, gamma=0.9),
}


@functools.cache
def frequencies(name: str) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Choice frequencies and reported propensities of 3,000 decisions (shared by two tests)."""
    counts, reported = draw(fed(MONTE_CARLO[name]), 3_000)
    return {arm: counts[arm] / 3_000 for arm in ELIGIBLE}, reported


class TestMonteCarloPropensities:
    @pytest.mark.parametrize("name", MONTE_CARLO)
    def test_estimates_match_frequencies(self, name: str) -> None:
        """Averaged per arm over 3,000 decisions, the Monte-Carlo propensity is within 0.05 of the arm's frequency."""
        # Standard error of a frequency here is at most 0.009, of a single estimate 0.03.
        frequency, reported = frequencies(name)
        for arm in ELIGIBLE:
            assert frequency[arm] >= 0.05, "every arm must be chosen often enough to compare"
            assert abs(np.mean(reported[arm]) - frequency[arm]) <= 0.05

    @pytest.mark.parametrize("name", MONTE_CARLO)
    def test_each_estimate_is_close_with_many_samples(self, name: str) -> None:
        """With 4,096 samples every single estimate is within 0.05 of the frequency (four standard errors)."""
        frequency, _ = frequencies(name)
        _, reported = draw(with_samples(fed(MONTE_CARLO[name]), 4096), 60, seed=6)
        for arm in ELIGIBLE:
            for estimate in reported[arm]:
                assert abs(estimate - frequency[arm]) <= 0.05

    @pytest.mark.parametrize("name", MONTE_CARLO)
    def test_estimate_is_never_zero(self, name: str) -> None:
        """An arm that rarely wins gets at least 1 / (samples + 1) when chosen, even if no sample favoured it."""
        policy = MONTE_CARLO[name](["strong", "weak"])
        for t in range(10):
            policy.update("strong", float(t % 2), None, float(t))
            policy.update("weak", float(t % 5 == 0), None, float(t))
        policy = with_samples(policy, 16)
        weak = [
            choice.propensity
            for seed in range(1_000)
            if (choice := policy.choose(["strong", "weak"], None, np.random.default_rng(seed))).arm
            == "weak"
        ]
        assert 10 <= len(weak) <= 300
        assert min(weak) >= 1 / 17
