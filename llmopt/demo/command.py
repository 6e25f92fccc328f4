"""``llmopt demo``: start the stack as ``llmopt serve`` does, route the RouteLLM prompts live,
print what routing saved.

The stack (embedded NATS unless one is configured, Ray, the directory, the gateway) is the one
``serve`` runs (:class:`llmopt.runtime.Services`), started by handle and stopped by handle,
also on Ctrl-C. Without ``--state-dir`` (or ``LLMOPT_STATE_DIR``) the log lives in a temporary
directory removed afterwards, so every run starts from an empty log and the experiment id, and
with it every decision id and random draw, is the same for the same options.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import msgspec
import ray
from sqlite_utils import Database

from actors.entity_actor import find_actor
from actors.ray_cluster import init_ray
from events.log import EventLog
from gateway.client import OptimizerClient
from gateway.connection import connect
from llmopt.demo.dataset import DATASETS, DatasetName, Prompt, load
from llmopt.demo.driver import DemoError, LiveRun, create_experiment, drive, wait_for_seq
from llmopt.demo.presets import DEFAULT_COST_WEIGHT, DEFAULT_POLICY, PRESETS
from llmopt.demo.protocol import Tally, flagship_cost_bound, reward_spec, seeded_order
from llmopt.demo.report import format_text, summary
from llmopt.runtime import Services, nats_endpoint
from llmopt.settings import Settings
from projections.report import Report, build_report
from projections.report_text import render
from projections.runner import ProjectionRunner
from projections.tables import create_schema

DatasetChoice = Literal["mmlu", "gsm8k", "both"]
ROUND_SIZE = 100
"""Prompts per lockstep round: decided concurrently, then their outcomes folded."""


class DemoOptions(msgspec.Struct, frozen=True, kw_only=True):
    dataset: DatasetChoice = "mmlu"
    seed: int = 0
    limit: int | None = None
    policy: str | None = None
    """A live preset; None takes the dataset's default (``DEFAULT_POLICY``)."""
    cost_weight: float | None = None
    round_size: int = ROUND_SIZE
    experiment: str | None = None
    as_json: bool = False


def demo_prompts(dataset: DatasetChoice, seed: int, limit: int | None) -> list[Prompt]:
    """The prompts of ``dataset`` in the seeded order, the first ``limit`` of them."""
    names: tuple[DatasetName, ...] = DATASETS if dataset == "both" else (dataset,)
    prompts = [p for name in names for p in load(name)]
    ordered = seeded_order(prompts, seed)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be >= 1, got {limit}")
        ordered = ordered[:limit]
    return ordered


def experiment_id_for(options: DemoOptions) -> str:
    if options.experiment is not None:
        return options.experiment
    return f"demo-{options.dataset}-{policy_of(options)}-seed{options.seed}"


def policy_of(options: DemoOptions) -> str:
    """The preset the run uses: the one asked for, or the dataset's default."""
    return options.policy if options.policy is not None else DEFAULT_POLICY[options.dataset]


async def run_demo(settings: Settings, options: DemoOptions) -> int:
    """Run the demo on a stack started here; 0 on success, 130 when interrupted."""
    policy = policy_of(options)
    if policy not in PRESETS or PRESETS[policy].per_subject:
        print(f"llmopt demo: unknown live policy {policy!r}", file=sys.stderr)
        return 2
    if options.round_size < 1:
        print(f"llmopt demo: --round-size must be >= 1, got {options.round_size}", file=sys.stderr)
        return 2
    if options.limit is not None and options.limit < 1:
        print(f"llmopt demo: --limit must be >= 1, got {options.limit}", file=sys.stderr)
        return 2
    if options.cost_weight is not None and not (0.0 <= options.cost_weight < float("inf")):
        print(
            f"llmopt demo: --cost-weight must be >= 0, got {options.cost_weight}", file=sys.stderr
        )
        return 2
    spec = PRESETS[policy]
    ordered = demo_prompts(options.dataset, options.seed, options.limit)
    everything = [p for name in _names(options.dataset) for p in load(name)]
    subjects = sorted({p.subject for p in everything})
    weight = (
        options.cost_weight
        if options.cost_weight is not None
        else DEFAULT_COST_WEIGHT[options.dataset]
    )
    # From the whole dataset, not the --limit sample: the bound is the experiment's, set
    # before any traffic, as a deployment sets it from its prompt-length limit.
    reward = reward_spec(weight, flagship_cost_bound(everything))
    experiment_id = experiment_id_for(options)
    progress = ProgressLine()

    async def work(nc: Any, services: Services) -> LiveRun:
        return await _drive(
            nc,
            settings,
            experiment_id,
            ordered,
            spec=spec,
            subjects=subjects,
            reward=reward,
            seed=options.seed,
            round_size=options.round_size,
            progress=progress,
        )

    stacked = await run_on_stack(settings, experiment_id, work, progress)
    if stacked is None:
        return 130
    run, report = stacked
    figures = summary(
        ordered,
        run.tally,
        reward,
        run.latencies_ms,
        dataset=options.dataset,
        seed=options.seed,
        policy=spec.label,
        cost_weight=weight,
        round_size=options.round_size,
        experiment=experiment_id,
        fallbacks=run.fallbacks,
        seconds=round(run.seconds, 1),
    )
    print_figures(figures, format_text(figures), report, as_json=options.as_json)
    return 0


