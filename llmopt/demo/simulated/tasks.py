"""Task types: their share of the traffic, their token counts, and each model's quality on them.

**These are assumptions, not measurements.** The quality means are plausible orderings
(frontier models ahead on code and math, small models close behind on classification and
extraction, the 8B model well behind on reasoning), chosen so that routing has something to
find; they are not taken from a leaderboard. Token medians are typical of each kind of request
(a one-word label, a JSON record, a paragraph summary of a long document, a code block, a
worked solution, a chat answer).

Per request, the input tokens are lognormal around the task's median; the answer's length is
lognormal around the task's output median for the request (shared by every model: some
questions need longer answers) times the model's verbosity and a per-model noise. The quality
score of an answer, in [0, 1] (a judge's grade, or the share of fields extracted right), is
Beta-distributed with mean ``m`` and concentration ``QUALITY_CONCENTRATION``, where
``logit(m) = logit(mean[model][task]) - DIFFICULTY_SLOPE * difficulty`` and the request's
difficulty (shared by every model, a standard normal partly explained by the prompt's length)
makes some requests hard for all of them.
"""

from __future__ import annotations

from typing import Final

import msgspec


class TaskProfile(msgspec.Struct, frozen=True, kw_only=True):
    """One task type's traffic share and token distributions (lognormal medians and sigmas)."""

    share: float
    """Share of the traffic at the daily mean; see :func:`task_weights` for the hour."""
    daytime: float
    """How the share follows working hours: +1 peaks with the working day, -1 in the evening."""
    input_median: float
    input_sigma: float
    output_median: float
    output_sigma: float


TASKS: Final[dict[str, TaskProfile]] = {
    "classification": TaskProfile(
        share=0.25,
        daytime=0.5,
        input_median=300,
        input_sigma=0.6,
        output_median=5,
        output_sigma=0.3,
    ),
    "extraction": TaskProfile(
        share=0.20,
        daytime=0.5,
        input_median=900,
        input_sigma=0.7,
        output_median=80,
        output_sigma=0.5,
    ),
    "summarisation": TaskProfile(
        share=0.15,
        daytime=0.3,
        input_median=2500,
        input_sigma=0.6,
        output_median=250,
        output_sigma=0.4,
    ),
    "code": TaskProfile(
        share=0.15,
        daytime=0.6,
        input_median=600,
        input_sigma=0.8,
        output_median=400,
        output_sigma=0.6,
    ),
    "math": TaskProfile(
        share=0.10,
        daytime=0.2,
        input_median=200,
        input_sigma=0.5,
        output_median=300,
        output_sigma=0.5,
    ),
    "chat": TaskProfile(
        share=0.15,
        daytime=-0.6,
        input_median=400,
        input_sigma=0.9,
        output_median=250,
        output_sigma=0.7,
    ),
}
TASK_NAMES: Final[tuple[str, ...]] = tuple(TASKS)

QUALITY_MEAN: Final[dict[str, dict[str, float]]] = {
    #                    classif. extract. summar.  code   math   chat
    "gpt-4o": dict(zip(TASK_NAMES, (0.93, 0.92, 0.88, 0.86, 0.80, 0.90), strict=True)),
    "claude-3.5-sonnet": dict(zip(TASK_NAMES, (0.93, 0.92, 0.89, 0.89, 0.78, 0.90), strict=True)),
    "llama-3.1-70b": dict(zip(TASK_NAMES, (0.91, 0.88, 0.85, 0.74, 0.68, 0.86), strict=True)),
    "gpt-4o-mini": dict(zip(TASK_NAMES, (0.91, 0.87, 0.85, 0.72, 0.66, 0.86), strict=True)),
    "claude-3-haiku": dict(zip(TASK_NAMES, (0.88, 0.84, 0.83, 0.62, 0.52, 0.81), strict=True)),
    "llama-3.1-8b": dict(zip(TASK_NAMES, (0.83, 0.75, 0.76, 0.50, 0.40, 0.73), strict=True)),
}
"""Mean quality per model and task type for a request of average difficulty (assumed)."""

VERBOSITY: Final[dict[str, float]] = {
    "gpt-4o": 1.0,
    "claude-3.5-sonnet": 1.15,
    "llama-3.1-70b": 1.1,
    "gpt-4o-mini": 1.05,
    "claude-3-haiku": 0.9,
    "llama-3.1-8b": 1.2,
}
"""Answer length relative to gpt-4o's (assumed)."""

QUALITY_CONCENTRATION: Final = 12.0
"""Beta concentration ``a + b``: the spread of one answer's grade around its mean."""
DIFFICULTY_SLOPE: Final = 0.6
"""How much a request's difficulty (in standard deviations) moves every model's logit."""
LENGTH_DIFFICULTY: Final = 0.5
"""The part of the difficulty explained by the prompt's length (its standardised log)."""
OUTPUT_NOISE_SIGMA: Final = 0.15
"""Per-model lognormal noise on the answer's length around the request's."""
