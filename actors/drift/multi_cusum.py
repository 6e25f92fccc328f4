"""Several CUSUM charts at once, each tuned to a different shift size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from actors.drift.base import Alarm, Detector, at_least, observation
from actors.drift.cusum import CUSUM
from actors.parameters import non_negative, positive


class MultiCUSUM(Detector):
    r"""Parallel two-sided CUSUM charts with references :math:`k_1 < \dots < k_m`, alarming
    when any of them does (Lorden & Eisenberger 1973; Sparks 2000).

    A single CUSUM is optimal for the shift :math:`2k` it is tuned to and slower for the
    others: tuned to 0.2 sd it needs about three times longer than necessary to see a 1 sd
    shift. Running charts tuned to 0.2, 0.5 and 1 sd side by side detects each shift almost
    as fast as the chart made for it. Each chart gets the in-control run length
    :math:`m \cdot \mathrm{ARL}_0` (a union bound), so the combined rate is at most the target
    (less, since the charts watch the same stream and alarm together). The charts share the
    stream, not their code: each is a :class:`~actors.drift.cusum.CUSUM` with the same
    warm-up, and after any alarm all of them restart.

    Parameters
    ----------
    ks
        References in standard deviations, each half of a shift to detect.
    arl0
        Target mean number of samples between false alarms of the combination.
    mean, sd, warmup
        As for :class:`~actors.drift.cusum.CUSUM`.

    References
    ----------
    G. Lorden and I. Eisenberger (1973), "Detection of failure rate increases",
    *Technometrics* 15(1), 167-175.
    R. S. Sparks (2000), "CUSUM charts for signalling varying location shifts", *Journal of
    Quality Technology* 32(2), 157-171.

    Examples
    --------
    >>> chart = MultiCUSUM(ks=(0.25, 1.0), arl0=500, mean=0.0, sd=1.0)
    >>> alarm = next(a for a in (chart.update(3.0) for _ in range(20)) if a)
    >>> alarm.direction, alarm.samples
    ('up', 2)
    """

    name: ClassVar[str] = "multi_cusum"

    def __init__(
        self,
        ks: Sequence[float] = (0.1, 0.25, 0.5),
        arl0: float = 10_000.0,
        mean: float | None = None,
        sd: float | None = None,
        warmup: int = 1000,
    ) -> None:
        if isinstance(ks, str | bytes) or not isinstance(ks, Sequence) or not ks:
            raise ValueError(f"ks must be a non-empty sequence of references, got {ks!r}")
        self.ks = tuple(non_negative("ks", k) for k in ks)
        if len(set(self.ks)) != len(self.ks):
            raise ValueError(f"ks must be distinct, got {ks!r}")
        self.arl0 = positive("arl0", arl0)
        self.warmup = at_least("warmup", warmup, 2)
        self.charts = [
            CUSUM(k=k, arl0=self.arl0 * len(self.ks), mean=mean, sd=sd, warmup=warmup)
            for k in self.ks
        ]
        self.mean, self.sd = self.charts[0].mean, self.charts[0].sd
        self.samples = 0

    def reset(self) -> None:
        for chart in self.charts:
            chart.reset()
        self.samples = 0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        alarms = [a for a in (chart.update(v) for chart in self.charts) if a is not None]
        if not alarms:
            return None
        first = max(alarms, key=lambda a: a.statistic - a.threshold)
        alarm = Alarm(
            detector=self.name,
            statistic=first.statistic,
            threshold=first.threshold,
            samples=self.samples,
            window=first.window,
            direction=first.direction,
        )
        self.reset()
        return alarm

    def state(self) -> dict[str, Any]:
        return {"charts": [chart.state() for chart in self.charts], "samples": self.samples}

    def load(self, state: Mapping[str, Any]) -> None:
        charts = state["charts"]
        if len(charts) != len(self.charts):
            raise ValueError(f"multi_cusum state: {len(charts)} charts for {len(self.ks)} ks")
        for chart, chart_state in zip(self.charts, charts, strict=True):
            chart.load(chart_state)
        self.samples = int(state["samples"])