def print_figures(
    figures: dict[str, Any], text: str, report: Report | None, *, as_json: bool
) -> None:
    """The run's figures and then the projections report: as text, or as one JSON object."""
    if as_json:
        print(json.dumps({**figures, "report": msgspec.to_builtins(report)}, indent=2))
    else:
        print(text)
        if report is not None:
            print()
            print(render(report))


T = TypeVar("T")


async def run_on_stack(
    settings: Settings,
    experiment_id: str,
    work: Callable[[Any, Services], Coroutine[Any, Any, T]],
    progress: ProgressLine,
    task_field: str = "subject",
) -> tuple[T, Report | None] | None:
    """Start the stack as ``llmopt serve`` does, run ``work(nc, services)`` on it, catch the
    projections up for the experiment's report, and stop the stack (also on Ctrl-C, which
    returns None)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    interrupted = False
    report: Report | None = None
    result: T | None = None
    async with nats_endpoint(settings) as (url, _server):
        services = Services(settings, url)
        try:
            note(f"starting NATS, Ray and the gateway (state in {settings.state_dir})")
            # Before Services.start, whose call is then a no-op: the actors' own log lines
            # would bury the demo's output.
            init_ray(settings, log_to_driver=False)
            await services.start()
            nc = await connect(settings, url=url, name="llmopt demo")
            try:
                task = asyncio.create_task(work(nc, services))
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, task.cancel)
                try:
                    result = await task
                except asyncio.CancelledError:
                    interrupted = True
                if not interrupted and services.event_log is not None:
                    report = await _projections_report(
                        services.event_log, settings, experiment_id, task_field
                    )
            finally:
                await nc.close()
        finally:
            progress.finish()
            if interrupted:
                note("interrupted; stopping the stack")
            await services.stop()
            with contextlib.suppress(Exception):
                ray.shutdown()
    if interrupted or result is None:
        return None
    return result, report


async def _projections_report(
    event_log: EventLog, settings: Settings, experiment: str, task_field: str
) -> Report:
    """What ``llmopt report`` says of the run: the SQLite projections caught up from the same
    log (in the state directory), read per the context's ``task_field`` as the task type (the
    MMLU subject / GSM8K, or the simulated task type)."""
    db = Database(settings.state_dir / "projections.db")
    create_schema(db)
    await ProjectionRunner(event_log, db, batch=settings.fetch_batch).catch_up()
    return build_report(db, until=time.time(), experiment=experiment, task_field=task_field)


async def _drive(
    nc: Any,
    settings: Settings,
    experiment_id: str,
    ordered: list[Prompt],
    *,
    spec: Any,
    subjects: list[str],
    reward: Any,
    seed: int,
    round_size: int,
    progress: ProgressLine,
) -> LiveRun:
    created_seq = await create_experiment(
        nc, experiment_id, spec=spec, subjects=subjects, reward=reward, seed=seed
    )
    actor = await experiment_actor(settings, experiment_id)

    async def folded_seq() -> int:
        status = await actor.status.remote()
        return int(status.seq)

    await wait_for_seq(folded_seq, created_seq)
    note(f"experiment {experiment_id} ready; routing {len(ordered)} prompts")
    return await drive(
        OptimizerClient(nc),
        experiment_id,
        ordered,
        spec=spec,
        reward=reward,
        round_size=round_size,
        folded_seq=folded_seq,
        progress=progress,
    )


async def experiment_actor(settings: Settings, experiment_id: str, within_s: float = 120.0) -> Any:
    """The experiment's Ray actor, once the directory has started it."""
    deadline = time.monotonic() + within_s
    while (actor := find_actor(settings, "experiment", experiment_id)) is None:
        if time.monotonic() > deadline:
            raise DemoError(f"no actor started for experiment {experiment_id!r}")
        await asyncio.sleep(0.05)
    return actor


def _names(dataset: DatasetChoice) -> tuple[DatasetName, ...]:
    return DATASETS if dataset == "both" else (dataset,)


def note(message: str) -> None:
    """A progress note on stderr, so it never mixes into the figures on stdout."""
    print(f"llmopt demo: {message}", file=sys.stderr, flush=True)


class ProgressLine:
    """One stderr line rewritten after each round (a new line per 10% when not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = -1
        self.active = False

    def __call__(self, done: int, total: int, tally: Tally) -> None:
        tenth = 10 * done // total
        if not self.tty and tenth == self.shown:
            return
        self.shown = tenth
        width = 30
        filled = width * done // total
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} prompts, "
            f"accuracy {tally.accuracy:.3f}, ${tally.cost_usd:.3f}, "
            f"{time.monotonic() - self.started:.0f}s"
        )
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", file=sys.stderr)
        sys.stderr.flush()
        self.active = self.tty

    def finish(self) -> None:
        if self.active:
            print(file=sys.stderr, flush=True)
            self.active = False
