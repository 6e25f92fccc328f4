"""LinUCB: the Sherman-Morrison bookkeeping, the UCB formula, batching, state, arms, learning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.policies.base import Choice, decision_rng
from actors.policies.linucb import LinUCB
from tests.strategies import DETERMINISTIC

ARMS = ("a", "b", "c")
RNG = np.random.default_rng(0)
"""LinUCB never draws; the tests pass a generator only because the contract asks for one."""

coordinates = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_subnormal=False)
rewards = st.floats(min_value=-5, max_value=5, allow_nan=False, allow_subnormal=False)
histories = st.lists(
    st.tuples(st.sampled_from(ARMS), rewards, st.lists(coordinates, min_size=3, max_size=3)),
    max_size=40,
)
"""Updates of a 3-arm, d = 3 policy: (arm, reward, context)."""


def train(policy: LinUCB, updates: int, seed: int = 1) -> LinUCB:
    """Fold ``updates`` random observations into ``policy``, round-robin over its arms."""
    rng = np.random.default_rng(seed)
    for t in range(updates):
        arm = policy.arms[t % len(policy.arms)]
        policy.update(arm, float(rng.normal()), rng.normal(size=policy.dim), at=float(t))
    return policy


class TestShermanMorrison:
    def test_inverse_tracks_exact_inverse(self) -> None:
        """After 1,000 updates without refresh the kept inverse equals np.linalg.inv(A) within 1e-9."""
        d = 16
        policy = LinUCB(ARMS, dim=d, ridge=0.5, refresh_every=None)
        rng = np.random.default_rng(3)
        gram = {arm: 0.5 * np.eye(d) for arm in ARMS}
        b = {arm: np.zeros(d) for arm in ARMS}
        for t in range(1000):
            arm = ARMS[int(rng.integers(3))]
            x, reward = rng.normal(size=d) * rng.uniform(0.1, 3.0), float(rng.normal())
            policy.update(arm, reward, x, at=float(t))
            gram[arm] += np.outer(x, x)
            b[arm] += reward * x
        for arm in ARMS:
            model = policy.statistics(arm)
            np.testing.assert_allclose(model.gram, gram[arm], rtol=1e-12)
            np.testing.assert_allclose(model.b, b[arm], rtol=1e-12, atol=1e-12)
            assert np.abs(model.gram_inverse - np.linalg.inv(model.gram)).max() < 1e-9
            np.testing.assert_allclose(model.theta, np.linalg.solve(model.gram, model.b), atol=1e-9)
        assert sum(policy.statistics(arm).updates for arm in ARMS) == 1000

    @DETERMINISTIC
    @given(history=histories)
    def test_inverse_stays_symmetric(self, history: list[tuple[str, float, list[float]]]) -> None:
        """The kept inverse is exactly symmetric after any sequence of updates."""
        policy = LinUCB(ARMS, dim=3, refresh_every=None)
        for t, (arm, reward, x) in enumerate(history):
            policy.update(arm, reward, np.array(x), at=float(t))
        for arm in ARMS:
            inverse = policy.statistics(arm).gram_inverse
            assert np.array_equal(inverse, inverse.T)

    def test_refresh_reinverts_on_schedule(self) -> None:
        """Every refresh_every updates of an arm its inverse is recomputed from A and symmetrised."""
        policy = train(LinUCB(["a"], dim=4, refresh_every=10), 9)
        before = policy.statistics("a").gram_inverse
        train(policy, 1, seed=2)
        model = policy.statistics("a")
        exact = np.linalg.inv(model.gram)
        assert model.updates == 10
        assert np.array_equal(model.gram_inverse, (exact + exact.T) / 2)
        assert not np.array_equal(before, model.gram_inverse)

    def test_refresh_is_counted_per_arm(self) -> None:
        """Updates of one arm do not bring another arm's refresh forward."""
        policy = LinUCB(["a", "b"], dim=2, refresh_every=3)
        for t in range(5):
            policy.update("a", 1.0, np.array([1.0, float(t)]), at=float(t))
        policy.update("b", 1.0, np.array([1.0, 2.0]), at=6.0)
        assert (policy.statistics("a").updates, policy.statistics("b").updates) == (5, 1)


