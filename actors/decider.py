"""One decision, computed from an experiment's state without changing it.

Pure: the caller supplies the time and the decision id. The generator is seeded from the
experiment's seed and the decision id, and the request's context is logged with the decision,
so ``DecisionMade`` is enough to re-derive and audit every choice. A request carrying a
``request_id`` gets a decision id derived from it, so a retried request is the same decision
(same arm, same propensity) and its event is deduplicated by the log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import msgspec

from actors.catalogue import Eligibility, eligible_arms
from actors.context_features import ContextError
from actors.experiment_ledger import ExperimentLedger
from actors.experiments.assignment import Split, in_fraction
from actors.experiments.lifecycle import Status
from actors.policies import Choice, DecisionRngs
from actors.policies.base import FloatArray
from events.schema import DecisionMade

MAX_BATCH = 1000


class DecideRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    request_id: str | None = None
    constraints: Eligibility | None = None
    """Per-request limits: tokens vs. context window, budget, latency SLA, tiers, exclusions."""


class DecideBatchRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    requests: list[DecideRequest]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to a decide request (and, with the context, the logged event)."""

    decision_id: str
    experiment: str
    arm: str
    propensity: float
    fallback: bool = False
    reason: str | None = None
    """Why the fallback arm was served, when it was."""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    """The arm's model parameters or prompt variant, from the catalogue."""
    model: str | None = None
    removed: dict[str, str] = msgspec.field(default_factory=dict)
    """Arms this request made ineligible, with the reason."""
    missing_features: list[str] = msgspec.field(default_factory=list)


