"""``llmopt demo --workload simulated``: the simulated multi-model workload through the live
stack, with its drift event.

The stack is the one ``llmopt demo`` starts (:func:`llmopt.demo.command.run_on_stack`); the
experiment gets the workload's six models, its reward (quality, cost, latency) and its drift
monitor through the admin API; the driver routes every request over NATS, reporting quality,
tokens and latency, in lockstep rounds (one request per round by default, and after each round
it waits for the drift alarms the round raised to be folded back, so the run folds its events
in the order of the offline protocol). Afterwards the ``DriftDetected`` events are read back
from the log, and the run is compared with the offline protocol on the same requests.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from events.schema import DriftDetected, Event
from gateway.client import OptimizerClient
from llmopt.demo.command import (
    ProgressLine,
    experiment_actor,
    note,
    print_figures,
    run_on_stack,
)
from llmopt.demo.driver import LiveRun, create_experiment, drive, wait_for_seq
from llmopt.demo.simulated.evaluation import (
    DAYS,
    DEFAULT_COST_WEIGHT,
    DEFAULT_POLICY,
    REQUESTS,
    SIM_PRESETS,
    reward_for,
    run_sim_policy,
    workload_for,
)
from llmopt.demo.simulated.report import format_text, summary
from llmopt.runtime import Services
from llmopt.settings import Settings


class SimulatedOptions(msgspec.Struct, frozen=True, kw_only=True):
    seed: int = 0
    requests: int = REQUESTS
    policy: str = DEFAULT_POLICY
    cost_weight: float = DEFAULT_COST_WEIGHT
    round_size: int = 1
    experiment: str | None = None
    as_json: bool = False


def problem(options: SimulatedOptions) -> str | None:
    """What is wrong with the options, or None."""
    if options.policy not in SIM_PRESETS:
        return f"unknown policy {options.policy!r} for the simulated workload; known: " + (
            ", ".join(SIM_PRESETS)
        )
    if options.requests < 1:
        return f"--requests must be >= 1, got {options.requests}"
    if options.round_size < 1:
        return f"--round-size must be >= 1, got {options.round_size}"
    if not 0.0 <= options.cost_weight < float("inf"):
        return f"--cost-weight must be >= 0, got {options.cost_weight}"
    return None


async def run_simulated(settings: Settings, options: SimulatedOptions) -> int:
    """Run the simulated demo on a stack started here; 0 on success, 130 when interrupted."""
    wrong = problem(options)
    if wrong is not None:
        print(f"llmopt demo: {wrong}", file=sys.stderr)
        return 2
    workload = workload_for(options.seed, options.requests)
    spec = SIM_PRESETS[options.policy]
    reward = reward_for(workload, options.cost_weight)
    experiment_id = options.experiment or f"demo-simulated-{spec.label}-seed{options.seed}"
    progress = ProgressLine()

    async def work(nc: Any, services: Services) -> tuple[LiveRun, list[Event]]:
        created = await create_experiment(
            nc,
            experiment_id,
            spec=spec,
            subjects=(),
            reward=reward,
            seed=options.seed,
            workload=workload,
        )
        actor = await experiment_actor(settings, experiment_id)

        async def folded_seq() -> int:
            return int((await actor.status.remote()).seq)

        async def folded_status() -> dict[str, Any]:
            status = await actor.status.remote()
            return dict(status.summary)

        await wait_for_seq(folded_seq, created)
        note(f"experiment {experiment_id} ready; routing {len(workload.requests)} requests")
        run = await drive(
            OptimizerClient(nc),
            experiment_id,
            workload.requests,
            spec=spec,
            reward=reward,
            round_size=options.round_size,
            folded_seq=folded_seq,
            progress=progress,
            workload=workload,
            folded_status=folded_status,
        )
        assert services.event_log is not None
        drifts: list[Event] = [
            record.event
            async for chunk in services.event_log.read_entity("experiment", experiment_id)
            for record in chunk
            if isinstance(record.event, DriftDetected)
        ]
        return run, drifts

    stacked = await run_on_stack(settings, experiment_id, work, progress, task_field="task")
    if stacked is None:
        return 130
    (run, drifts), report = stacked
    offline = run_sim_policy(
        workload, spec, reward, experiment_id=experiment_id, round_size=options.round_size
    )
    figures = summary(
        workload,
        workload.requests,
        run.tally,
        run.arms,
        drifts,
        reward,
        run.latencies_ms,
        experiment=experiment_id,
        days=DAYS,
        seed=options.seed,
        policy=spec.label,
        cost_weight=options.cost_weight,
        round_size=options.round_size,
        same_as_offline=offline.arms == run.arms and offline.tally == run.tally,
        fallbacks=run.fallbacks,
        seconds=round(run.seconds, 1),
    )
    print_figures(figures, format_text(figures), report, as_json=options.as_json)
    return 0
