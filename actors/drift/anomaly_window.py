"""What the point-anomaly detectors (z-score, IQR, MAD) share: a sliding window of history."""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from actors.drift.base import Alarm, Detector, at_least, observation


class AnomalyWindow(Detector):
    """Score each observation against the ``window`` observations before it.

    Nothing is scored until ``min_samples`` observations are in the window. A score above the
    detector's threshold is an alarm; the observation then joins the window like any other
    (a point anomaly does not restart the detector: a lasting shift is the drift detectors'
    business, and the window soon takes it in). Subclasses implement :meth:`score`.
    """

    def __init__(self, window: int, min_samples: int) -> None:
        self.window = at_least("window", window, 3)
        self.min_samples = at_least("min_samples", min_samples, 3)
        if self.min_samples > self.window:
            raise ValueError(f"min_samples ({min_samples}) must not exceed window ({window})")
        self.reset()

    @property
    @abc.abstractmethod
    def limit(self) -> float:
        """The score above which an observation is an anomaly."""

    @abc.abstractmethod
    def score(self, history: np.ndarray, x: float) -> tuple[float, float]:
        """``(score, centre)`` of ``x`` against ``history``: a non-negative score and the
        centre it was measured from (for the alarm's direction)."""

    def reset(self) -> None:
        self.history: deque[float] = deque(maxlen=self.window)
        self.samples = 0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        alarm = None
        if len(self.history) >= self.min_samples:
            s, centre = self.score(np.fromiter(self.history, dtype=np.float64), v)
            if s > self.limit:
                alarm = Alarm(
                    detector=self.name,
                    statistic=s,
                    threshold=self.limit,
                    samples=self.samples,
                    window=len(self.history),
                    direction="up" if v > centre else "down",
                )
        self.history.append(v)
        return alarm

    def state(self) -> dict[str, Any]:
        return {"history": list(self.history), "samples": self.samples}

    def load(self, state: Mapping[str, Any]) -> None:
        history = [float(v) for v in state["history"]]
        if len(history) > self.window:
            raise ValueError(
                f"{self.name} state: {len(history)} values for a window of {self.window}"
            )
        self.history = deque(history, maxlen=self.window)
        self.samples = int(state["samples"])
