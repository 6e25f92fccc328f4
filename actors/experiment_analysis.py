"""The experiment's running analysis: guardrails, canary health, champion/challenger, SRM.

Part of the experiment aggregate's state and folded with it, so it is deterministic and
replays to the same bytes. Every ``look_every`` joined outcomes of a ``split`` or ``canary``
experiment (see :class:`~actors.experiments.plan.ExperimentPlan`) it takes one look: folds
each treatment's guardrail and primary-metric contrasts (always-valid tests, safe to read at
every look), then decides what the experiment should do next and keeps that as
:class:`Proposal` s: a guardrail breach (then pause, or roll back), a canary stage advanced or
completed, a challenger promoted and the experiment completed, a sample-ratio mismatch.

A proposal is not an action. The experiment's actor appends the proposed events to the log
(the ledger's ``outbox``, sent by ``actors.host``) under the proposal's deterministic event id
(so a repeated proposal is deduplicated by the log), and the proposal disappears when its
event is folded. So the decisions are pure functions of the log, and the log records them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

from actors.experiments.canary import (
    CanaryState,
    canary_fraction,
    step_canary,
)
from actors.experiments.contrast import ContrastMonitor, observe_contrast
from actors.experiments.guardrails import GuardrailBreach, GuardrailMonitor, check_guardrails
from actors.experiments.lifecycle import Status
from actors.experiments.metrics import ArmMetrics
from actors.experiments.plan import ExperimentPlan
from actors.experiments.stopping import evaluate_stop
from actors.statistics import SampleSummary, sample_ratio_mismatch
from events.schema import (
    CanaryAdvanced,
    CanaryRolledBack,
    ChallengerPromoted,
    Event,
    ExperimentCompleted,
    ExperimentPaused,
    ExperimentResumed,
    GuardrailBreached,
    SampleRatioMismatch,
)

__all__ = ["Analysis", "Proposal", "proposal_events"]

ProposalKind = Literal["breach", "pause", "rollback", "advance", "promote", "complete", "srm"]


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """One event the experiment should append, with its deterministic id."""

    event_id: str
    kind: ProposalKind
    arm: str | None = None
    metric: str | None = None
    action: str = ""
    stage: int = 0
    fraction: float = 0.0
    p_value: float = 0.0
    observed: dict[str, int] = msgspec.field(default_factory=dict)
    reason: str = ""


class Analysis(msgspec.Struct, kw_only=True):
    metrics: dict[str, ArmMetrics] = msgspec.field(default_factory=dict)
    """Quality, cost and latency per arm, from outcomes of serving decisions."""
    decisions: dict[str, int] = msgspec.field(default_factory=dict)
    """Decisions per arm made while running: the counts the SRM check compares."""
    since_look: int = 0
    looks: int = 0
    guardrails: dict[str, GuardrailMonitor] = msgspec.field(default_factory=dict)
    """Per treatment arm: its guardrail contrasts against the control."""
    primary: dict[str, ContrastMonitor] = msgspec.field(default_factory=dict)
    """Per treatment arm: its reward contrast against the control."""
    canary: CanaryState = msgspec.field(default_factory=CanaryState)
    srm_p_value: float | None = None
    srm_raised: bool = False
    proposals: list[Proposal] = msgspec.field(default_factory=list)

    def observe(
        self, arm: str, *, quality: float | None, cost_usd: float | None, latency_ms: float | None
    ) -> None:
        self.metrics.setdefault(arm, ArmMetrics()).observe(
            quality=quality, cost_usd=cost_usd, latency_ms=latency_ms
        )
        self.since_look += 1

    def canary_fraction(self, plan: ExperimentPlan) -> float:
        return canary_fraction(plan.canary, self.canary)

    def applied(self, event: Event, challenger_outcomes: int) -> None:
        """Fold a lifecycle event: drop the proposal it fulfils, move the canary."""
        if isinstance(event, CanaryAdvanced) and self.canary.status == "rolling":
            if event.stage > self.canary.stage:
                self.canary = CanaryState(
                    stage=event.stage, stage_start_samples=challenger_outcomes, reason=event.reason
                )
        elif isinstance(event, CanaryRolledBack):
            self.canary = CanaryState(
                stage=self.canary.stage,
                status="rolled_back",
                stage_start_samples=self.canary.stage_start_samples,
                reason=event.reason,
            )
        elif isinstance(event, ChallengerPromoted) and self.canary.status == "rolling":
            self.canary = CanaryState(
                stage=self.canary.stage,
                status="complete",
                stage_start_samples=challenger_outcomes,
                reason=event.reason,
            )
        elif isinstance(event, SampleRatioMismatch):
            self.srm_raised = True
        elif isinstance(event, ExperimentResumed):
            # A resume after a breach is an operator saying "fixed": the guardrails judge the
            # data from here on, or the old breach would pause the experiment again at once.
            self.metrics = {}
            self.guardrails = {}
        self.proposals = [p for p in self.proposals if p.event_id != event.event_id]

    def look(
        self,
        entity_id: str,
        plan: ExperimentPlan,
        *,
        arms: Sequence[str],
        rewards: Mapping[str, SampleSummary],
        decisions: Mapping[str, int],
        status: Status,
        elapsed_s: float,
    ) -> None:
        """One look at the data: fold the monitors and replace the proposals."""
        self.looks += 1
        self.since_look = 0
        control = plan.control
        finished_canary = plan.mode == "canary" and self.canary.status != "rolling"
        if control is None or status is not Status.RUNNING or finished_canary:
            self.proposals = []
            return
        tag = f"auto:{entity_id}"
        n = self.looks
        proposals: list[Proposal] = self._srm(tag, plan, arms, decisions)
        treatments = [t for t in plan.treatments(arms) if t in arms]
        stopping = plan.stopping
        empty = ArmMetrics()
        breaches: list[tuple[str, GuardrailBreach]] = []
        for arm in treatments:
            monitor, found = check_guardrails(
                plan.guardrails,
                self.guardrails.get(arm, GuardrailMonitor()),
                self.metrics.get(control, empty),
                self.metrics.get(arm, empty),
                alpha=stopping.alpha,
                n_star=stopping.n_star,
                min_samples=plan.guardrail_min_samples,
            )
            self.guardrails[arm] = monitor
            breaches += [(arm, b) for b in found]
            self.primary[arm] = observe_contrast(
                self.primary.get(arm, ContrastMonitor()),
                rewards.get(control, _EMPTY),
                rewards.get(arm, _EMPTY),
                alpha=stopping.alpha,
                n_star=stopping.n_star,
                min_samples=min(stopping.min_samples_per_variant, plan.guardrail_min_samples),
            )
        if breaches:
            self.proposals = proposals + self._on_breach(tag, n, plan, breaches, rewards)
            return
        if plan.mode == "canary":
            proposals += self._canary(tag, n, plan, rewards)
        elif plan.auto_promote:
            proposals += self._verdict(tag, n, plan, treatments, rewards, elapsed_s)
        self.proposals = proposals

    def _srm(
        self, tag: str, plan: ExperimentPlan, arms: Sequence[str], decisions: Mapping[str, int]
    ) -> list[Proposal]:
        if plan.mode != "split":
            return []
        weights = [plan.weights.get(a, 1.0) if plan.weights else 1.0 for a in arms]
        observed = [decisions.get(a, 0) for a in arms]
        if sum(observed) < 2 * len(arms):
            return []
        test = sample_ratio_mismatch(observed, weights)
        self.srm_p_value = test.p_value
        if not test.mismatch or self.srm_raised:
            return []
        shares = ", ".join(f"{a}={o}" for a, o in zip(arms, observed, strict=True))
        return [
            Proposal(
                event_id=f"{tag}:srm",
                kind="srm",
                p_value=test.p_value,
                observed=dict(zip(arms, observed, strict=True)),
                reason=(
                    f"sample ratio mismatch: decisions {shares} do not match the split "
                    f"(chi-square p = {test.p_value:.3g} < {test.threshold})"
                ),
            )
        ]

    def _on_breach(
        self,
        tag: str,
        n: int,
        plan: ExperimentPlan,
        breaches: list[tuple[str, GuardrailBreach]],
        rewards: Mapping[str, SampleSummary],
    ) -> list[Proposal]:
        rollback = plan.mode == "canary" or any(b.action == "rollback" for _, b in breaches)
        action = "rollback" if rollback else "pause"
        proposals = [
            Proposal(
                event_id=f"{tag}:breach:{arm}:{b.metric}:{n}",
                kind="breach",
                arm=arm,
                metric=b.metric,
                action=action,
                reason=f"{arm}: {b.reason}",
            )
            for arm, b in breaches
        ]
        reason = "; ".join(f"{arm}: {b.reason}" for arm, b in breaches)
        if plan.mode == "canary":
            step = step_canary(
                plan.canary, self.canary, _count(rewards, plan.challenger), [b for _, b in breaches]
            )
            if step.change == "rolled_back":
                proposals.append(
                    Proposal(
                        event_id=f"{tag}:rollback:{n}",
                        kind="rollback",
                        stage=self.canary.stage,
                        reason=step.reason,
                    )
                )
        elif rollback:
            proposals.append(
                Proposal(
                    event_id=f"{tag}:complete:{n}",
                    kind="complete",
                    arm=plan.control,
                    reason=f"rolled back to {plan.control}: {reason}",
                )
            )
        else:
            proposals.append(Proposal(event_id=f"{tag}:pause:{n}", kind="pause", reason=reason))
        return proposals

    def _canary(
        self, tag: str, n: int, plan: ExperimentPlan, rewards: Mapping[str, SampleSummary]
    ) -> list[Proposal]:
        step = step_canary(plan.canary, self.canary, _count(rewards, plan.challenger), [])
        if step.change == "advanced":
            stage = step.state.stage
            return [
                Proposal(
                    event_id=f"{tag}:advance:{stage}",
                    kind="advance",
                    stage=stage,
                    fraction=plan.canary.stages[stage],
                    reason=step.reason,
                )
            ]
        if step.change == "completed":
            return [
                Proposal(
                    event_id=f"{tag}:promote:{plan.challenger}:{n}",
                    kind="promote",
                    arm=plan.challenger,
                    reason=f"canary complete: {step.reason}",
                ),
                Proposal(
                    event_id=f"{tag}:complete:{n}",
                    kind="complete",
                    arm=plan.challenger,
                    reason=f"canary complete: {step.reason}",
                ),
            ]
        return []

    def _verdict(
        self,
        tag: str,
        n: int,
        plan: ExperimentPlan,
        treatments: list[str],
        rewards: Mapping[str, SampleSummary],
        elapsed_s: float,
    ) -> list[Proposal]:
        control = plan.control
        assert control is not None
        decision = evaluate_stop(
            plan.stopping,
            elapsed_s=elapsed_s,
            samples={a: _count(rewards, a) for a in [control, *treatments]},
            control_mean=rewards.get(control, _EMPTY).mean,
            monitors={t: self.primary.get(t, ContrastMonitor()) for t in treatments},
        )
        if not decision.stop:
            return []
        if decision.reason == "significant" and decision.winner is not None:
            reason = f"{decision.winner} is better than {control}: {decision.detail}"
            return [
                Proposal(
                    event_id=f"{tag}:promote:{decision.winner}:{n}",
                    kind="promote",
                    arm=decision.winner,
                    reason=reason,
                ),
                Proposal(
                    event_id=f"{tag}:complete:{n}",
                    kind="complete",
                    arm=decision.winner,
                    reason=reason,
                ),
            ]
        return [
            Proposal(
                event_id=f"{tag}:complete:{n}",
                kind="complete",
                arm=control,
                reason=f"{control} stays: {decision.reason}: {decision.detail}",
            )
        ]


_EMPTY = SampleSummary(0, float("nan"), float("nan"))


def _count(rewards: Mapping[str, SampleSummary], arm: str | None) -> int:
    return rewards[arm].n if arm is not None and arm in rewards else 0


def proposal_events(entity_id: str, proposals: Sequence[Proposal], at: float) -> list[Event]:
    """The events that carry out ``proposals``, in order, stamped ``at``."""
    return [_event(entity_id, p, at) for p in proposals]


def _event(entity_id: str, p: Proposal, at: float) -> Event:
    eid, r = p.event_id, p.reason
    if p.kind == "breach":
        return GuardrailBreached(
            event_id=eid,
            entity_id=entity_id,
            at=at,
            reason=r,
            metric=p.metric or "",
            arm=p.arm or "",
            action=p.action,
        )
    if p.kind == "pause":
        return ExperimentPaused(event_id=eid, entity_id=entity_id, at=at, reason=r)
    if p.kind == "rollback":
        return CanaryRolledBack(event_id=eid, entity_id=entity_id, at=at, reason=r, stage=p.stage)
    if p.kind == "advance":
        return CanaryAdvanced(
            event_id=eid, entity_id=entity_id, at=at, reason=r, stage=p.stage, fraction=p.fraction
        )
    if p.kind == "promote":
        return ChallengerPromoted(
            event_id=eid, entity_id=entity_id, at=at, reason=r, arm=p.arm or ""
        )
    if p.kind == "complete":
        return ExperimentCompleted(event_id=eid, entity_id=entity_id, at=at, reason=r, winner=p.arm)
    return SampleRatioMismatch(
        event_id=eid, entity_id=entity_id, at=at, reason=r, p_value=p.p_value, observed=p.observed
    )
