"""The offline protocol: seeded order, rounds through the live decider, baselines, regret."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmopt.demo.cost_model import STRONG, WEAK, call
from llmopt.demo.dataset import Prompt, load
from llmopt.demo.prompt_features import context_of, feature_schema, ngram_bag
from llmopt.demo.protocol import (
    PolicySpec,
    best_fixed_per_subject,
    flagship_cost_bound,
    oracle_arms,
    random_mix,
    reward_spec,
    route_fixed,
    run_policy,
    seeded_order,
)

PROMPTS = load("mmlu")[::47][:300]
SUBJECTS = sorted({p.subject for p in PROMPTS})
REWARD = reward_spec(0.2, flagship_cost_bound(PROMPTS))
LINUCB = PolicySpec(label="LinUCB", policy="linucb", params={"alpha": 0.5}, ngram_buckets=8)


def run(spec: PolicySpec, seed: int = 1, round_size: int = 25) -> tuple[object, list[str]]:
    return run_policy(
        seeded_order(PROMPTS, seed),
        spec,
        experiment_id="exp",
        seed=seed,
        subjects=SUBJECTS,
        reward=REWARD,
        round_size=round_size,
    )


def test_seeded_order_is_a_reproducible_permutation() -> None:
    """The same seed gives the same order, another seed another, and no prompt is lost."""
    first, again, other = (seeded_order(PROMPTS, s) for s in (3, 3, 4))
    assert first == again
    assert first != other
    assert sorted(p.key for p in first) == sorted(p.key for p in PROMPTS)


def test_a_seeded_run_is_reproducible() -> None:
    """Two runs with the same seed choose the same arm for every prompt."""
    assert run(LINUCB)[1] == run(LINUCB)[1]


def test_totals_are_those_of_the_chosen_arms() -> None:
    """A run's totals equal routing the same prompts to the arms it chose, and it learns to
    use both arms (exploration counted)."""
    tally, arms = run(LINUCB)
    replayed = route_fixed(seeded_order(PROMPTS, 1), arms, REWARD)
    assert tally == replayed
    assert tally.arms[WEAK] > 0 and tally.arms[STRONG] > 0
    assert tally.prompts == len(PROMPTS)


def test_round_size_decides_what_a_decision_knows() -> None:
    """With one round for everything no outcome is folded before deciding, so a deterministic
    policy with no data plays its tie-break arm throughout; smaller rounds let it learn."""
    _, blind = run(LINUCB, round_size=len(PROMPTS))
    _, learning = run(LINUCB, round_size=10)
    assert len(set(blind)) == 1
    assert len(set(learning)) == 2


def test_per_subject_experiments_keep_subjects_apart() -> None:
    """Per-subject Thompson sampling runs and routes every prompt exactly once."""
    tally, arms = run(PolicySpec(label="TS", policy="thompson_beta", per_subject=True))
    assert len(arms) == tally.prompts == len(PROMPTS)


def test_oracle_has_no_regret_and_everything_else_has_some() -> None:
    """The per-prompt oracle's regret is 0 and always-strong's is positive."""
    order = seeded_order(PROMPTS, 0)
    assert route_fixed(order, oracle_arms(order), REWARD).regret == pytest.approx(0.0, abs=1e-9)
    assert route_fixed(order, [STRONG] * len(order), REWARD).regret > 0


def test_random_mix_extremes_are_the_fixed_policies() -> None:
    """Mixing with probability 0 is always-weak and with 1 always-strong."""
    assert set(random_mix(PROMPTS, 0.0, 1)) == {WEAK}
    assert set(random_mix(PROMPTS, 1.0, 1)) == {STRONG}
    with pytest.raises(ValueError, match="p_strong"):
        random_mix(PROMPTS, 1.5, 1)


def test_best_fixed_per_subject_without_cost_picks_the_more_accurate_model() -> None:
    """With no cost weight the hindsight choice per subject is the model right more often."""
    order = seeded_order(PROMPTS, 0)
    chosen = dict(
        zip(
            (p.subject for p in order),
            best_fixed_per_subject(order, reward_spec(0.0, 1.0)),
            strict=True,
        )
    )
    for subject, arm in chosen.items():
        rows = [p for p in order if p.subject == subject]
        weak, strong = (sum(call(p, a).correct for p in rows) for a in (WEAK, STRONG))
        assert arm == (STRONG if strong > weak else WEAK)


@given(st.text(max_size=300), st.integers(1, 32))
def test_ngram_bag_is_unit_length_or_empty(text: str, buckets: int) -> None:
    """The hashed n-gram bag has one entry per bucket and unit L2 norm (or is all zeros)."""
    bag = ngram_bag(text, buckets)
    assert len(bag) == buckets
    norm = math.sqrt(sum(v * v for v in bag))
    assert norm == pytest.approx(1.0) or norm == 0.0


def test_context_encodes_under_the_declared_schema() -> None:
    """Every prompt's context encodes under the demo's schema with no field missing."""
    from actors.context_features import ContextEncoder

    encoder = ContextEncoder(feature_schema(SUBJECTS, 8))
    prompt: Prompt = PROMPTS[0]
    x, missing = encoder.encode(context_of(prompt, 8))
    assert missing == []
    assert x.shape == (encoder.dim,)


def test_cumulative_regret_ends_at_the_totals_regret() -> None:
    """The cumulative regret curve never decreases and ends at the run's total regret."""
    from llmopt.demo.protocol import cumulative_regret

    tally, arms = run(LINUCB)
    curve = cumulative_regret(seeded_order(PROMPTS, 1), arms, REWARD)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(curve))
    assert curve[-1] == pytest.approx(tally.regret)