class TestScores:
    def test_hand_computed_case(self) -> None:
        """Scores equal theta.x + alpha * sqrt(x^T A^-1 x) worked out by hand for d = 2."""
        policy = LinUCB(["a", "b"], dim=2, alpha=0.5)
        policy.update("a", 1.0, np.array([1.0, 0.0]), at=0.0)
        policy.update("a", 0.0, np.array([1.0, 1.0]), at=1.0)
        # A = [[3, 1], [1, 2]], A^-1 = [[2, -1], [-1, 3]] / 5, b = (1, 0), theta = (0.4, -0.2).
        np.testing.assert_allclose(policy.statistics("a").theta, [0.4, -0.2])
        scores = policy.scores(np.array([0.0, 1.0]))
        assert scores["a"] == pytest.approx(-0.2 + 0.5 * math.sqrt(0.6), abs=1e-12)
        assert scores["b"] == pytest.approx(0.5, abs=1e-12)  # prior: 0 + alpha * ||x||
        assert policy.choose(["a", "b"], np.array([0.0, 1.0]), RNG) == Choice("b", 1.0)
        assert policy.choose(["a", "b"], np.array([1.0, 0.0]), RNG) == Choice("a", 1.0)

    @pytest.mark.parametrize("ridge", [0.25, 1.0, 4.0])
    def test_prior_score_is_scaled_norm(self, ridge: float) -> None:
        """An untrained arm scores alpha * ||x|| / sqrt(lambda)."""
        policy = LinUCB(["a"], dim=3, alpha=2.0, ridge=ridge)
        assert policy.scores(np.array([1.0, 2.0, 2.0]))["a"] == pytest.approx(
            2.0 * 3.0 / math.sqrt(ridge)
        )

    @pytest.mark.parametrize(
        ("eligible", "expected"),
        [(["a", "b", "c"], "a"), (["c", "b", "a"], "a"), (["c", "b"], "b"), (["c"], "c")],
    )
    def test_ties_go_to_arm_order(self, eligible: list[str], expected: str) -> None:
        """Equal scores go to the eligible arm listed first in the policy, whatever the request's order."""
        policy = LinUCB(ARMS, dim=2)
        assert policy.choose(eligible, np.array([1.0, 0.5]), RNG) == Choice(expected, 1.0)

    def test_choice_ignores_the_generator(self) -> None:
        """The choice is the same whatever generator is passed, and none is drawn from."""
        policy = train(LinUCB(ARMS, dim=4), 60)
        x = np.array([0.3, -1.0, 0.2, 0.9])
        rng = decision_rng(7, "d-1")
        before = rng.bit_generator.state
        choices = {policy.choose(ARMS, x, decision_rng(seed, "d")) for seed in range(5)}
        assert len(choices) == 1
        policy.choose(ARMS, x, rng)
        assert rng.bit_generator.state == before


class TestBatch:
    @pytest.mark.parametrize("eligible", [ARMS, ("c", "a"), ("b",)])
    def test_batch_equals_per_row_choose(self, eligible: tuple[str, ...]) -> None:
        """choose_batch gives, row by row, the choice choose makes for that context."""
        policy = train(LinUCB(ARMS, dim=16), 300)
        X = np.random.default_rng(5).normal(size=(200, 16))
        batch = policy.choose_batch(eligible, X, RNG)
        assert batch == [policy.choose(eligible, x, RNG) for x in X]
        assert len({choice.arm for choice in batch}) == len(eligible)

    def test_batch_accepts_one_generator_per_row(self) -> None:
        """A batch may carry each decision's own generator, one per row."""
        policy = train(LinUCB(ARMS, dim=3), 30)
        X = np.random.default_rng(6).normal(size=(4, 3))
        rngs = [decision_rng(1, f"d-{i}") for i in range(4)]
        assert policy.choose_batch(ARMS, X, rngs) == policy.choose_batch(ARMS, X, RNG)

    @pytest.mark.parametrize(
        ("X", "rng"),
        [
            (np.zeros((2, 4)), RNG),
            (np.zeros((0, 3)), RNG),
            (np.zeros(3), RNG),
            (np.array([[np.nan, 0.0, 0.0]]), RNG),
            (np.zeros((2, 3)), [RNG]),
        ],
        ids=["wrong-dim", "no-rows", "one-dimensional", "nan", "generator-count"],
    )
    def test_bad_batches_are_refused(self, X: np.ndarray, rng: Any) -> None:
        """A batch of the wrong shape, with a non-finite value or the wrong number of generators is refused."""
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
            LinUCB(ARMS, dim=3).choose_batch(ARMS, X, rng)


