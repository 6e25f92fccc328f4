"""The benchmark protocol's cost model, on rows computed by hand."""

from __future__ import annotations

import pytest

from llmopt.demo.cost_model import STRONG, WEAK, call, oracle_call
from llmopt.demo.dataset import DATASETS, Prompt, load


def mmlu(weak: bool, strong: bool, text: str = "0123456789") -> Prompt:
    return Prompt(
        dataset="mmlu",
        index=0,
        subject="anatomy",
        prompt=text,
        weak_correct=weak,
        strong_correct=strong,
    )


def test_mmlu_call_is_priced_on_ceil_chars_over_4_and_five_output_tokens() -> None:
    """A 10-character MMLU prompt is 3 input tokens and 5 output tokens at each model's price."""
    gpt4, mixtral = call(mmlu(False, True), STRONG), call(mmlu(False, True), WEAK)
    assert (gpt4.input_tokens, gpt4.output_tokens) == (3, 5)
    assert gpt4.cost_usd == pytest.approx((3 * 10 + 5 * 30) / 1e6, rel=1e-12)
    assert mixtral.cost_usd == pytest.approx(8 * 0.6 / 1e6, rel=1e-12)
    assert (gpt4.correct, mixtral.correct) == (True, False)


def test_gsm8k_output_tokens_come_from_that_models_answer() -> None:
    """GSM8K output tokens are ceil(chars / 4) of the chosen model's own answer."""
    prompt = Prompt(
        dataset="gsm8k",
        index=3,
        subject="gsm8k",
        prompt="x" * 8,
        weak_correct=True,
        strong_correct=True,
        weak_response_chars=9,
        strong_response_chars=400,
    )
    assert call(prompt, WEAK).output_tokens == 3
    assert call(prompt, STRONG).output_tokens == 100
    assert call(prompt, STRONG).cost_usd == pytest.approx((2 * 10 + 100 * 30) / 1e6, rel=1e-12)


def test_unknown_arm_is_refused_by_name() -> None:
    """Calling an arm the cost model does not price raises a ValueError naming it."""
    with pytest.raises(ValueError, match="claude"):
        call(mmlu(True, True), "claude")


@pytest.mark.parametrize(
    ("weak", "strong", "expected"),
    [(True, True, WEAK), (False, True, STRONG), (True, False, WEAK), (False, False, WEAK)],
)
def test_oracle_takes_the_cheapest_correct_model(weak: bool, strong: bool, expected: str) -> None:
    """The per-prompt oracle calls the cheapest correct model, or the cheapest if none is."""
    assert oracle_call(mmlu(weak, strong)).arm == expected


@pytest.mark.parametrize(
    ("name", "count", "weak", "strong"),
    [("mmlu", 14_042, 0.681, 0.806), ("gsm8k", 1_319, 0.638, 0.857)],
)
def test_shipped_data_matches_the_published_accuracies(
    name: str, count: int, weak: float, strong: float
) -> None:
    """The packaged data has every prompt and RouteLLM's per-model accuracies."""
    assert name in DATASETS
    prompts = load(name)  # type: ignore[arg-type]
    assert len(prompts) == count
    assert sum(p.weak_correct for p in prompts) / count == pytest.approx(weak, abs=5e-4)
    assert sum(p.strong_correct for p in prompts) / count == pytest.approx(strong, abs=5e-4)
    assert len({p.key for p in prompts}) == count


def test_unknown_dataset_is_refused() -> None:
    """Loading a dataset that is not shipped raises a ValueError naming the known ones."""
    with pytest.raises(ValueError, match="mmlu"):
        load("mt_bench")  # type: ignore[arg-type]
