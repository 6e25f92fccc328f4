"""The composite reward: the spec's formula, normalisation, missing terms, errors and validation."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.reward import RewardSpec, composite_reward
from events.schema import OutcomeObserved
from tests.strategies import DETERMINISTIC, outcome_events

DEFAULT = RewardSpec()


def outcome(**fields: Any) -> OutcomeObserved:
    return OutcomeObserved(event_id="o-1", entity_id="exp-1", at=0.0, decision_id="d-1", **fields)


def reward(
    spec: RewardSpec = DEFAULT, /, *, estimate: float | None = None, **fields: Any
) -> float | None:
    """The reward of an outcome with ``fields``; ``estimate`` is the caller's ``cost_usd``."""
    return composite_reward(outcome(**fields), spec, cost_usd=estimate)


class TestFormula:
    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            ({"quality": 1.0, "cost_usd": 0.0, "latency_ms": 0.0}, 1.0),
            ({"quality": 0.0, "cost_usd": 0.05, "latency_ms": 10_000.0}, 0.0),
            # 0.5*0.8 + 0.3*(1 - 0.01/0.05) + 0.2*(1 - 2000/10000)
            ({"quality": 0.8, "cost_usd": 0.01, "latency_ms": 2_000.0}, 0.8),
            # 0.5*0.6 + 0.3*0.5 + 0.2*0.5
            ({"quality": 0.6, "cost_usd": 0.025, "latency_ms": 5_000.0}, 0.55),
            # 0.5*1 + 0.3*(1 - 0.004/0.05) + 0.2*(1 - 300/10000) = 0.5 + 0.276 + 0.194
            ({"quality": 1.0, "cost_usd": 0.004, "latency_ms": 300.0}, 0.97),
            # 0.5*0.5 + 0.3*(1 - 0.03/0.05) + 0.2*(1 - 7500/10000) = 0.25 + 0.12 + 0.05
            ({"quality": 0.5, "cost_usd": 0.03, "latency_ms": 7_500.0}, 0.42),
        ],
        ids=["best", "worst", "all-0.8", "midpoints", "cheap-fast", "mixed"],
    )
    def test_spec_weights_by_hand(self, fields: dict[str, float], expected: float) -> None:
        """With the default spec the reward is 0.5*quality + 0.3*(1 - cost/0.05) + 0.2*(1 - latency/10000)."""
        assert reward(**fields) == pytest.approx(expected)

    def test_weights_need_not_sum_to_one(self) -> None:
        """Weights 5/3/2 give the same reward as 0.5/0.3/0.2: only their ratios matter."""
        scaled = RewardSpec(quality_weight=5.0, cost_weight=3.0, latency_weight=2.0)
        fields = {"quality": 0.6, "cost_usd": 0.025, "latency_ms": 5_000.0}
        assert reward(scaled, **fields) == pytest.approx(reward(**fields))

    def test_bounds_are_per_experiment(self) -> None:
        """Quality, cost and latency are normalised between the spec's own bounds."""
        spec = RewardSpec(
            quality_min=1.0,
            quality_max=10.0,
            cost_min_usd=0.001,
            cost_max_usd=0.011,
            latency_min_ms=100.0,
            latency_max_ms=1_100.0,
        )
        # quality (7-1)/9, cost (0.006-0.001)/0.01 = 0.5, latency (350-100)/1000 = 0.25
        expected = 0.5 * (6 / 9) + 0.3 * 0.5 + 0.2 * 0.75
        assert reward(spec, quality=7.0, cost_usd=0.006, latency_ms=350.0) == pytest.approx(
            expected
        )

    def test_zero_weight_terms_are_ignored(self) -> None:
        """A term with weight 0 neither contributes nor counts in the renormalisation."""
        spec = RewardSpec(quality_weight=1.0, cost_weight=0.0, latency_weight=0.0)
        assert reward(spec, quality=0.3, cost_usd=1.0, latency_ms=1e9) == pytest.approx(0.3)


