"""Champion/challenger: a clearly better challenger is promoted, an equal or harmful one is not."""

from __future__ import annotations

import numpy as np

from actors.experiments.champion import evaluate_challenger
from actors.experiments.contrast import ContrastMonitor
from actors.experiments.guardrails import GuardrailBreach
from actors.experiments.stopping import StoppingRule
from actors.statistics import SampleSummary

RULE = StoppingRule(min_samples_per_variant=200, max_duration_s=None, min_improvement=0.02)


def run(
    seed: int, champion_mean: float, challenger_mean: float, looks: int = 60
) -> tuple[str, int]:
    """Watch a champion and a challenger (normal rewards, sd 0.3) after every batch of 100."""
    rng = np.random.default_rng(seed)
    sums = np.zeros((2, 3))
    monitor = ContrastMonitor()
    for look in range(1, looks + 1):
        for i, mean in enumerate((champion_mean, challenger_mean)):
            x = rng.normal(mean, 0.3, 100)
            sums[i] += (x.size, x.sum(), (x * x).sum())
        champion, challenger = (SampleSummary.from_sums(int(n), t, q) for n, t, q in sums)
        verdict = evaluate_challenger(
            RULE, monitor, champion=champion, challenger=challenger, elapsed_s=look, breaches=[]
        )
        monitor = verdict.monitor
        if verdict.action != "continue":
            return verdict.action, look
    return "continue", looks


def test_a_clearly_better_challenger_is_promoted() -> None:
    """A challenger 10% better than the champion is promoted, with the lift in the reason."""
    action, look = run(1, 0.5, 0.55)
    assert action == "promote" and look < 60


def test_promotion_reason_names_the_lift() -> None:
    """The verdict says by how much the challenger beats the champion."""
    champion = SampleSummary(5000, 0.5, 0.09)
    challenger = SampleSummary(5000, 0.6, 0.09)
    verdict = evaluate_challenger(
        RULE,
        ContrastMonitor(),
        champion=champion,
        challenger=challenger,
        elapsed_s=1.0,
        breaches=[],
    )
    assert verdict.action == "promote"
    assert verdict.reason.startswith("the challenger beats the champion by 20.00%")


def test_a_guardrail_breach_blocks_promotion() -> None:
    """A better challenger that breaches a guardrail keeps the champion, with the breach as reason."""
    breach = GuardrailBreach(metric="cost", action="pause", reason="cost rose 40%")
    verdict = evaluate_challenger(
        RULE,
        ContrastMonitor(),
        champion=SampleSummary(5000, 0.5, 0.09),
        challenger=SampleSummary(5000, 0.6, 0.09),
        elapsed_s=1.0,
        breaches=[breach],
    )
    assert verdict.action == "keep_champion" and verdict.reason == "cost rose 40%"


def test_equal_challengers_are_rarely_promoted_despite_continuous_checks() -> None:
    """Over 300 A/A runs checked after each of 60 batches, at most 5% (+MC) promote."""
    runs = 300
    promoted = sum(run(100 + seed, 0.5, 0.5)[0] == "promote" for seed in range(runs))
    assert promoted / runs <= 0.05 + 1.96 * (0.05 * 0.95 / runs) ** 0.5


def test_a_worse_challenger_is_retired() -> None:
    """A challenger clearly worse than the champion ends as keep_champion (futile)."""
    action, _ = run(3, 0.5, 0.4)
    assert action == "keep_champion"
