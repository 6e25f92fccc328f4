"""Guardrails breach only when the always-valid interval shows harm beyond the limit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from actors.experiments.guardrails import (
    DEFAULT_GUARDRAILS,
    Guardrail,
    GuardrailBreach,
    GuardrailMonitor,
    check_guardrails,
)
from actors.experiments.metrics import ArmMetrics
from tests.unit.experiments.sims import traffic


def watch(
    seed: int,
    looks: int = 40,
    batch: int = 100,
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS,
    **means: tuple[float, float],
) -> tuple[int | None, list[GuardrailBreach]]:
    """Run the guardrails after every batch; return the first look with a breach and its breaches."""
    monitor = GuardrailMonitor()
    for look, (control, treatment) in enumerate(
        traffic(np.random.default_rng(seed), looks=looks, batch=batch, **means), start=1
    ):
        monitor, breaches = check_guardrails(guardrails, monitor, control, treatment)
        if breaches:
            return look, breaches
    return None, []


def test_defaults_are_the_issues_limits() -> None:
    """Quality may drop 5%, cost may rise 10%, p95 latency may rise 20%, each pausing."""
    assert [(g.metric, g.limit, g.action) for g in DEFAULT_GUARDRAILS] == [
        ("quality", 0.05, "pause"),
        ("cost", 0.10, "pause"),
        ("latency_p95", 0.20, "pause"),
    ]


def test_a_healthy_treatment_breaches_nothing() -> None:
    """Equal variants pass all guardrails over 40 looks of 100 per arm."""
    assert watch(1) == (None, [])


def test_a_cost_rise_beyond_the_limit_is_breached_with_its_reason() -> None:
    """A 40% cost rise breaches the 10% cost guardrail, naming the metric and the change."""
    look, breaches = watch(2, cost=(0.01, 0.014))
    assert look is not None
    assert [b.metric for b in breaches] == ["cost"]
    assert breaches[0].action == "pause"
    assert "cost may not rise more than 10%" in breaches[0].reason
    change = float(re.search(r"\(([+-][0-9.]+)%\)", breaches[0].reason).group(1))  # type: ignore[union-attr]
    assert 25.0 < change < 55.0


def test_a_quality_drop_beyond_the_limit_is_breached() -> None:
    """A 20% quality drop breaches the 5% quality guardrail."""
    look, breaches = watch(3, quality=(0.7, 0.56))
    assert look is not None and [b.metric for b in breaches] == ["quality"]


def test_a_quality_gain_is_never_a_breach() -> None:
    """A better quality never breaches, however clear."""
    assert watch(4, quality=(0.6, 0.8)) == (None, [])


def test_a_slower_p95_beyond_the_limit_is_breached() -> None:
    """Latencies 60% slower throughout breach the 20% p95 guardrail."""
    look, breaches = watch(5, latency=(800.0, 1280.0))
    assert look is not None and [b.metric for b in breaches] == ["latency_p95"]
    assert "latency_p95 may not rise more than 20%" in breaches[0].reason


def test_a_rise_within_the_limit_is_not_breached() -> None:
    """A 5% cost rise and 10% slower latencies stay within the 10% and 20% limits."""
    assert watch(6, looks=60, cost=(0.01, 0.0105), latency=(800.0, 880.0)) == (None, [])


def test_action_comes_from_the_definition() -> None:
    """A guardrail configured to roll back reports rollback as its action."""
    rails = (Guardrail(metric="cost", limit=0.1, action="rollback"),)
    _, breaches = watch(7, guardrails=rails, cost=(0.01, 0.02))
    assert [b.action for b in breaches] == ["rollback"]


def test_false_alarms_stay_at_alpha_when_watched_continuously() -> None:
    """Over 200 A/A runs checked after each of 20 batches, each guardrail false-alarms <= 5% (+MC)."""
    runs = 200
    alarms = dict.fromkeys(("quality", "cost", "latency_p95"), 0)
    for seed in range(runs):
        monitor = GuardrailMonitor()
        seen: set[str] = set()
        for control, treatment in traffic(np.random.default_rng(1000 + seed), looks=20, batch=100):
            monitor, breaches = check_guardrails(
                tuple(Guardrail(metric=g.metric, limit=0.0) for g in DEFAULT_GUARDRAILS),
                monitor,
                control,
                treatment,
            )
            seen |= {b.metric for b in breaches}
        for metric in seen:
            alarms[metric] += 1
    bound = 0.05 + 1.96 * (0.05 * 0.95 / runs) ** 0.5
    assert all(count / runs <= bound for count in alarms.values()), alarms


@pytest.mark.parametrize(
    ("metric", "limit", "message"),
    [("cost", -0.1, "limit must be >= 0"), ("quality", 1.0, "drop limit must be < 1")],
)
def test_impossible_limits_are_refused(metric: str, limit: float, message: str) -> None:
    """A negative limit, or a quality drop of 100% or more, is refused."""
    with pytest.raises(ValueError, match=message):
        Guardrail(metric=metric, limit=limit)  # type: ignore[arg-type]


def test_no_data_no_breach() -> None:
    """Before any outcome the guardrails report nothing."""
    monitor, breaches = check_guardrails(
        DEFAULT_GUARDRAILS, GuardrailMonitor(), ArmMetrics(), ArmMetrics()
    )
    assert breaches == [] and all(m.look is None for m in monitor.contrasts.values())
