"""The totals of a routed run over any number of arms: cost, quality, latency, reward, regret.

Pure bookkeeping shared by the offline protocol, the live driver and every baseline, so a live
run and its offline computation are compared field by field (``Tally`` is a Struct: ``==``
compares every total).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import msgspec


class Outcome(Protocol):
    """What calling one arm on one request gave, as a workload reports it."""

    @property
    def arm(self) -> str: ...
    @property
    def quality(self) -> float:
        """The quality score in [0, 1]: 1/0 for a right/wrong answer, or a graded score."""
        ...

    @property
    def cost_usd(self) -> float: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def latency_ms(self) -> float | None:
        """None for a workload that has no latency (the RouteLLM data)."""
        ...


class Tally(msgspec.Struct, kw_only=True):
    """Totals of a run: what the routed traffic cost, how good it was, and regret."""

    prompts: int = 0
    correct: int = 0
    """Outcomes of full quality (quality 1): the correct answers of a right/wrong workload."""
    quality: float = 0.0
    """The sum of the quality scores."""
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    """The sum of the reported latencies (0 for a workload without latency)."""
    reward: float = 0.0
    oracle_reward: float = 0.0
    arms: dict[str, int] = msgspec.field(default_factory=dict)
    """Calls per arm; :meth:`over` starts every arm at 0 so unused arms show."""

    @classmethod
    def over(cls, arms: Iterable[str]) -> Tally:
        return cls(arms=dict.fromkeys(arms, 0))

    def add(self, outcome: Outcome, reward: float, oracle_reward: float) -> None:
        self.prompts += 1
        self.correct += outcome.quality >= 1.0
        self.quality += outcome.quality
        self.cost_usd += outcome.cost_usd
        self.latency_ms += outcome.latency_ms or 0.0
        self.reward += reward
        self.oracle_reward += oracle_reward
        self.arms[outcome.arm] = self.arms.get(outcome.arm, 0) + 1

    @property
    def accuracy(self) -> float:
        """Mean quality: the share answered correctly when quality is right (1) or wrong (0)."""
        return self.quality / self.prompts if self.prompts else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms / self.prompts if self.prompts else 0.0

    @property
    def regret(self) -> float:
        """Sum over prompts of the best arm's reward minus the chosen arm's (per-prompt oracle)."""
        return self.oracle_reward - self.reward