class TestState:
    def test_round_trip_is_byte_identical(self) -> None:
        """A policy rebuilt from its bytes has the same bytes, chooses alike and learns alike."""
        policy = train(LinUCB(ARMS, dim=5, alpha=0.7, ridge=2.0, refresh_every=7), 50)
        copy = LinUCB.from_bytes(policy.to_bytes())
        assert copy.to_bytes() == policy.to_bytes()
        assert (copy.alpha, copy.ridge, copy.refresh_every, copy.arms) == (0.7, 2.0, 7, list(ARMS))
        X = np.random.default_rng(9).normal(size=(50, 5))
        assert copy.choose_batch(ARMS, X, RNG) == policy.choose_batch(ARMS, X, RNG)
        train(policy, 20, seed=4)
        train(copy, 20, seed=4)
        assert copy.to_bytes() == policy.to_bytes()

    @DETERMINISTIC
    @given(history=histories)
    def test_identical_histories_give_identical_bytes(
        self, history: list[tuple[str, float, list[float]]]
    ) -> None:
        """Two policies that fold the same updates, one restored from bytes halfway, end byte-identical."""
        live = LinUCB(ARMS, dim=3, refresh_every=5)
        half = len(history) // 2
        for t, (arm, reward, x) in enumerate(history[:half]):
            live.update(arm, reward, np.array(x), at=float(t))
        restored = LinUCB.from_bytes(live.to_bytes())
        for t, (arm, reward, x) in enumerate(history[half:]):
            live.update(arm, reward, np.array(x), at=float(t))
            restored.update(arm, reward, np.array(x), at=float(t))
        assert restored.to_bytes() == live.to_bytes()

    def test_choose_does_not_change_state(self) -> None:
        """Choosing, singly or in a batch, leaves the policy's bytes unchanged."""
        policy = train(LinUCB(ARMS, dim=4), 40)
        before = policy.to_bytes()
        policy.choose(ARMS, np.ones(4), RNG)
        policy.choose_batch(ARMS, np.ones((3, 4)), RNG)
        assert policy.to_bytes() == before

    def test_other_policy_state_is_refused(self) -> None:
        """Bytes written by another policy kind are refused by name."""
        data = LinUCB(ARMS, dim=2).to_bytes().replace(b"linucb", b"linucX")
        with pytest.raises(ValueError, match="linucX"):
            LinUCB.from_bytes(data)


class TestArms:
    def test_added_arm_starts_at_the_prior(self) -> None:
        """An arm added to a trained policy starts from A = lambda I, b = 0 and leaves the others as they were."""
        policy = train(LinUCB(ARMS, dim=3, ridge=2.0), 90)
        before = {arm: policy.statistics(arm) for arm in ARMS}
        policy.add_arm("d")
        model = policy.statistics("d")
        assert np.array_equal(model.gram, 2.0 * np.eye(3))
        assert np.array_equal(model.gram_inverse, 0.5 * np.eye(3))
        assert (model.b.tolist(), model.theta.tolist(), model.updates) == ([0.0] * 3, [0.0] * 3, 0)
        for arm in ARMS:
            assert np.array_equal(policy.statistics(arm).gram_inverse, before[arm].gram_inverse)
        assert policy.arms == [*ARMS, "d"]

    def test_added_arm_is_tried_by_optimism(self) -> None:
        """A new arm's wide confidence bound wins over trained arms whose rewards were 0."""
        policy = LinUCB(ARMS, dim=2)
        for t in range(30):
            for arm in ARMS:
                policy.update(arm, 0.0, np.array([1.0, t % 3 - 1.0]), at=float(t))
        policy.add_arm("new")
        assert policy.choose([*ARMS, "new"], np.array([1.0, 0.0]), RNG).arm == "new"

    def test_retired_arm_is_never_chosen(self) -> None:
        """A retired arm is gone: not chosen, not eligible, not updatable; re-adding it starts over."""
        policy = train(LinUCB(ARMS, dim=2), 30)
        kept = {arm: policy.statistics(arm).theta for arm in ("a", "c")}
        policy.retire_arm("b")
        assert policy.arms == ["a", "c"]
        X = np.random.default_rng(2).normal(size=(100, 2))
        assert {choice.arm for choice in policy.choose_batch(["a", "c"], X, RNG)} <= {"a", "c"}
        for arm in ("a", "c"):
            assert np.array_equal(policy.statistics(arm).theta, kept[arm])
        with pytest.raises(ValueError, match="unknown arms"):
            policy.choose(["a", "b"], X[0], RNG)
        with pytest.raises(ValueError, match="unknown arm"):
            policy.update("b", 1.0, X[0], at=0.0)
        policy.add_arm("b")
        assert policy.statistics("b").updates == 0

    @pytest.mark.parametrize(
        ("change", "match"),
        [
            (lambda p: p.add_arm("a"), "already exists"),
            (lambda p: p.retire_arm("zz"), "unknown arm"),
            (lambda p: (p.retire_arm("b"), p.retire_arm("c"), p.retire_arm("a")), "last arm"),
        ],
        ids=["duplicate", "unknown", "last"],
    )
    def test_bad_arm_changes_are_refused(self, change: Any, match: str) -> None:
        """Adding an existing arm, retiring an unknown one or retiring the last one is refused."""
        with pytest.raises(ValueError, match=match):
            change(LinUCB(ARMS, dim=2))


