"""The model catalogue, and the per-request eligibility check that runs before a policy chooses.

A catalogue maps an experiment's arm names to :class:`ArmSpec` entries: the model to call, its
prices per 1k input and output tokens, its context window, its tier, and the parameters (or
prompt variant) returned with a decision. Several arms may name the same model with different
``params``.

A decide request may carry limits (:class:`Eligibility`): its prompt size, the output it expects,
a per-request budget, a latency SLA, the tiers it may use and arms it refuses.
:func:`eligible_arms` removes the arms that cannot serve it, each with its reason, and the policy
chooses among the rest. An empty result is the caller's to handle (its fallback arm, or an
error reply); this module never picks an arm.

Two rules make the check permissive where information is missing:

- **An arm with no catalogue entry is eligible** (price, window and latency unknown): an
  experiment may route between prompt variants or parameter sets that are not priced models,
  and a gap in the catalogue must not silently starve an arm of traffic. Only ``excluded_arms``
  and ``allowed_tiers`` apply to it; its tier is ``""``, so a tier allow-list removes it unless
  the list names ``""``.
- **An unknown token count counts as 0**: the context-window and budget checks use what the
  request tells, so a request without ``expected_output_tokens`` is priced on its input alone,
  and one without ``input_tokens`` is checked on its expected output alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

Reason = Literal["excluded", "tier", "context_window", "budget", "latency_sla"]
"""Why an arm was removed; checks run in this order and the first that fails is reported."""

CHARS_PER_TOKEN = 4
"""The cost model of the project's benchmark protocol: one token per four characters."""

__all__ = [
    "CHARS_PER_TOKEN",
    "ArmSpec",
    "Eligibility",
    "Reason",
    "cost_of",
    "eligible_arms",
    "estimate_input_tokens",
]


class ArmSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One catalogue entry: a model, its prices (USD per 1k tokens) and its limits.

    >>> gpt4 = ArmSpec(model="gpt-4-1106-preview", price_in_per_1k=0.01,
    ...                price_out_per_1k=0.03, context_window=128_000, tier="strong")
    >>> round(cost_of(gpt4, 1_000, 500), 6)
    0.025
    """

    model: str
    price_in_per_1k: float
    price_out_per_1k: float
    context_window: int
    """Tokens of prompt plus output the model accepts."""
    tier: str = ""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    """Model parameters or prompt variant, returned to the application with the decision."""
    expected_latency_ms: float | None = None
    """Typical latency, compared with a request's latency SLA; None skips that check."""

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model must be a non-empty string")
        for name in ("price_in_per_1k", "price_out_per_1k"):
            _require_non_negative(name, getattr(self, name))
        if isinstance(self.context_window, bool) or not isinstance(self.context_window, int):
            raise ValueError(f"context_window must be an int, got {self.context_window!r}")
        if self.context_window < 1:
            raise ValueError(f"context_window must be positive, got {self.context_window!r}")
        if self.expected_latency_ms is not None:
            _require_non_negative("expected_latency_ms", self.expected_latency_ms)


class Eligibility(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The limits a decide request puts on the arms that may serve it; None means no limit."""

    input_tokens: int | None = None
    """Prompt tokens, reported or from :func:`estimate_input_tokens`."""
    expected_output_tokens: int | None = None
    max_cost_usd: float | None = None
    """Per-request budget: arms whose estimated cost exceeds it are removed."""
    max_latency_ms: float | None = None
    """Latency SLA: arms whose ``expected_latency_ms`` exceeds it are removed."""
    allowed_tiers: tuple[str, ...] | None = None
    """Only arms of these tiers; None allows every tier."""
    excluded_arms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("input_tokens", "expected_output_tokens"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        for name in ("max_cost_usd", "max_latency_ms"):
            value = getattr(self, name)
            if value is not None:
                _require_non_negative(name, value)


def cost_of(spec: ArmSpec, input_tokens: int, output_tokens: int) -> float:
    """USD cost of a call: ``(input_tokens * price_in + output_tokens * price_out) / 1000``."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got {input_tokens}, {output_tokens}")
    return (input_tokens * spec.price_in_per_1k + output_tokens * spec.price_out_per_1k) / 1000.0


def eligible_arms(
    catalogue: Mapping[str, ArmSpec], arms: Sequence[str], limits: Eligibility
) -> tuple[list[str], dict[str, str]]:
    """The arms that can serve a request, in the order given, and the reason for each removed.

    Checks run per arm in the order of :data:`Reason`; the first that fails is recorded:
    ``excluded`` (named in ``excluded_arms``), ``tier`` (not in ``allowed_tiers``),
    ``context_window`` (``input_tokens + expected_output_tokens`` exceeds the window),
    ``budget`` (:func:`cost_of` the request exceeds ``max_cost_usd``) and ``latency_sla``
    (``expected_latency_ms`` exceeds ``max_latency_ms``). Every reason is a :data:`Reason`.
    Limits are inclusive: an arm that exactly meets one stays. The module docstring gives the
    rules for arms without a catalogue entry and for unknown token counts.
    """
    input_tokens = limits.input_tokens or 0
    output_tokens = limits.expected_output_tokens or 0
    excluded = set(limits.excluded_arms)
    kept: list[str] = []
    removed: dict[str, str] = {}
    for arm in arms:
        reason = _removal_reason(
            arm, catalogue.get(arm), limits, excluded, input_tokens, output_tokens
        )
        if reason is None:
            kept.append(arm)
        else:
            removed[arm] = reason
    return kept, removed


def estimate_input_tokens(text: str) -> int:
    """Prompt tokens estimated as ``ceil(len(text) / 4)``, the benchmark protocol's cost model.

    A rough, tokenizer-free rule (about four characters of English per token for GPT-style
    BPE vocabularies); it is the cost model the project's routing benchmark uses, so routing
    and benchmark price a prompt the same way.
    """
    return -(-len(text) // CHARS_PER_TOKEN)


def _removal_reason(
    arm: str,
    spec: ArmSpec | None,
    limits: Eligibility,
    excluded: set[str],
    input_tokens: int,
    output_tokens: int,
) -> Reason | None:
    if arm in excluded:
        return "excluded"
    tier = spec.tier if spec is not None else ""
    if limits.allowed_tiers is not None and tier not in limits.allowed_tiers:
        return "tier"
    if spec is None:
        return None
    if input_tokens + output_tokens > spec.context_window:
        return "context_window"
    if limits.max_cost_usd is not None and (
        cost_of(spec, input_tokens, output_tokens) > limits.max_cost_usd
    ):
        return "budget"
    if (
        limits.max_latency_ms is not None
        and spec.expected_latency_ms is not None
        and spec.expected_latency_ms > limits.max_latency_ms
    ):
        return "latency_sla"
    return None


def _require_non_negative(name: str, value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
