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
    """Running counts of shadow comparisons (a fold over logged shadow decisions), and the
    inverse-propensity estimate of the challenger's mean reward from the served outcomes.

    IPS (Horvitz & Thompson 1952; for bandits, Li et al. 2011, "Unbiased offline evaluation"):
    an outcome whose served arm is the one the challenger chose counts ``reward / p``, with
    ``p`` the probability with which the *served* policy chose that arm; every other outcome
    counts 0. Averaged over all scored outcomes this estimates, without bias, the reward the
    challenger would have earned, provided the served policy gives every arm the challenger
    picks a positive probability (a deterministic champion such as LinUCB does not: then the
    estimate covers only what they agreed on, and ``agreement_rate`` says how much that is).
    """

    compared: int = 0
    agreed: int = 0
    disagreements: dict[str, int] = msgspec.field(default_factory=dict)
    """``"served->shadow"`` -> count, in first-seen order."""
    scored: int = 0
    """Outcomes with a reward of decisions that had a shadow choice."""
    served_reward_sum: float = 0.0
    ips_reward_sum: float = 0.0

    def score(self, decision: ShadowDecision, reward: float, served_propensity: float) -> None:
        """Fold one outcome of a shadowed decision (``served_propensity`` in (0, 1])."""
        self.scored += 1
        self.served_reward_sum += reward
        if decision.agrees:
            self.ips_reward_sum += reward / served_propensity

    @property
    def served_mean(self) -> float | None:
        return self.served_reward_sum / self.scored if self.scored else None

    @property
    def shadow_ips_mean(self) -> float | None:
        """The challenger's estimated mean reward on the served traffic."""
        return self.ips_reward_sum / self.scored if self.scored else None

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
