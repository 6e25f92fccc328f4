"""SquareCB: the inverse-gap weights, exact propensities, the gamma schedule, learning."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from actors.policies.base import decision_rng
from actors.policies.squarecb import SquareCB

ARMS = ("a", "b", "c")
X = np.array([1.0, 0.5])


def fitted(gamma_scale: float = 10.0) -> SquareCB:
    """A fixed model whose predicted rewards at X differ by a few hundredths."""
    policy = SquareCB(ARMS, dim=2, gamma_scale=gamma_scale)
    for t in range(6):
        x = np.array([1.0, t / 5])
        for arm, reward in zip(ARMS, (0.6, 0.5, 0.3), strict=True):
            policy.update(arm, reward, x, at=float(t))
    return policy


class TestWeights:
    def test_probabilities_follow_the_inverse_gap_formula(self) -> None:
        """Every non-greedy arm gets 1 / (K + gamma * gap) and the greedy arm the rest."""
        policy = fitted()
        predicted = {arm: float(policy.statistics(arm).theta @ X) for arm in ARMS}
        best = max(ARMS, key=lambda arm: predicted[arm])
        gamma = 10.0 * 18**0.5  # 18 folded outcomes
        assert policy.gamma == pytest.approx(gamma)
        expected = {
            arm: 1.0 / (3 + gamma * (predicted[best] - predicted[arm]))
            for arm in ARMS
            if arm != best
        }
        expected[best] = 1.0 - sum(expected.values())
        assert policy.probabilities(list(ARMS), X) == pytest.approx(expected, abs=1e-12)

    def test_untrained_policy_is_uniform(self) -> None:
        """With nothing folded gamma is 0, so every eligible arm is equally likely."""
        policy = SquareCB(ARMS, dim=2)
        assert policy.probabilities(["a", "c"], X) == pytest.approx({"a": 0.5, "c": 0.5})

    def test_exploration_shrinks_as_outcomes_accumulate(self) -> None:
        """The greedy arm's probability grows with the number of folded outcomes."""
        shares = []
        for rounds in (2, 20, 200):
            policy = SquareCB(ARMS, dim=1)
            for t in range(rounds):
                for arm, reward in zip(ARMS, (0.6, 0.5, 0.3), strict=True):
                    policy.update(arm, reward, np.ones(1), at=float(t))
            shares.append(policy.probabilities(list(ARMS), np.ones(1))["a"])
        assert shares[0] < shares[1] < shares[2]

    def test_raised_exploration_divides_gamma(self) -> None:
        """An exploration factor of 4 is the same policy with a quarter of the gamma."""
        policy = fitted()
        before = policy.gamma
        policy.set_exploration(4.0)
        assert policy.gamma == pytest.approx(before / 4)

    def test_bad_parameters_are_refused(self) -> None:
        """A negative gamma scale or exponent is refused with the parameter's name."""
        with pytest.raises(ValueError, match="gamma_scale"):
            SquareCB(ARMS, dim=2, gamma_scale=-1.0)
        with pytest.raises(ValueError, match="gamma_exponent"):
            SquareCB(ARMS, dim=2, gamma_exponent=-0.5)


class TestPropensity:
    def test_frequencies_match_the_reported_propensities(self) -> None:
        """Over 20,000 seeded decisions each arm's frequency is within 0.01 of its exact propensity."""
        policy = fitted(gamma_scale=0.5)
        reported: dict[str, set[float]] = {arm: set() for arm in ARMS}
        counts: Counter[str] = Counter()
        for i in range(20_000):
            choice = policy.choose(list(ARMS), X, decision_rng(3, f"d-{i}"))
            counts[choice.arm] += 1
            reported[choice.arm].add(choice.propensity)
        probabilities = policy.probabilities(list(ARMS), X)
        for arm in ARMS:
            assert reported[arm] == {probabilities[arm]}
            assert abs(counts[arm] / 20_000 - probabilities[arm]) <= 0.01

    def test_batch_equals_successive_chooses(self) -> None:
        """A batch on one generator makes the choices successive chooses on it make."""
        policy = fitted()
        contexts = np.array([[1.0, u] for u in np.linspace(-1, 1, 9)])
        batch = policy.choose_batch(list(ARMS), contexts, np.random.default_rng(4))
        rng = np.random.default_rng(4)
        assert batch == [policy.choose(list(ARMS), x, rng) for x in contexts]


THETA = np.array(
    [
        [0.5, 0.4, 0.0, 0.0],
        [0.5, -0.4, 0.3, 0.0],
        [0.4, 0.0, -0.3, 0.4],
    ]
)
"""Expected reward of arm k is THETA[k] . x for x = (1, u1, u2, u3), u ~ U(-1, 1): no arm is
best in more than 41% of contexts, so the policy must read x to do well."""


class TestLearning:
    def test_learns_a_context_dependent_best_arm(self) -> None:
        """It picks the per-context best arm in >= 85% of rounds 2,501-3,000; its regret shrinks."""
        # Seeds 0-4: 94.6-97.6% best arm in the last 500 rounds; regret over the first 1,000
        # rounds 2.9-4.7x that over the last 1,000.
        policy = SquareCB(["a", "b", "c"], dim=4)
        env = np.random.default_rng(0)
        best, regret = [], []
        for t in range(3000):
            x = np.concatenate([[1.0], env.uniform(-1.0, 1.0, size=3)])
            means = THETA @ x
            choice = policy.choose(policy.arms, x, decision_rng(0, f"d-{t}"))
            k = policy.arms.index(choice.arm)
            best.append(k == int(means.argmax()))
            regret.append(float(means.max() - means[k]))
            policy.update(choice.arm, float(means[k] + 0.3 * env.normal()), x, at=float(t))
        assert np.mean(best[-500:]) >= 0.85
        assert sum(regret[-1000:]) < sum(regret[:1000]) / 2.5