class DecisionRefused(ValueError):
    """The request cannot be decided; ``field`` names the part of the request at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def decision_id_for(experiment_id: str, request_id: str | None) -> str:
    if request_id is None:
        # 128 random bits as 32 hex digits, the shape of uuid4().hex at a fifth of its cost
        return f"{experiment_id}:{os.urandom(16).hex()}"
    digest = hashlib.blake2b(request_id.encode("utf-8"), digest_size=12).hexdigest()
    return f"{experiment_id}:r{digest}"


def experiment_of(decision_id: str) -> str:
    """The experiment a decision id belongs to (the part before the first ``:``)."""
    experiment, sep, rest = decision_id.partition(":")
    if not sep or not experiment or not rest:
        raise DecisionRefused("invalid_request", "not a decision id of this service", "decision_id")
    return experiment


def decide(
    ledger: ExperimentLedger, request: DecideRequest, *, decision_id: str, now: float
) -> tuple[Decision, DecisionMade]:
    """Choose an arm for ``request``; returns the reply and the event to log."""
    outcome = decide_many(ledger, [request], decision_ids=[decision_id], now=now)[0]
    if isinstance(outcome, DecisionRefused):
        raise outcome
    return outcome


def decide_many(
    ledger: ExperimentLedger,
    requests: Sequence[DecideRequest],
    *,
    decision_ids: Sequence[str],
    now: float,
) -> list[tuple[Decision, DecisionMade] | DecisionRefused]:
    """Decide every request, each as :func:`decide` would alone, in one pass over the policy.

    Requests that leave the same arms eligible are chosen by one ``choose_batch`` call (one
    matrix product for a linear policy instead of one per request); each still draws from its
    own decision's generator. A refused request is returned as its ``DecisionRefused`` in its
    place and takes nothing from the others.
    """
    policy, settings = ledger.policy, ledger.settings
    if not ledger.created or policy is None or settings is None:
        missing = DecisionRefused("not_found", f"experiment {ledger.entity_id!r} does not exist")
        return [missing] * len(requests)
    if ledger.archived:
        archived = DecisionRefused(
            "invalid_transition", f"experiment {ledger.entity_id!r} is archived"
        )
        return [archived] * len(requests)
    if ledger.lifecycle.status is not Status.RUNNING:
        return [
            _not_running_or_refused(ledger, r, d, now)
            for r, d in zip(requests, decision_ids, strict=True)
        ]
    results: list[tuple[Decision, DecisionMade] | DecisionRefused | None] = [None] * len(requests)
    vectors: list[FloatArray | None] = [None] * len(requests)
    missing_of: list[list[str]] = [[] for _ in requests]
    removed_of: list[dict[str, str]] = [{} for _ in requests]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, request in enumerate(requests):
        try:
            vectors[i], missing_of[i] = ledger.context_vector(request.context)
        except ContextError as exc:
            results[i] = DecisionRefused("invalid_request", exc.message, f"context.{exc.field}")
            continue
        eligible, removed_of[i] = eligible_arms(
            settings.catalogue, policy.arms, request.constraints or _NO_LIMITS
        )
        planned = planned_arm(ledger, request, decision_ids[i], eligible)
        if planned is not None:
            results[i] = _decided(
                ledger,
                request,
                decision_ids[i],
                now,
                planned[0],
                planned[1],
                vectors[i],
                missing_of[i],
                removed_of[i],
                reason=None,
            )
        elif eligible:
            groups.setdefault(tuple(eligible), []).append(i)
        elif ledger.fallback_arm is not None:
            results[i] = _decided(
                ledger,
                requests[i],
                decision_ids[i],
                now,
                ledger.fallback_arm,
                1.0,
                vectors[i],
                missing_of[i],
                removed_of[i],
                reason="no_eligible_arm",
            )
        else:
            results[i] = DecisionRefused(
                "no_eligible_arm", f"no arm fits this request: {removed_of[i]}", "constraints"
            )
    for eligible_arms_, members in groups.items():
        ids = [decision_ids[i] for i in members]
        contexts = [vectors[i] for i in members]
        choices = policy.choose_batch(eligible_arms_, contexts, DecisionRngs(ledger.seed, ids))
        shadows = _shadow_choices(ledger, eligible_arms_, contexts, ids)
        for i, choice, shadow in zip(members, choices, shadows, strict=True):
            results[i] = _decided(
                ledger,
                requests[i],
                decision_ids[i],
                now,
                choice.arm,
                choice.propensity,
                vectors[i],
                missing_of[i],
                removed_of[i],
                reason=None,
                shadow=shadow,
            )
    return [result for result in results if result is not None]


def _shadow_choices(
    ledger: ExperimentLedger,
    eligible: Sequence[str],
    contexts: list[FloatArray | None],
    decision_ids: list[str],
) -> Sequence[Choice | None]:
    """The shadow challenger's choices for a group (its own generators, so the served
    choices are the same with or without it), or Nones without a challenger."""
    shadow = ledger.shadow_policy
    if shadow is None:
        return [None] * len(decision_ids)
    ids = [f"shadow:{decision_id}" for decision_id in decision_ids]
    return shadow.choose_batch(eligible, contexts, DecisionRngs(ledger.seed, ids))


_NO_LIMITS = Eligibility()


def _decided(
    ledger: ExperimentLedger,
    request: DecideRequest,
    decision_id: str,
    now: float,
    arm: str,
    propensity: float,
    x: FloatArray | None,
    missing: list[str],
    removed: dict[str, str],
    *,
    reason: str | None,
    shadow: Choice | None = None,
) -> tuple[Decision, DecisionMade]:
    spec = ledger.settings.catalogue.get(arm) if ledger.settings is not None else None
    decision = Decision(
        decision_id=decision_id,
        experiment=ledger.entity_id,
        arm=arm,
        propensity=propensity,
        fallback=reason is not None,
        reason=reason,
        params=dict(spec.params) if spec is not None else {},
        model=spec.model if spec is not None else None,
        removed=removed,
        missing_features=missing,
    )
    event = DecisionMade(
        event_id=decision_id,
        entity_id=ledger.entity_id,
        at=now,
        decision_id=decision_id,
        arm=arm,
        propensity=propensity,
        context=request.context,
        x=None if x is None else x.astype("<f8").tobytes(),
        missing_features=tuple(missing),
        shadow_arm=None if shadow is None else shadow.arm,
        shadow_propensity=None if shadow is None else shadow.propensity,
    )
    return decision, event


def planned_arm(
    ledger: ExperimentLedger, request: DecideRequest, decision_id: str, eligible: list[str]
) -> tuple[str, float] | None:
    """The arm of a ``split`` or ``canary`` experiment, sticky by the request's unit id.

    The unit is ``context[unit_key]`` (default ``unit_id``), else the ``request_id``, else
    the decision id (then not sticky). The propensity is the arm's share of units. An arm the
    request's constraints rule out is not served by the plan: the policy (or fallback)
    decides instead, as for any request. None for a ``policy`` experiment.
    """
    settings = ledger.settings
    if settings is None or not settings.experiment.analysed:
        return None
    plan = settings.experiment
    raw = request.context.get(plan.unit_key)
    unit = str(raw) if raw is not None else (request.request_id or decision_id)
    if plan.mode == "canary":
        fraction = ledger.analysis.canary_fraction(plan)
        assert plan.challenger is not None
        assert plan.control is not None
        if in_fraction(unit, ledger.entity_id, fraction):
            arm, propensity = plan.challenger, fraction
        else:
            arm, propensity = plan.control, 1.0 - fraction
    else:
        active = [a for a in ledger.arms if a not in ledger.retired_arms]
        split = Split(
            variants=tuple(active),
            weights=tuple(plan.weights.get(a, 1.0) if plan.weights else 1.0 for a in active),
        )
        arm = split.assign(unit, ledger.entity_id)
        propensity = split.shares[arm]
    return (arm, propensity) if arm in eligible else None


def _not_running(
    ledger: ExperimentLedger, request: DecideRequest, *, decision_id: str, now: float
) -> tuple[Decision, DecisionMade]:
    """A draft, paused or complete experiment serves its champion: the promoted arm or the
    winner, else the plan's control, else the fallback arm.

    The reply says why in ``reason`` (``experiment_draft``, ``experiment_paused``,
    ``experiment_complete``) with ``fallback: true``, so a client can tell it from a choice of
    the policy. The decision is logged like any other (its outcome still arrives), and the
    ledger marks it as not serving the experiment so the policy does not learn from it.
    Without a champion or fallback arm there is nothing to serve: a ``not_running`` error.
    """
    status = ledger.lifecycle.status
    settings = ledger.settings
    control = settings.experiment.control if settings is not None else None
    arm = ledger.lifecycle.serving_arm(control if control is not None else ledger.fallback_arm)
    if arm is None:
        raise DecisionRefused(
            "not_running",
            f"experiment {ledger.entity_id!r} is {status.value} and has no champion or "
            "fallback arm to serve",
        )
    spec = settings.catalogue.get(arm) if settings is not None else None
    decision = Decision(
        decision_id=decision_id,
        experiment=ledger.entity_id,
        arm=arm,
        propensity=1.0,
        fallback=True,
        reason=f"experiment_{status.value}",
        params=dict(spec.params) if spec is not None else {},
        model=spec.model if spec is not None else None,
    )
    event = DecisionMade(
        event_id=decision_id,
        entity_id=ledger.entity_id,
        at=now,
        decision_id=decision_id,
        arm=arm,
        propensity=1.0,
        context=request.context,
    )
    return decision, event


def _not_running_or_refused(
    ledger: ExperimentLedger, request: DecideRequest, decision_id: str, now: float
) -> tuple[Decision, DecisionMade] | DecisionRefused:
    try:
        return _not_running(ledger, request, decision_id=decision_id, now=now)
    except DecisionRefused as refused:
        return refused


def fallback_decision(
    experiment_id: str, fallback_arm: str, *, request_id: str | None, reason: str
) -> Decision:
    """What the gateway answers when the experiment's actor cannot: the configured fallback."""
    return Decision(
        decision_id=decision_id_for(experiment_id, request_id),
        experiment=experiment_id,
        arm=fallback_arm,
        propensity=1.0,
        fallback=True,
        reason=reason,
    )
