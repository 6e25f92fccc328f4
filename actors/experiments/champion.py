"""Champion/challenger: promote a challenger that is statistically better, keep it otherwise.

The champion serves; the challenger gets a share of traffic (a fixed split or a canary). After
every batch the primary metric's contrast challenger minus champion is folded into an
always-valid monitor (:mod:`actors.experiments.contrast`) and judged by the experiment's
:class:`~actors.experiments.stopping.StoppingRule`, so the promotion can be checked
continuously without the peeking error that repeated fixed-horizon tests make. Guardrails come
first: a challenger that breaches one is never promoted, whatever its primary metric says.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from actors.experiments.contrast import ContrastMonitor, observe_contrast
from actors.experiments.guardrails import GuardrailBreach
from actors.experiments.stopping import StoppingRule, evaluate_stop
from actors.statistics import SampleSummary

__all__ = ["ChallengerVerdict", "evaluate_challenger"]

Verdict = Literal["promote", "keep_champion", "continue"]


class ChallengerVerdict(msgspec.Struct, frozen=True, kw_only=True):
    action: Verdict
    reason: str
    monitor: ContrastMonitor
    """The monitor after this look: keep it in the state for the next one."""


def evaluate_challenger(
    rule: StoppingRule,
    monitor: ContrastMonitor,
    *,
    champion: SampleSummary,
    challenger: SampleSummary,
    elapsed_s: float,
    breaches: list[GuardrailBreach],
) -> ChallengerVerdict:
    """One look: fold the primary-metric contrast, then decide promote / keep / continue."""
    monitor = observe_contrast(
        monitor,
        champion,
        challenger,
        alpha=rule.alpha,
        n_star=rule.n_star,
        min_samples=rule.min_samples_per_variant,
    )
    if breaches:
        reason = "; ".join(b.reason for b in breaches)
        return ChallengerVerdict(action="keep_champion", reason=reason, monitor=monitor)
    decision = evaluate_stop(
        rule,
        elapsed_s=elapsed_s,
        samples={"champion": champion.n, "challenger": challenger.n},
        control_mean=champion.mean,
        monitors={"challenger": monitor},
    )
    if decision.stop and decision.reason == "significant":
        return ChallengerVerdict(
            action="promote",
            reason=decision.detail.replace(
                "challenger beats control", "the challenger beats the champion"
            ),
            monitor=monitor,
        )
    if decision.stop:
        return ChallengerVerdict(action="keep_champion", reason=decision.detail, monitor=monitor)
    return ChallengerVerdict(action="continue", reason=decision.detail, monitor=monitor)
