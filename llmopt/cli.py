"""The ``llmopt`` command: demo, serve, replay, events, report, experiment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import msgspec

from llmopt.logs import configure_logging
from llmopt.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmopt", description=__doc__)
    parser.add_argument("--state-dir", help="state directory (LLMOPT_STATE_DIR, default .llmopt)")
    parser.add_argument("--nats-url", help="use this NATS server (LLMOPT_NATS_URL)")
    parser.add_argument("--ray-address", help="join this Ray cluster (LLMOPT_RAY_ADDRESS)")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the optimizer until Ctrl-C")
    serve.add_argument("--nats-port", type=int, help="port of the embedded NATS server")
    serve.add_argument("--sync-interval", help="JetStream fsync interval: 'always' or e.g. 1s, 2m")
    serve.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")

    replay = sub.add_parser("replay", help="rebuild an entity's state from the log")
    replay.add_argument("kind", help="entity kind, e.g. experiment")
    replay.add_argument("entity_id")
    replay.add_argument("--to-seq", type=int, help="stop after this log sequence")
    replay.add_argument(
        "--to-time", help="stop before the first event later than this (ISO 8601 or Unix seconds)"
    )
    replay.add_argument(
        "--from-checkpoint",
        action="store_true",
        help="start from the newest valid checkpoint instead of from scratch",
    )
    replay.add_argument(
        "--verify",
        action="store_true",
        help="compare with the live actor's digest; exit 1 on a mismatch",
    )
    replay.add_argument("--json", action="store_true", help="print JSON")

    demo = sub.add_parser(
        "demo",
        help="start the stack, route RouteLLM's MMLU/GSM8K prompts live, print cost and quality",
    )
    demo.add_argument(
        "--workload",
        choices=["routellm", "simulated"],
        default="routellm",
        help="RouteLLM's prompts (default), or the simulated six-model workload with drift",
    )
    demo.add_argument("--dataset", choices=["mmlu", "gsm8k", "both"], default="mmlu")
    demo.add_argument("--seed", type=int, default=0, help="order of the prompts and the policy")
    demo.add_argument("--limit", type=int, help="route only the first N prompts of the order")
    demo.add_argument(
        "--requests", type=int, default=4000, help="simulated: requests over two simulated days"
    )
    demo.add_argument(
        "--policy",
        choices=[
            "linucb",
            "linucb-ngrams",
            "linear-ts",
            "linear-ts-ngrams",
            "squarecb",
            "squarecb-ngrams",
            "epsilon-greedy",
        ],
        help="the experiment's policy (a preset of llmopt/demo/presets.py; default per dataset, "
        "squarecb for the simulated workload)",
    )
    demo.add_argument("--cost-weight", type=float, help="the reward's cost weight")
    demo.add_argument(
        "--round-size", type=int, help="prompts per lockstep round (default 100; simulated 1)"
    )
    demo.add_argument("--experiment", help="experiment id (default from dataset/policy/seed)")
    demo.add_argument("--json", action="store_true", help="print JSON")

    events = sub.add_parser("events", help="list or tail the log")
    events.add_argument("--kind", default="*")
    events.add_argument("--entity", default="*")
    events.add_argument("--channel", default="*")
    events.add_argument("--from-seq", type=int, default=1)
    events.add_argument("--limit", type=int, default=100, help="0 for no limit")
    events.add_argument("--follow", action="store_true", help="keep printing new events")
    events.add_argument("--dead-letters", action="store_true", help="list refused input instead")

    report = sub.add_parser(
        "report", help="catch up the SQLite projections and answer the platform questions"
    )
    report.add_argument("--db", help="projection database (default <state_dir>/projections.db)")
    report.add_argument("--rebuild", action="store_true", help="rebuild the projections from zero")
    report.add_argument(
        "--no-catch-up", action="store_true", help="report what the database holds; no log read"
    )
    report.add_argument("--experiment", help="only this experiment")
    report.add_argument(
        "--since", help="window start (ISO 8601 or Unix seconds; default: a week before --until)"
    )
    report.add_argument("--until", help="window end (ISO 8601 or Unix seconds; default: now)")
    report.add_argument(
        "--task-field", default="task_type", help="decision context field naming the task type"
    )
    report.add_argument("--json", action="store_true", help="print JSON")
    report.add_argument("--plots", metavar="DIR", help="write PNG plots and index.html here")
    from llmopt.experiment_cli import add_parser as add_experiment_parser

    add_experiment_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level.upper())
    overrides: dict[str, Any] = {
        "state_dir": args.state_dir,
        "nats_url": args.nats_url,
        "ray_address": args.ray_address,
    }
    if args.command == "serve":
        overrides |= {
            "nats_port": args.nats_port,
            "nats_sync_interval": args.sync_interval,
            "metrics_port": args.metrics_port,
        }
    if args.command == "demo":
        return _demo(args, overrides)
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        print(f"llmopt: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from llmopt.serve import serve

        return asyncio.run(serve(settings))
    if args.command == "replay":
        return asyncio.run(_replay(settings, args))
    if args.command == "report":
        return asyncio.run(_report(settings, args))
    if args.command == "experiment":
        from llmopt.experiment_cli import main as experiment_main

        return experiment_main(settings, args)
    return asyncio.run(_events(settings, args))


def _demo(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """``llmopt demo``; without a state dir, in a temporary one (a fresh log every run)."""
    import os
    import tempfile

    from llmopt.demo.command import DemoOptions, run_demo
    from llmopt.demo.simulated.command import SimulatedOptions, run_simulated

    run: Callable[[Settings], Coroutine[Any, Any, int]]
    if args.workload == "simulated":
        simulated = SimulatedOptions(
            seed=args.seed,
            requests=args.requests,
            experiment=args.experiment,
            as_json=args.json,
            **{
                name: value
                for name, value in (
                    ("policy", args.policy),
                    ("cost_weight", args.cost_weight),
                    ("round_size", args.round_size),
                )
                if value is not None
            },
        )
        run = functools.partial(run_simulated, options=simulated)
    else:
        options = DemoOptions(
            dataset=args.dataset,
            seed=args.seed,
            limit=args.limit,
            policy=args.policy,
            cost_weight=args.cost_weight,
            round_size=100 if args.round_size is None else args.round_size,
            experiment=args.experiment,
            as_json=args.json,
        )
        run = functools.partial(run_demo, options=options)
    with contextlib.ExitStack() as stack:
        if overrides["state_dir"] is None and not os.environ.get("LLMOPT_STATE_DIR"):
            overrides = {
                **overrides,
                "state_dir": stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="llmopt-demo-")
                ),
            }
        try:
            settings = Settings.from_env(**overrides)
        except ValueError as exc:
            print(f"llmopt: {exc}", file=sys.stderr)
            return 2
        return asyncio.run(run(settings))


@contextlib.asynccontextmanager
async def _log_connection(settings: Settings) -> AsyncIterator[Any]:
    """A JetStream context on the running server; or, with none running, on the state dir's
    data through a temporary embedded server, so the log can be read while ``serve`` is down."""
    from gateway.connection import connect
    from gateway.nats_server import EmbeddedNatsServer
    from llmopt.runtime import url_file

    url = settings.nats_url
    server: EmbeddedNatsServer | None = None
    if url is None and url_file(settings).exists():
        url = url_file(settings).read_text().strip()
    if url is None:
        if not (settings.nats_data_dir / "jetstream").exists():
            raise SystemExit(f"llmopt: no log under {settings.nats_data_dir}; run `llmopt serve`")
        server = EmbeddedNatsServer(settings.nats_data_dir, sync_interval="always")
        await asyncio.to_thread(server.start)
        url = server.url
    nc = await connect(settings, url=url, name="llmopt cli")
    try:
        yield nc.jetstream()
    finally:
        await nc.close()
        if server is not None:
            await asyncio.to_thread(server.stop)


def _parse_time(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()


async def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from actors.checkpoint import CheckpointStore
    from events.log import EventLog
    from llmopt.replay import replay

    live: Any = None
    to_seq = args.to_seq
    if args.verify:
        live = await asyncio.to_thread(_live_status, settings, args.kind, args.entity_id)
        if live is None:
            print(f"llmopt: no live actor for {args.kind}/{args.entity_id}", file=sys.stderr)
            return 2
        to_seq = live.seq
    async with _log_connection(settings) as js:
        result = await replay(
            EventLog(js),
            args.kind,
            args.entity_id,
            to_seq=to_seq,
            to_time=_parse_time(args.to_time),
            checkpoints=CheckpointStore(js) if args.from_checkpoint else None,
        )
    report: dict[str, Any] = {
        "kind": result.kind,
        "entity_id": result.entity_id,
        "seq": result.seq,
        "digest": result.digest,
        "events_replayed": result.events,
        "from_checkpoint_seq": result.from_checkpoint_seq,
        "checkpoints_skipped": result.checkpoints_skipped,
        "seconds": round(result.seconds, 4),
        "events_per_second": round(result.events_per_second),
        "summary": getattr(result.state, "summary", dict)(),
    }
    mismatch = False
    if live is not None:
        mismatch = live.digest != result.digest
        report["live"] = {"seq": live.seq, "digest": live.digest, "match": not mismatch}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {json.dumps(value) if isinstance(value, dict) else value}")
    return 1 if mismatch else 0


def _live_status(settings: Settings, kind: str, entity_id: str) -> Any:
    import ray

    from actors.entity_actor import find_actor
    from actors.ray_cluster import init_ray
    from llmopt.runtime import ray_address_file

    address = settings.ray_address
    if address is None and ray_address_file(settings).exists():
        address = ray_address_file(settings).read_text().strip()
    init_ray(settings, address=address or "auto", log_to_driver=False)
    actor = find_actor(settings, kind, entity_id)
    return None if actor is None else ray.get(actor.status.remote(), timeout=30)


async def _events(settings: Settings, args: argparse.Namespace) -> int:
    from nats.js import api

    from events.dead_letter import DEAD_LETTER_STREAM
    from events.log import LOG_STREAM
    from events.subjects import DEAD_LETTER_PREFIX, LOG_PREFIX

    stream = DEAD_LETTER_STREAM if args.dead_letters else LOG_STREAM
    subject = (
        f"{DEAD_LETTER_PREFIX}.>"
        if args.dead_letters
        else f"{LOG_PREFIX}.{args.kind}.{args.entity}.{args.channel}"
    )
    printed = 0
    async with _log_connection(settings) as js:
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(1, args.from_seq),
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
        )
        sub = await js.pull_subscribe(subject, stream=stream, config=config)
        remaining = (await sub.consumer_info()).num_pending
        while args.follow or remaining > 0:
            try:
                msgs = await sub.fetch(256, timeout=1.0)
            except TimeoutError:
                continue
            for msg in msgs:
                remaining -= 1
                line = {
                    "seq": msg.metadata.sequence.stream,
                    "subject": msg.subject,
                    "data": msgspec.json.decode(msg.data),
                }
                print(json.dumps(line), flush=True)
                printed += 1
                if args.limit and printed >= args.limit:
                    return 0
    return 0


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from sqlite_utils import Database

    from events.log import EventLog
    from projections.report import build_report
    from projections.report_text import render
    from projections.runner import ProjectionRunner
    from projections.tables import create_schema

    try:
        until = _parse_time(args.until)
        since = _parse_time(args.since)
    except ValueError as exc:
        print(f"llmopt: --since/--until: {exc}", file=sys.stderr)
        return 2
    path = Path(args.db) if args.db else settings.state_dir / "projections.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    create_schema(db)
    if not args.no_catch_up:
        async with _log_connection(settings) as js:
            runner = ProjectionRunner(EventLog(js), db, batch=settings.fetch_batch)
            await (runner.rebuild() if args.rebuild else runner.catch_up())
    try:
        report = build_report(
            db,
            until=time.time() if until is None else until,
            since=since,
            experiment=args.experiment,
            task_field=args.task_field,
        )
    except ValueError as exc:
        print(f"llmopt: {exc}", file=sys.stderr)
        return 2
    if args.plots:
        try:
            from projections.report_plots import write_plots
        except ImportError:
            print(
                "llmopt: --plots needs matplotlib: pip install 'llm-auto-optimizer[plots]'",
                file=sys.stderr,
            )
            return 2
        written = write_plots(db, Path(args.plots), args.experiment)
        if not args.json:
            print(f"plots: {', '.join(str(p) for p in written)}")
    if args.json:
        print(json.dumps(msgspec.to_builtins(report), indent=2))
    else:
        print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
