"""``llmopt demo --workload simulated``: options, the CLI flag, and the printed figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmopt.cli import _parser
from llmopt.demo.simulated.command import SimulatedOptions, run_simulated
from llmopt.demo.simulated.evaluation import SIM_PRESETS, reward_for, run_sim_policy, workload_for
from llmopt.demo.simulated.report import format_text, summary
from llmopt.settings import Settings


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SimulatedOptions(requests=0), "--requests must be >= 1"),
        (SimulatedOptions(round_size=0), "--round-size must be >= 1"),
        (SimulatedOptions(cost_weight=-1.0), "--cost-weight must be >= 0"),
        (SimulatedOptions(policy="linucb-ngrams"), "unknown policy"),
    ],
)
def test_bad_options_exit_2_with_the_reason_and_start_nothing(
    options: SimulatedOptions, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option is exit status 2 and a message naming it; no state directory is made."""
    state = tmp_path / "state"
    assert asyncio.run(run_simulated(Settings(state_dir=state), options)) == 2
    assert message in capsys.readouterr().err
    assert not state.exists()


def test_the_cli_offers_the_simulated_workload() -> None:
    """``llmopt demo --workload simulated --requests N`` parses; the default stays RouteLLM."""
    args = _parser().parse_args(["demo", "--workload", "simulated", "--requests", "900"])
    assert (args.workload, args.requests) == ("simulated", 900)
    assert _parser().parse_args(["demo"]).workload == "routellm"


def test_the_summary_reports_savings_quality_and_the_drift_alarm() -> None:
    """The figures compare the run with the flagship, name the alarm's delay and the degraded
    model's traffic before and after, and the text says them."""
    workload = workload_for(0)
    reward = reward_for(workload, 1.5)
    run = run_sim_policy(workload, SIM_PRESETS["linucb"], reward, experiment_id="sim")
    figures = summary(
        workload,
        workload.requests,
        run.tally,
        run.arms,
        run.derived,
        reward,
        [1.0, 2.0, 3.0],
        experiment="sim",
        seed=0,
    )
    assert figures["cost_saved_vs_flagship"] == pytest.approx(
        1 - run.tally.cost_usd / figures["always_flagship"]["cost_usd"]
    )
    assert figures["drift"]["requests_to_alarm"] is not None
    text = format_text(figures)
    assert "cost saved vs always gpt-4o" in text
    assert f"{figures['drift']['requests_to_alarm']} requests after the change" in text
    assert "p50 2.00 ms" in text


def test_totals_for_other_requests_are_refused() -> None:
    """A summary of totals that do not match the requests is a ValueError."""
    workload = workload_for(0)
    reward = reward_for(workload, 1.5)
    run = run_sim_policy(workload, SIM_PRESETS["linucb"], reward)
    with pytest.raises(ValueError, match="totals of 4000 requests for 10 requests"):
        summary(
            workload, workload.requests[:10], run.tally, run.arms, [], reward, [], experiment="x"
        )