class TestClipping:
    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            ({"quality": 1.7, "cost_usd": 0.0, "latency_ms": 0.0}, 1.0),
            ({"quality": -3.0, "cost_usd": 0.05, "latency_ms": 10_000.0}, 0.0),
            ({"quality": 1.0, "cost_usd": 0.5, "latency_ms": 60_000.0}, 0.5),
            ({"quality": 0.0, "cost_usd": -0.01, "latency_ms": -5.0}, 0.5),
            ({"quality": math.inf, "cost_usd": math.inf, "latency_ms": math.inf}, 0.5),
            ({"quality": -math.inf, "cost_usd": -math.inf, "latency_ms": -math.inf}, 0.5),
        ],
        ids=[
            "quality-above",
            "quality-below",
            "cost-latency-above",
            "cost-latency-below",
            "+inf",
            "-inf",
        ],
    )
    def test_normalised_terms_clip_to_unit_interval(
        self, fields: dict[str, float], expected: float
    ) -> None:
        """A value outside its bounds scores as the nearer bound, so the reward stays in [0, 1]."""
        assert reward(**fields) == pytest.approx(expected)


class TestErrors:
    @pytest.mark.parametrize(
        ("spec", "fields", "expected"),
        [
            (DEFAULT, {}, 0.0),
            (DEFAULT, {"quality": 1.0, "cost_usd": 0.0, "latency_ms": 0.0}, 0.0),
            (RewardSpec(error_reward=0.1), {"quality": 1.0, "feedback": 1.0}, 0.1),
            (RewardSpec(error_reward=1.0), {"cost_usd": 10.0}, 1.0),
        ],
        ids=["bare", "perfect-otherwise", "custom", "custom-one"],
    )
    def test_failed_call_scores_error_reward(
        self, spec: RewardSpec, fields: dict[str, float], expected: float
    ) -> None:
        """A failed call scores ``error_reward`` whatever else it reports, even with nothing else."""
        assert reward(spec, error=True, **fields) == expected


class TestMissingTerms:
    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            # (0.3*1 + 0.2*1) / 0.5
            ({"cost_usd": 0.0, "latency_ms": 0.0}, 1.0),
            # (0.5*0.4 + 0.2*1) / 0.7
            ({"quality": 0.4, "latency_ms": 0.0}, 0.4 / 0.7),
            # (0.5*0.4 + 0.3*0.6) / 0.8
            ({"quality": 0.4, "cost_usd": 0.02}, 0.38 / 0.8),
            ({"cost_usd": 0.02}, 0.6),
            ({"latency_ms": 2_500.0}, 0.75),
            ({"quality": 0.9}, 0.9),
        ],
        ids=["no-quality", "no-cost", "no-latency", "cost-only", "latency-only", "quality-only"],
    )
    def test_renormalise_drops_missing_terms(
        self, fields: dict[str, float], expected: float
    ) -> None:
        """By default a term the outcome does not report leaves the weighted mean."""
        assert reward(**fields) == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            ({"cost_usd": 0.0, "latency_ms": 0.0}, 0.5),
            ({"quality": 0.4, "latency_ms": 0.0}, 0.4),
            ({"quality": 0.9}, 0.45),
        ],
        ids=["no-quality", "no-cost", "quality-only"],
    )
    def test_zero_scores_missing_terms_as_zero(
        self, fields: dict[str, float], expected: float
    ) -> None:
        """With ``missing="zero"`` a term the outcome does not report scores 0 at its full weight."""
        assert reward(RewardSpec(missing="zero"), **fields) == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("feedback", "expected"),
        # quality = (feedback + 1) / 2; then 0.5*quality + 0.3*1 + 0.2*1
        [(1.0, 1.0), (0.5, 0.875), (-1.0, 0.5), (0.0, 0.75)],
    )
    def test_feedback_stands_in_for_missing_quality(self, feedback: float, expected: float) -> None:
        """Without a quality score, the normalised feedback is used as the quality score."""
        assert reward(feedback=feedback, cost_usd=0.0, latency_ms=0.0) == pytest.approx(expected)

    def test_quality_wins_over_feedback(self) -> None:
        """A reported quality score is used even when feedback disagrees with it."""
        assert reward(quality=0.2, feedback=1.0) == pytest.approx(0.2)

    def test_feedback_substitution_can_be_switched_off(self) -> None:
        """With ``feedback_for_quality=False`` a missing quality follows the ``missing`` rule."""
        spec = RewardSpec(feedback_for_quality=False)
        assert reward(spec, feedback=-1.0, cost_usd=0.0, latency_ms=0.0) == pytest.approx(1.0)

    def test_caller_cost_fills_a_missing_cost(self) -> None:
        """The caller's ``cost_usd`` (from tokens and prices) is used when the outcome has none."""
        assert reward(estimate=0.02, input_tokens=1_000, output_tokens=333) == pytest.approx(0.6)

    def test_reported_cost_wins_over_callers(self) -> None:
        """A cost the outcome reports itself takes precedence over the caller's estimate."""
        assert reward(estimate=0.02, cost_usd=0.04) == pytest.approx(0.2)

    def test_nan_counts_as_not_reported(self) -> None:
        """A NaN field is treated as absent, so it never turns the reward into NaN."""
        assert reward(quality=math.nan, cost_usd=0.02) == pytest.approx(0.6)
        assert reward(estimate=0.02, cost_usd=math.nan) == pytest.approx(0.6)


