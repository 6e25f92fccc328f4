"""The simulated workload's models and their published list prices (USD per 1M tokens).

Prices as published by each provider for its standard (non-batch, uncached) API:

- ``gpt-4o`` (OpenAI ``gpt-4o-2024-08-06``): $2.50 input / $10.00 output, OpenAI's API
  pricing page as published August 2024 (unchanged through 2025).
- ``gpt-4o-mini`` (OpenAI ``gpt-4o-mini-2024-07-18``): $0.15 / $0.60, OpenAI's pricing page
  as published July 2024.
- ``claude-3.5-sonnet`` (Anthropic ``claude-3-5-sonnet-20241022``): $3.00 / $15.00,
  Anthropic's pricing page (docs.anthropic.com, "Pricing") as published October 2024.
- ``claude-3-haiku`` (Anthropic ``claude-3-haiku-20240307``): $0.25 / $1.25, the same page,
  as published March 2024.
- ``llama-3.1-70b`` (Together AI ``meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo``): $0.88 /
  $0.88, Together AI's serverless pricing page as published August 2024.
- ``llama-3.1-8b`` (Together AI ``meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo``): $0.18 /
  $0.18, the same page, as published August 2024.

While this module was written the Anthropic prices were checked against a copy of
Anthropic's pricing page and the OpenAI prices against price lists quoting OpenAI's page; the
Together AI prices are those of its page when Llama 3.1 launched and were not re-checked
against a stored copy. The flagship, the model a cost reduction is measured against, is ``gpt-4o``.
"""

from __future__ import annotations

from typing import Final

from actors.catalogue import ArmSpec

FLAGSHIP: Final = "gpt-4o"


def _spec(
    model: str, usd_in_per_1m: float, usd_out_per_1m: float, window: int, tier: str
) -> ArmSpec:
    """An entry with prices per 1M tokens turned into the catalogue's per 1k."""
    return ArmSpec(
        model=model,
        price_in_per_1k=usd_in_per_1m / 1000,
        price_out_per_1k=usd_out_per_1m / 1000,
        context_window=window,
        tier=tier,
    )


MODELS: Final[dict[str, ArmSpec]] = {
    "gpt-4o": _spec("gpt-4o-2024-08-06", 2.50, 10.00, 128_000, "strong"),
    "claude-3.5-sonnet": _spec("claude-3-5-sonnet-20241022", 3.00, 15.00, 200_000, "strong"),
    "llama-3.1-70b": _spec(
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", 0.88, 0.88, 131_072, "mid"
    ),
    "gpt-4o-mini": _spec("gpt-4o-mini-2024-07-18", 0.15, 0.60, 128_000, "small"),
    "claude-3-haiku": _spec("claude-3-haiku-20240307", 0.25, 1.25, 200_000, "small"),
    "llama-3.1-8b": _spec(
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 0.18, 0.18, 131_072, "small"
    ),
}
"""Every arm of the simulated experiment, flagship first."""

ARMS: Final[tuple[str, ...]] = tuple(MODELS)
