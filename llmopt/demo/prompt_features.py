"""The context of a prompt, as the application would send it with its decide request.

Everything is computed from the prompt itself, before any model sees it: the task's subject
(the MMLU subject, or ``gsm8k``), the estimated input tokens (as ``input_tokens`` and, in
thousands, ``input_ktokens``), and a bag of hashed word n-grams.

**Hashed n-grams.** Words are the lower-cased runs of letters and digits; the unigrams and
bigrams are hashed into ``buckets`` columns with :func:`actors.context_features.stable_bucket`
(BLAKE2b, the same in every process and language; the hashing trick of Weinberger et al.,
"Feature Hashing for Large Scale Multitask Learning", ICML 2009), counted, and the vector is
scaled to unit L2 norm so that long and short prompts weigh alike. They travel as numeric
context fields ``ng0`` ... ``ng<buckets-1>``, because a schema's hashed feature one-hots a
single label, while a bag of words needs a count per bucket.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

from actors.catalogue import estimate_input_tokens
from actors.context_features import stable_bucket
from actors.feature_schema import (
    AnyFeature,
    BiasFeature,
    FeatureSchema,
    NumericFeature,
    OneHotFeature,
    TokenCountFeature,
)
from llmopt.demo.dataset import Prompt

_WORD = re.compile(r"[a-z0-9]+")


def ngram_bag(text: str, buckets: int) -> list[float]:
    """Unigram and bigram counts of ``text`` hashed into ``buckets``, scaled to unit L2 norm
    (all zeros for a text without words)."""
    return list(_ngram_bag(text, buckets))


@functools.lru_cache(maxsize=1 << 16)
def _ngram_bag(text: str, buckets: int) -> tuple[float, ...]:
    """Cached: a sweep routes every prompt dozens of times."""
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    words = _WORD.findall(text.lower())
    counts = [0.0] * buckets
    for gram in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
        counts[stable_bucket(gram, buckets)] += 1.0
    norm = math.sqrt(sum(c * c for c in counts))
    return tuple(c / norm for c in counts) if norm else tuple(counts)


def context_of(prompt: Prompt, ngram_buckets: int = 0) -> dict[str, Any]:
    """The decide request's context for ``prompt``."""
    tokens = estimate_input_tokens(prompt.prompt)
    context: dict[str, Any] = {
        "subject": prompt.subject,
        "input_tokens": tokens,
        "input_ktokens": tokens / 1000,
    }
    if ngram_buckets:
        for i, value in enumerate(ngram_bag(prompt.prompt, ngram_buckets)):
            context[f"ng{i}"] = value
    return context


def feature_schema(subjects: Sequence[str], ngram_buckets: int = 0) -> FeatureSchema:
    """The schema that reads :func:`context_of`: a bias, the subject one-hot over ``subjects``
    (the published list of the benchmark's subjects, known before any traffic), ``log1p`` of
    the input tokens (difficulty grows with length roughly multiplicatively), the input tokens
    in thousands (a call's cost is linear in them, so a linear model of the reward needs
    them linearly), and the n-gram columns."""
    features: list[AnyFeature] = [
        BiasFeature(),
        OneHotFeature(name="subject", values=tuple(sorted(set(subjects)))),
        TokenCountFeature(name="input_tokens"),
        NumericFeature(name="input_ktokens"),
    ]
    features.extend(NumericFeature(name=f"ng{i}") for i in range(ngram_buckets))
    return FeatureSchema(features=tuple(features))
