"""The simulated workload: seeded requests, counterfactual outcomes, prices, load, drift onset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.catalogue import cost_of
from actors.context_features import ContextEncoder
from llmopt.demo.simulated.catalogue import ARMS, FLAGSHIP, MODELS
from llmopt.demo.simulated.degradation import Degradation
from llmopt.demo.simulated.load_curve import DAY_S, START_UNIX, DailyLoad
from llmopt.demo.simulated.tasks import TASK_NAMES
from llmopt.demo.simulated.workload import SimulatedWorkload, default_degradation, task_weights
from tests.strategies import DETERMINISTIC

SMALL = SimulatedWorkload(5, requests=600, days=1.0)


def test_the_same_seed_gives_the_same_requests_and_outcomes() -> None:
    """Two workloads of one seed hold equal requests and equal outcomes; another seed differs."""
    again = SimulatedWorkload(5, requests=600, days=1.0)
    other = SimulatedWorkload(6, requests=600, days=1.0)
    assert again.requests == SMALL.requests
    assert other.requests != SMALL.requests
    for item in SMALL.requests[::50]:
        for arm in ARMS:
            assert again.call(item, arm) == SMALL.call(item, arm)


def test_an_outcome_depends_only_on_seed_request_and_arm() -> None:
    """Drawing outcomes in another order (arms reversed, requests backwards) changes none."""
    forward = {(r.index, a): SMALL.call(r, a) for r in SMALL.requests[:40] for a in ARMS}
    fresh = SimulatedWorkload(5, requests=600, days=1.0)
    for r in reversed(fresh.requests[:40]):
        for a in reversed(ARMS):
            assert fresh.call(r, a) == forward[(r.index, a)]


@DETERMINISTIC
@given(index=st.integers(0, 599), arm=st.sampled_from(ARMS))
def test_every_outcome_is_a_priced_bounded_call(index: int, arm: str) -> None:
    """Any outcome's cost is its tokens at the catalogue's prices, its quality lies in
    [0, 1] and its latency is positive."""
    item = SMALL.requests[index]
    outcome = SMALL.call(item, arm)
    assert outcome.arm == arm and outcome.input_tokens == item.input_tokens
    assert outcome.cost_usd == cost_of(MODELS[arm], item.input_tokens, outcome.output_tokens)
    assert 0.0 <= outcome.quality <= 1.0
    assert outcome.latency_ms > 0.0


def test_prices_are_the_published_list_prices() -> None:
    """The catalogue holds the list prices per 1M tokens stated in its docstring."""
    per_1m = {
        arm: (round(s.price_in_per_1k * 1000, 6), round(s.price_out_per_1k * 1000, 6))
        for arm, s in MODELS.items()
    }
    assert per_1m == {
        "gpt-4o": (2.5, 10.0),
        "claude-3.5-sonnet": (3.0, 15.0),
        "llama-3.1-70b": (0.88, 0.88),
        "gpt-4o-mini": (0.15, 0.6),
        "claude-3-haiku": (0.25, 1.25),
        "llama-3.1-8b": (0.18, 0.18),
    }
    assert FLAGSHIP == "gpt-4o" and len(ARMS) >= 5


def test_an_unknown_arm_is_refused_by_name() -> None:
    """Calling a model outside the catalogue raises a ValueError naming it."""
    with pytest.raises(ValueError, match="gpt-5"):
        SMALL.call(SMALL.requests[0], "gpt-5")


class TestLoadCurve:
    def test_the_rate_peaks_at_the_peak_hour_and_averages_one(self) -> None:
        """The relative rate is 1 + amplitude at the peak, 1 - amplitude twelve hours later,
        and its mean over a day is 1."""
        load = DailyLoad(amplitude=0.6, peak_hour=14.0)
        assert load.relative_rate(14 * 3600) == pytest.approx(1.6)
        assert load.relative_rate(2 * 3600) == pytest.approx(0.4)
        day = [load.relative_rate(s) for s in np.linspace(0, DAY_S, 24 * 60, endpoint=False)]
        assert float(np.mean(day)) == pytest.approx(1.0, abs=1e-9)

    def test_arrivals_follow_the_curve(self) -> None:
        """20,000 arrivals over two days: exactly that many, sorted, inside the horizon, and
        the busiest four hours get about four times the quietest four (the curve's ratio)."""
        times = DailyLoad().arrivals(np.random.default_rng(1), 20_000, 2.0)
        assert len(times) == 20_000 and times == sorted(times)
        assert times[0] >= 0.0 and times[-1] < 2 * DAY_S
        hours = (np.asarray(times) % DAY_S) / 3600
        busy = np.count_nonzero((hours >= 12) & (hours < 16))
        quiet = np.count_nonzero(hours < 4)
        expected = sum(DailyLoad().relative_rate(h * 3600) for h in np.arange(12, 16, 0.01)) / sum(
            DailyLoad().relative_rate(h * 3600) for h in np.arange(0, 4, 0.01)
        )
        assert busy / quiet == pytest.approx(expected, rel=0.1)

    def test_the_task_mix_follows_the_hour(self) -> None:
        """At the peak the working-day tasks gain share and chat loses it; weights sum to 1."""
        peak, night = task_weights(DailyLoad(), 14 * 3600), task_weights(DailyLoad(), 2 * 3600)
        assert sum(peak) == pytest.approx(1.0) and sum(night) == pytest.approx(1.0)
        code, chat = TASK_NAMES.index("code"), TASK_NAMES.index("chat")
        assert peak[code] > night[code] and peak[chat] < night[chat]

    def test_bad_settings_are_refused(self) -> None:
        """An amplitude of 1 or more, or no days, is a ValueError."""
        with pytest.raises(ValueError, match="amplitude"):
            DailyLoad(amplitude=1.0)
        with pytest.raises(ValueError, match="days"):
            DailyLoad().arrivals(np.random.default_rng(0), 10, 0.0)


def test_the_context_carries_the_hour_on_a_circle() -> None:
    """A request's context encodes through the workload's schema with its hour of day as
    (sin, cos) of the time of day, and its task as a one-hot."""
    encoder = ContextEncoder(SMALL.features())
    columns = SMALL.features().columns
    item = SMALL.requests[123]
    x, missing = encoder.encode(SMALL.context(item))
    assert missing == []
    angle = 2 * math.pi * ((item.at - START_UNIX) % DAY_S) / DAY_S
    assert x[columns.index("ts:hour_sin")] == pytest.approx(math.sin(angle))
    assert x[columns.index("ts:hour_cos")] == pytest.approx(math.cos(angle))
    assert x[columns.index(f"task={item.task}")] == 1.0


class TestDegradation:
    CHANGE = 0.5 * DAY_S
    degraded = SimulatedWorkload(
        5, requests=1200, days=1.0, degradation=Degradation(model="gpt-4o-mini", at_s=CHANGE)
    )
    clean = SimulatedWorkload(5, requests=1200, days=1.0, degradation=None)

    def test_only_the_model_after_the_change_degrades(self) -> None:
        """Before the change, and for every other model, outcomes equal those of the same
        workload without degradation; after it the model's latency is 1.5 times as long."""
        change = self.degraded.after_change(self.degraded.requests)
        assert 0 < change < len(self.degraded.requests)
        assert self.degraded.seconds(self.degraded.requests[change]) >= self.CHANGE
        assert self.degraded.seconds(self.degraded.requests[change - 1]) < self.CHANGE
        for i, item in enumerate(self.degraded.requests):
            for arm in ARMS:
                hit, base = self.degraded.call(item, arm), self.clean.call(item, arm)
                if arm != "gpt-4o-mini" or i < change:
                    assert hit == base
                else:
                    assert hit.degraded
                    assert hit.latency_ms == pytest.approx(1.5 * base.latency_ms)

    def test_the_model_s_quality_drops_after_the_change(self) -> None:
        """The degraded model's mean quality after the change is well below the clean one's."""
        change = self.degraded.after_change(self.degraded.requests)
        after = self.degraded.requests[change:]
        hit = np.mean([self.degraded.call(r, "gpt-4o-mini").quality for r in after])
        base = np.mean([self.clean.call(r, "gpt-4o-mini").quality for r in after])
        assert hit < base - 0.2

    def test_bad_degradations_are_refused(self) -> None:
        """A quality factor outside (0, 1], a speed-up, or an unknown model is a ValueError."""
        with pytest.raises(ValueError, match="quality_factor"):
            Degradation(model="gpt-4o", at_s=0.0, quality_factor=1.5)
        with pytest.raises(ValueError, match="latency_factor"):
            Degradation(model="gpt-4o", at_s=0.0, latency_factor=0.5)
        with pytest.raises(ValueError, match="unknown model"):
            SimulatedWorkload(0, requests=10, degradation=Degradation(model="x", at_s=0.0))

    def test_the_default_change_is_on_the_last_day(self) -> None:
        """Over two (three) days the default degradation starts at 06:00 UTC of day 2 (3);
        over one day at noon."""
        assert default_degradation(2.0).at_s == 30 * 3600
        assert default_degradation(3.0).at_s == 54 * 3600
        assert default_degradation(1.0).at_s == 12 * 3600
