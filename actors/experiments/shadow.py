"""Shadow mode: the challenger decides on every request, but only the champion's choice serves.

Shadow mode tests a new policy on live traffic at no risk: its decision is computed and logged
beside the served one, never acted on. Its outcome cannot be observed (the user saw the
champion's answer), so what shadow mode can measure is how the two disagree: the agreement rate
and, per (served, shadow) pair, how often each disagreement happens. Where they agree, the
served outcome is also the challenger's; where they disagree, an off-policy estimate needs the
challenger's propensity, which the logged decision carries.
"""

from __future__ import annotations

import msgspec

__all__ = ["ShadowDecision", "ShadowTally", "shadow_decision"]


class ShadowDecision(msgspec.Struct, frozen=True, kw_only=True):
    served: str
    """What the request gets: always the champion's choice."""
    shadow: str
    """What the challenger would have chosen: logged, not served."""

    @property
    def agrees(self) -> bool:
        return self.served == self.shadow


def shadow_decision(champion_choice: str, challenger_choice: str) -> ShadowDecision:
    """Serve the champion, keep the challenger's choice for the log."""
    return ShadowDecision(served=champion_choice, shadow=challenger_choice)


class ShadowTally(msgspec.Struct, kw_only=True):
    """Running counts of shadow comparisons (a fold over logged shadow decisions)."""

    compared: int = 0
    agreed: int = 0
    disagreements: dict[str, int] = msgspec.field(default_factory=dict)
    """``"served->shadow"`` -> count, in first-seen order."""

    def record(self, decision: ShadowDecision) -> None:
        self.compared += 1
        if decision.agrees:
            self.agreed += 1
        else:
            key = f"{decision.served}->{decision.shadow}"
            self.disagreements[key] = self.disagreements.get(key, 0) + 1

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None