class TestValidation:
    @pytest.mark.parametrize(
        "params",
        [
            {"dim": 0},
            {"dim": 2.0},
            {"dim": 2, "alpha": -1.0},
            {"dim": 2, "ridge": 0.0},
            {"dim": 2, "ridge": math.inf},
            {"dim": 2, "refresh_every": 0},
        ],
    )
    def test_bad_parameters_are_refused(self, params: dict[str, Any]) -> None:
        """A non-positive dimension or ridge, a negative alpha or a zero refresh interval is refused."""
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
            LinUCB(ARMS, **params)

    @pytest.mark.parametrize(
        ("reward", "x"),
        [(math.nan, [1.0, 0.0]), (1.0, [math.inf, 0.0]), (1.0, [1.0]), (1.0, None)],
        ids=["nan-reward", "inf-context", "short-context", "no-context"],
    )
    def test_bad_updates_change_nothing(self, reward: float, x: list[float] | None) -> None:
        """An update with a non-finite reward or a missing, short or non-finite context is refused untouched."""
        policy = train(LinUCB(ARMS, dim=2), 10)
        before = policy.to_bytes()
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
            policy.update("a", reward, None if x is None else np.array(x), at=0.0)
        assert policy.to_bytes() == before


THETA = np.array(
    [
        [0.5, 0.4, 0.0, 0.0],
        [0.5, -0.4, 0.3, 0.0],
        [0.4, 0.0, -0.3, 0.4],
    ]
)
"""Expected reward of each arm is THETA[arm] . x for x = (1, u1, u2, u3), u ~ U(-1, 1): no arm
is best in more than 41% of contexts, so a policy must read x to do well."""


def play(policy: LinUCB, rounds: int, seed: int, noise: float) -> tuple[list[bool], list[float]]:
    """Run ``policy`` on the synthetic problem; per round: was the best arm chosen, and regret."""
    env = np.random.default_rng(seed)
    arms = list(policy.arms)
    best, regret = [], []
    for t in range(rounds):
        x = np.concatenate([[1.0], env.uniform(-1.0, 1.0, size=3)])
        means = THETA @ x
        k = arms.index(policy.choose(arms, x, decision_rng(seed, f"d-{t}")).arm)
        best.append(bool(k == means.argmax()))
        regret.append(float(means.max() - means[k]))
        policy.update(arms[k], float(means[k] + noise * env.normal()), x, at=float(t))
    return best, regret


class TestLearning:
    def test_learns_a_context_dependent_best_arm(self) -> None:
        """With default alpha, LinUCB picks the per-context best arm in >= 85% of rounds 2,501-3,000 and its regret shrinks."""
        # Reward noise sd 0.3. Over seeds 0-9: 95.0-98.6% best arm in the last 500 rounds, and
        # regret over the first 1,000 rounds 7.6-31x that over the last 1,000.
        best, regret = play(LinUCB(["a", "b", "c"], dim=4), rounds=3000, seed=0, noise=0.3)
        assert np.mean(best[-500:]) >= 0.85
        assert sum(regret[-1000:]) < sum(regret[:1000]) / 3
