"""Seeded simulated traffic for the experiment-logic tests: per-variant metrics after each batch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from actors.experiments.metrics import ArmMetrics, MetricSums


def add_batch(sums: MetricSums, values: np.ndarray) -> None:
    """Fold a batch of observations into running sums (what observe() does one by one)."""
    sums.n += int(values.size)
    sums.total += float(values.sum())
    sums.total_squares += float((values * values).sum())


def traffic(
    rng: np.random.Generator,
    *,
    looks: int,
    batch: int,
    quality: tuple[float, float] = (0.7, 0.7),
    cost: tuple[float, float] = (0.01, 0.01),
    latency: tuple[float, float] = (800.0, 800.0),
) -> Iterator[tuple[ArmMetrics, ArmMetrics]]:
    """(control, treatment) metrics after each batch; each pair gives (control, treatment) means.

    Quality is normal (sd 0.2), cost lognormal (sigma 0.5) and latency lognormal (sigma 0.4),
    scaled so that their means/medians are the given values.
    """
    arms = (ArmMetrics(), ArmMetrics())
    for _ in range(looks):
        for i, arm in enumerate(arms):
            add_batch(arm.quality, rng.normal(quality[i], 0.2, batch))
            add_batch(arm.cost, cost[i] * rng.lognormal(-0.125, 0.5, batch))
            for value in latency[i] * rng.lognormal(0.0, 0.4, batch):
                arm.latency.add(float(value))
        yield arms
