"""One decision, computed from an experiment's state without changing it.

Pure: the caller supplies the time and the decision id. The generator is seeded from the
experiment's seed and the decision id, and the request's context is logged with the decision,
so ``DecisionMade`` is enough to re-derive and audit every choice. A request carrying a
``request_id`` gets a decision id derived from it, so a retried request is the same decision
(same arm, same propensity) and its event is deduplicated by the log.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from actors.catalogue import Eligibility, eligible_arms
from actors.context_features import ContextError
from actors.experiment_ledger import ExperimentLedger
from actors.policies import DecisionRngs
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
        return f"{experiment_id}:{uuid.uuid4().hex}"
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
        if eligible:
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
        choices = policy.choose_batch(
            eligible_arms_, [vectors[i] for i in members], DecisionRngs(ledger.seed, ids)
        )
        for i, choice in zip(members, choices, strict=True):
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
            )
    return [result for result in results if result is not None]


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
    )
    return decision, event


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
