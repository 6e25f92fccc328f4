"""The benchmark protocol's cost model: two arms, their prices, and what a call to each costs.

Tokens are estimated, not counted by a tokenizer: ``ceil(chars / 4)``
(:func:`actors.catalogue.estimate_input_tokens`). Input tokens come from the prompt; output
tokens from the model's own GSM8K answer, and are 5 for MMLU, whose answer is one letter.

Prices, USD per 1M tokens (input / output):

- ``gpt-4-1106`` (``gpt-4-1106-preview``): $10 / $30, OpenAI's pricing page for
  gpt-4-1106-preview (November 2023 to 2024).
- ``mixtral-8x7b`` (``mistralai/Mixtral-8x7B-Instruct-v0.1``): $0.60 / $0.60, Together AI's
  serverless price for Mixtral-8x7B-Instruct when RouteLLM was published (mid 2024).

These are the prices of the figures the demo compares with (RouteLLM's and the issue's
anchors), so the cost reductions are comparable.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from actors.catalogue import ArmSpec, cost_of, estimate_input_tokens
from llmopt.demo.dataset import Prompt

WEAK: Final = "mixtral-8x7b"
STRONG: Final = "gpt-4-1106"
ARMS: Final[tuple[str, str]] = (WEAK, STRONG)
MMLU_OUTPUT_TOKENS: Final = 5

CATALOGUE: Final[dict[str, ArmSpec]] = {
    WEAK: ArmSpec(
        model="mistralai/Mixtral-8x7B-Instruct-v0.1",
        price_in_per_1k=0.0006,
        price_out_per_1k=0.0006,
        context_window=32_768,
        tier="weak",
    ),
    STRONG: ArmSpec(
        model="gpt-4-1106-preview",
        price_in_per_1k=0.01,
        price_out_per_1k=0.03,
        context_window=128_000,
        tier="strong",
    ),
}
"""Prices per 1k tokens, as the project's catalogue takes them."""


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """What calling one arm on one prompt gives: correctness, tokens and cost."""

    arm: str
    correct: bool
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def quality(self) -> float:
        """1 for a correct answer, 0 otherwise: the quality score the demo reports."""
        return 1.0 if self.correct else 0.0

    @property
    def latency_ms(self) -> float | None:
        """The data has no latency."""
        return None


def output_tokens(prompt: Prompt, arm: Literal["mixtral-8x7b", "gpt-4-1106"] | str) -> int:
    """The answer's tokens: ``ceil(chars / 4)`` of that model's GSM8K answer, or 5 for MMLU."""
    if prompt.dataset == "mmlu":
        return MMLU_OUTPUT_TOKENS
    chars = prompt.weak_response_chars if arm == WEAK else prompt.strong_response_chars
    if chars is None:
        raise ValueError(f"{prompt.key}: no response length for {arm}")
    return -(-chars // 4)


def call(prompt: Prompt, arm: str) -> Call:
    """The outcome of sending ``prompt`` to ``arm`` (``ValueError`` for an unknown arm)."""
    if arm not in CATALOGUE:
        raise ValueError(f"unknown arm {arm!r}; known: {list(ARMS)}")
    tokens_in = estimate_input_tokens(prompt.prompt)
    tokens_out = output_tokens(prompt, arm)
    return Call(
        arm=arm,
        correct=prompt.strong_correct if arm == STRONG else prompt.weak_correct,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=cost_of(CATALOGUE[arm], tokens_in, tokens_out),
    )


def oracle_call(prompt: Prompt) -> Call:
    """The per-prompt oracle: the cheapest correct arm, or the cheapest arm if none is."""
    calls = sorted((call(prompt, arm) for arm in ARMS), key=lambda c: c.cost_usd)
    return next((c for c in calls if c.correct), calls[0])
