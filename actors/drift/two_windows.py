"""The scaffold of the tests that compare a reference window with the current one (KS, PSI).

After a (re)start the first ``reference_size`` observations are the reference; from then on
the last ``window_size`` observations are the current window, and every ``every``
observations (once it is full) the subclass compares the two. An alarm restarts the test, so
the observations after a change become the new reference and one change gives one alarm.
"""

from __future__ import annotations

import abc
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from actors.drift.base import Alarm, Detector, observation


class TwoWindowTest(Detector):
    """Subclasses set ``reference_size``, ``window_size`` and ``every`` in ``__init__``, call
    :meth:`reset`, and say in :meth:`compare` whether the windows differ."""

    reference_size: int
    window_size: int
    every: int

    @abc.abstractmethod
    def compare(self, reference: Sequence[float], current: Sequence[float]) -> float | None:
        """The statistic of the comparison if the windows differ, else None."""

    @property
    @abc.abstractmethod
    def level(self) -> float:
        """What the alarm reports as its threshold (a significance level, an index)."""

    def reset(self) -> None:
        self.reference: list[float] = []
        self.window: deque[float] = deque(maxlen=self.window_size)
        self.samples = 0
        self.since_test = 0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        if len(self.reference) < self.reference_size:
            self.reference.append(v)
            return None
        self.window.append(v)
        self.since_test += 1
        if len(self.window) < self.window_size or self.since_test < self.every:
            return None
        self.since_test = 0
        statistic = self.compare(self.reference, list(self.window))
        if statistic is None:
            return None
        ref_mean = math.fsum(self.reference) / len(self.reference)
        cur_mean = math.fsum(self.window) / len(self.window)
        alarm = Alarm(
            detector=self.name,
            statistic=statistic,
            threshold=self.level,
            samples=self.samples,
            window=len(self.window),
            direction="up" if cur_mean > ref_mean else "down",
        )
        self.reset()
        return alarm

    def state(self) -> dict[str, Any]:
        return {
            "reference": list(self.reference),
            "window": list(self.window),
            "samples": self.samples,
            "since_test": self.since_test,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        reference = [float(v) for v in state["reference"]]
        window = [float(v) for v in state["window"]]
        if len(reference) > self.reference_size or len(window) > self.window_size:
            raise ValueError(f"{self.name} state: a window is longer than its configured size")
        self.reference = reference
        self.window = deque(window, maxlen=self.window_size)
        self.samples = int(state["samples"])
        self.since_test = int(state["since_test"])
