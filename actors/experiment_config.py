"""What an experiment is configured with: its policy, context features, model catalogue and reward.

``ExperimentCreated`` carries this as a plain JSON object (``config``), so the event schema does
not depend on the actors' value types; the admin gateway validates it with :func:`parse_config`
before the event is appended, so an invalid configuration never enters the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from actors.catalogue import ArmSpec
from actors.drift.monitor import DriftMonitor
from actors.experiments.plan import ExperimentPlan, PlanError, check_plan
from actors.feature_schema import FeatureSchema
from actors.policies import POLICIES, Policy, make_policy
from actors.reward import RewardSpec
from actors.windows.feature_set import WINDOW_FEATURES


class WindowFeatureRef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fill the request's ``context[field]`` (when the application did not send it) with a
    feature window's newest value, read from the actor's in-memory copy of the online store.

    The key is ``context[key_from]`` (e.g. the request's ``service``) or the fixed ``key``; a
    stale or missing value takes the feature's default (``None`` for the nullable ones, which
    the feature schema then treats as missing). The filled context is what is logged, so the
    fold and a replay see the value the decision saw.
    """

    field: str
    window: str
    """The feature window entity's id."""
    kind: str
    """The window kind's name, e.g. ``tumbling_60s``."""
    feature: str
    """A name of ``actors.windows.feature_set.WINDOW_FEATURES`` (``mean``, ``p95``, ...)."""
    key_from: str | None = None
    key: str | None = None


class ShadowSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A challenger policy run in shadow: it decides every request and learns from every
    served outcome, but what it chose is only logged (``DecisionMade.shadow_arm``)."""

    policy: str
    policy_params: dict[str, Any] = msgspec.field(default_factory=dict)


class ExperimentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    policy: str = "thompson_beta"
    """A name from ``actors.policies.POLICIES``."""
    policy_params: dict[str, Any] = msgspec.field(default_factory=dict)
    """Constructor parameters of the policy; a contextual policy's ``dim`` comes from
    ``features`` and must not be given."""
    features: FeatureSchema | None = None
    """How the request's context becomes the vector a contextual policy reads."""
    catalogue: dict[str, ArmSpec] = msgspec.field(default_factory=dict)
    """Prices, context window and tier per arm, for cost and per-request eligibility."""
    baseline_arm: str | None = None
    """The arm reports price every request on ("cost saved against always calling it"); by
    default the catalogue's dearest arm. Set it when the model an application would otherwise
    call is not the dearest one in the catalogue."""
    reward: RewardSpec = msgspec.field(default_factory=RewardSpec)
    pending_ttl_s: float = 7 * 86400.0
    """How long (in event time) a decision waits for its outcome."""
    pending_capacity: int = 100_000
    window_features: tuple[WindowFeatureRef, ...] = ()
    """Context fields filled from feature windows before the policy decides."""
    shadow: ShadowSpec | None = None
    """A challenger policy computed and logged beside the served one, never served."""
    drift: dict[str, Any] | None = None
    """Drift monitoring of every arm: ``{"detectors": [...], "rules": [...]}`` as
    :meth:`actors.drift.monitor.DriftMonitor.from_config` reads it."""
    experiment: ExperimentPlan = msgspec.field(default_factory=ExperimentPlan)
    """Allocation (policy / fixed split / canary), guardrails and stopping rule."""


class ConfigError(ValueError):
    """A configuration that cannot run; ``field`` is its path inside ``config``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_config(raw: dict[str, Any], arms: Sequence[str]) -> ExperimentConfig:
    """Validate a raw ``config`` object against the experiment's arms."""
    try:
        config = msgspec.convert(raw, ExperimentConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError("config", f"invalid config: {exc}") from exc
    policy_cls = POLICIES.get(config.policy)
    if policy_cls is None:
        raise ConfigError(
            "config.policy", f"unknown policy {config.policy!r}; known: {sorted(POLICIES)}"
        )
    if policy_cls.contextual:
        if config.features is None:
            raise ConfigError("config.features", f"policy {config.policy!r} needs features")
        if "dim" in config.policy_params:
            raise ConfigError("config.policy_params.dim", "dim is set by the feature schema")
    unknown = sorted(set(config.catalogue) - set(arms))
    if unknown:
        raise ConfigError("config.catalogue", f"catalogue names arms that do not exist: {unknown}")
    if config.baseline_arm is not None and config.baseline_arm not in config.catalogue:
        raise ConfigError(
            "config.baseline_arm",
            f"baseline arm {config.baseline_arm!r} needs an entry in the catalogue (its prices)",
        )
    if config.pending_capacity < 1 or not config.pending_ttl_s > 0:
        raise ConfigError("config.pending_capacity", "pending limits must be positive")
    try:
        check_plan(config.experiment, arms)
    except PlanError as exc:
        raise ConfigError(exc.field, exc.message) from exc
    try:
        build_policy(config, arms)
    except ValueError as exc:
        raise ConfigError("config.policy_params", str(exc)) from exc
    for i, ref in enumerate(config.window_features):
        where = f"config.window_features[{i}]"
        if WINDOW_FEATURES.get(ref.feature) is None:
            known = [f.name for f in WINDOW_FEATURES.features]
            raise ConfigError(
                f"{where}.feature", f"unknown feature {ref.feature!r}; known: {known}"
            )
        if (ref.key_from is None) == (ref.key is None):
            raise ConfigError(f"{where}.key_from", "give exactly one of key_from and key")
    if config.shadow is not None:
        if config.shadow.policy not in POLICIES:
            raise ConfigError(
                "config.shadow.policy",
                f"unknown policy {config.shadow.policy!r}; known: {sorted(POLICIES)}",
            )
        if POLICIES[config.shadow.policy].contextual and config.features is None:
            raise ConfigError("config.features", f"policy {config.shadow.policy!r} needs features")
        try:
            build_shadow_policy(config, arms)
        except ValueError as exc:
            raise ConfigError("config.shadow.policy_params", str(exc)) from exc
    if config.drift is not None:
        try:
            DriftMonitor.from_config(config.drift)
        except ValueError as exc:
            raise ConfigError("config.drift", str(exc)) from exc
    return config


def build_policy(config: ExperimentConfig, arms: Sequence[str]) -> Policy:
    return _policy(config, config.policy, config.policy_params, arms)


def build_shadow_policy(config: ExperimentConfig, arms: Sequence[str]) -> Policy | None:
    if config.shadow is None:
        return None
    return _policy(config, config.shadow.policy, config.shadow.policy_params, arms)


def _policy(
    config: ExperimentConfig, name: str, given: dict[str, Any], arms: Sequence[str]
) -> Policy:
    params = dict(given)
    if config.features is not None and POLICIES[name].contextual:
        params["dim"] = config.features.dim
    return make_policy(name, arms, params)