class TestFeedbackTerm:
    @pytest.mark.parametrize(
        ("feedback", "expected"),
        # (0.5*1 + 0.5*(feedback + 1)/2) / 1.0
        [(1.0, 1.0), (0.0, 0.75), (-1.0, 0.5), (5.0, 1.0), (-5.0, 0.5)],
    )
    def test_feedback_weight_adds_a_term(self, feedback: float, expected: float) -> None:
        """A positive ``feedback_weight`` adds the feedback, mapped from [-1, 1] to [0, 1] and clipped."""
        spec = RewardSpec(
            quality_weight=0.5, cost_weight=0.0, latency_weight=0.0, feedback_weight=0.5
        )
        assert reward(spec, quality=1.0, feedback=feedback) == pytest.approx(expected)

    def test_feedback_range_is_configurable(self) -> None:
        """Feedback on a 1-5 scale maps 1 to 0 and 5 to 1."""
        spec = RewardSpec(
            quality_weight=0.0,
            cost_weight=0.0,
            latency_weight=0.0,
            feedback_weight=1.0,
            feedback_min=1.0,
            feedback_max=5.0,
        )
        assert [reward(spec, feedback=f) for f in (1.0, 2.0, 5.0)] == pytest.approx(
            [0.0, 0.25, 1.0]
        )

    def test_feedback_fills_quality_and_its_own_term(self) -> None:
        """Without a quality score, feedback scores both the quality term and its own term."""
        spec = RewardSpec(feedback_weight=0.5)
        # (0.5*1 + 0.3*0 + 0.5*1) / (0.5 + 0.3 + 0.5); latency not reported
        assert reward(spec, feedback=1.0, cost_usd=0.05) == pytest.approx(1.0 / 1.3)


class TestUnscored:
    @pytest.mark.parametrize(
        ("spec", "fields"),
        [
            (DEFAULT, {}),
            (DEFAULT, {"input_tokens": 100, "output_tokens": 50}),
            (DEFAULT, {"reward": 0.9}),
            (DEFAULT, {"quality": math.nan}),
            (RewardSpec(missing="zero"), {}),
            (RewardSpec(feedback_for_quality=False), {"feedback": 1.0}),
            (
                RewardSpec(quality_weight=1.0, cost_weight=0.0, latency_weight=0.0),
                {"cost_usd": 0.01, "latency_ms": 50.0},
            ),
        ],
        ids=[
            "empty",
            "tokens-only",
            "explicit-reward-ignored",
            "nan-quality",
            "empty-zero-rule",
            "unweighted-feedback",
            "only-unweighted-terms",
        ],
    )
    def test_none_when_nothing_scoreable(self, spec: RewardSpec, fields: dict[str, Any]) -> None:
        """An outcome that is no error and reports no weighted term scores None, not a made-up reward."""
        assert reward(spec, **fields) is None


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"quality_weight": -0.1}, "quality_weight"),
            ({"cost_weight": math.nan}, "cost_weight"),
            ({"latency_weight": math.inf}, "latency_weight"),
            ({"feedback_weight": -1.0}, "feedback_weight"),
            (
                {"quality_weight": 0.0, "cost_weight": 0.0, "latency_weight": 0.0},
                "quality_weight, cost_weight, latency_weight, feedback_weight",
            ),
            ({"cost_max_usd": 0.0}, "cost_max_usd"),
            ({"latency_max_ms": -1.0}, "latency_max_ms"),
            ({"feedback_min": 1.0}, "feedback_max"),
            ({"quality_min": math.nan}, "quality_min"),
            ({"cost_min_usd": -math.inf}, "cost_min_usd"),
            ({"quality_min": -1e308, "quality_max": 1e308}, "quality_max - quality_min"),
            ({"error_reward": 1.5}, "error_reward"),
            ({"error_reward": math.nan}, "error_reward"),
            ({"missing": "drop"}, "missing"),
        ],
    )
    def test_invalid_spec_names_the_field(self, fields: dict[str, Any], named: str) -> None:
        """An invalid spec raises ValueError whose message names the offending field."""
        with pytest.raises(ValueError, match=named):
            RewardSpec(**fields)

    def test_decoding_validates(self) -> None:
        """A spec decoded from JSON is validated like a constructed one, naming the field."""
        with pytest.raises(msgspec.ValidationError, match="cost_weight"):
            msgspec.json.decode(b'{"cost_weight": -1}', type=RewardSpec)

    def test_unknown_field_is_refused(self) -> None:
        """A misspelt field in a stored spec is an error, not a silently ignored setting."""
        with pytest.raises(msgspec.ValidationError, match="cost_wieght"):
            msgspec.json.decode(b'{"cost_wieght": 0.3}', type=RewardSpec)

    def test_json_round_trip(self) -> None:
        """A spec survives a JSON round trip unchanged."""
        spec = RewardSpec(feedback_weight=0.2, missing="zero", cost_max_usd=0.2)
        assert msgspec.json.decode(msgspec.json.encode(spec), type=RewardSpec) == spec


