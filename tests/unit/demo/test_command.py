"""``llmopt demo`` refuses bad options before starting anything, and picks its prompts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmopt.demo.command import DemoOptions, demo_prompts, experiment_id_for, run_demo
from llmopt.settings import Settings


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DemoOptions(limit=0), "--limit must be >= 1"),
        (DemoOptions(round_size=0), "--round-size must be >= 1"),
        (DemoOptions(cost_weight=-0.5), "--cost-weight must be >= 0"),
        (DemoOptions(policy="thompson-per-subject"), "unknown live policy"),
    ],
)
def test_bad_options_exit_2_with_the_reason_and_start_nothing(
    options: DemoOptions, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option is exit status 2 and a message naming it; no state directory is made."""
    state = tmp_path / "state"
    assert asyncio.run(run_demo(Settings(state_dir=state), options)) == 2
    assert message in capsys.readouterr().err
    assert not state.exists()


def test_prompts_are_a_seeded_prefix_of_the_shuffled_datasets() -> None:
    """``--limit`` takes the first prompts of the seeded order; ``both`` mixes the datasets."""
    assert demo_prompts("gsm8k", 4, 50) == demo_prompts("gsm8k", 4, None)[:50]
    assert demo_prompts("gsm8k", 4, 50) != demo_prompts("gsm8k", 5, 50)
    mixed = demo_prompts("both", 0, None)
    assert len(mixed) == 14_042 + 1_319
    assert {p.dataset for p in mixed[:500]} == {"mmlu", "gsm8k"}


def test_experiment_id_is_a_function_of_the_options() -> None:
    """The default experiment id names dataset, policy and seed, so reruns draw alike."""
    assert experiment_id_for(DemoOptions(dataset="gsm8k", seed=3)) == (
        "demo-gsm8k-linucb-ngrams-seed3"
    )
    assert experiment_id_for(DemoOptions(experiment="mine")) == "mine"
