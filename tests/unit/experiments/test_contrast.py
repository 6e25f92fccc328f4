"""The contrast monitor folds the mixture SPRT look by look and keeps its error at alpha."""

from __future__ import annotations

import numpy as np

from actors.experiments.contrast import ContrastMonitor, observe_contrast
from actors.statistics import SampleSummary, mixing_variance, msprt


def test_no_evidence_before_min_samples() -> None:
    """Looks before both variants reach min_samples leave the monitor untouched."""
    monitor = observe_contrast(
        ContrastMonitor(),
        SampleSummary(50, 0.5, 0.1),
        SampleSummary(500, 0.9, 0.1),
        alpha=0.05,
        n_star=5000,
        min_samples=100,
    )
    assert monitor == ContrastMonitor()


def test_looks_equal_the_msprt_fold_with_frozen_mixing_variance() -> None:
    """The monitor equals folding msprt with tau^2 fixed at the first planned look."""
    looks = [
        (SampleSummary(100, 1.0, 0.04), SampleSummary(100, 1.03, 0.05)),
        (SampleSummary(200, 1.0, 0.09), SampleSummary(200, 1.04, 0.01)),
        (SampleSummary(300, 1.01, 0.04), SampleSummary(300, 1.05, 0.04)),
    ]
    monitor = ContrastMonitor()
    for a, b in looks:
        monitor = observe_contrast(
            monitor, a, b, factor=1.1, alpha=0.05, n_star=5000, min_samples=100
        )
    a0, b0 = looks[0]
    v0 = b0.variance / b0.n + 1.1 * 1.1 * a0.variance / a0.n
    tau2 = mixing_variance(5000, (a0.n + b0.n) * v0, 0.05)
    assert monitor.mixing_variance == tau2
    expected = None
    for a, b in looks:
        expected = msprt(
            b.mean - 1.1 * a.mean,
            b.variance / b.n + 1.1 * 1.1 * a.variance / a.n,
            tau2,
            alpha=0.05,
            previous=expected,
        )
    assert monitor.look == expected


def test_no_variation_waits_for_a_look_that_can_fix_the_design() -> None:
    """With zero variance at the first planned look the mixing variance is not fixed yet."""
    monitor = observe_contrast(
        ContrastMonitor(),
        SampleSummary(100, 1.0, 0.0),
        SampleSummary(100, 1.0, 0.0),
        alpha=0.05,
        n_star=5000,
        min_samples=100,
    )
    assert monitor.mixing_variance is None and monitor.look is None


def test_peeking_after_every_batch_keeps_the_error_below_alpha() -> None:
    """Over 1,000 seeded A/A runs read after each of 40 batches, at most 5% (+MC) ever reject."""
    rng = np.random.default_rng(2026)
    runs, looks, batch = 1000, 40, 50
    rejected = 0
    for _ in range(runs):
        x = rng.normal(1.0, 0.3, (2, looks * batch))
        monitor = ContrastMonitor()
        for k in range(1, looks + 1):
            a, b = (
                SampleSummary.from_sums(
                    k * batch, float(r[: k * batch].sum()), float((r[: k * batch] ** 2).sum())
                )
                for r in x
            )
            monitor = observe_contrast(monitor, a, b, alpha=0.05, n_star=5000, min_samples=100)
        rejected += monitor.rejected
    assert rejected / runs <= 0.05 + 1.96 * (0.05 * 0.95 / runs) ** 0.5