finite = st.floats(allow_nan=False, allow_infinity=False)
weights = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_subnormal=False)


@st.composite
def bounds(draw: st.DrawFn) -> tuple[float, float]:
    low = draw(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
    span = draw(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
    return low, low + span


@st.composite
def reward_specs(draw: st.DrawFn) -> RewardSpec:
    w = draw(
        st.tuples(weights, weights, weights, weights).filter(lambda ws: any(x > 0 for x in ws))
    )
    (qlo, qhi), (clo, chi), (llo, lhi), (flo, fhi) = (draw(bounds()) for _ in range(4))
    return RewardSpec(
        quality_weight=w[0],
        cost_weight=w[1],
        latency_weight=w[2],
        feedback_weight=w[3],
        quality_min=qlo,
        quality_max=qhi,
        cost_min_usd=clo,
        cost_max_usd=chi,
        latency_min_ms=llo,
        latency_max_ms=lhi,
        feedback_min=flo,
        feedback_max=fhi,
        error_reward=draw(st.floats(min_value=0.0, max_value=1.0)),
        missing=draw(st.sampled_from(["renormalise", "zero"])),
        feedback_for_quality=draw(st.booleans()),
    )


@st.composite
def wide_outcomes(draw: st.DrawFn) -> OutcomeObserved:
    """Outcomes whose fields are any finite float (or absent), far outside any bounds."""
    opt = st.none() | finite
    return outcome(
        quality=draw(opt),
        cost_usd=draw(opt),
        latency_ms=draw(opt),
        feedback=draw(opt),
        error=draw(st.booleans()),
    )


class TestProperties:
    @DETERMINISTIC
    @given(spec=reward_specs(), event=wide_outcomes() | outcome_events(), cost=st.none() | finite)
    def test_reward_in_unit_interval(
        self, spec: RewardSpec, event: OutcomeObserved, cost: float | None
    ) -> None:
        """For any finite inputs the reward is None or lies in [0, 1]; an error is never None."""
        value = composite_reward(event, spec, cost_usd=cost)
        if event.error:
            assert value == spec.error_reward
        else:
            assert value is None or 0.0 <= value <= 1.0

    @DETERMINISTIC
    @given(
        spec=reward_specs(),
        quality=st.none() | finite,
        latency=st.none() | finite,
        costs=st.tuples(finite, finite),
    )
    def test_cheaper_never_scores_lower(
        self,
        spec: RewardSpec,
        quality: float | None,
        latency: float | None,
        costs: tuple[float, float],
    ) -> None:
        """Everything else equal, a cheaper call never gets a lower reward."""
        cheap, dear = sorted(costs)
        low = reward(spec, quality=quality, latency_ms=latency, cost_usd=dear)
        high = reward(spec, quality=quality, latency_ms=latency, cost_usd=cheap)
        estimated = reward(spec, quality=quality, latency_ms=latency, estimate=cheap)
        assert estimated == high
        assert (low is None) == (high is None)
        if low is not None and high is not None:
            assert high >= low - 1e-12
