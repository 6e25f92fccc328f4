"""How fast do the SQLite projections catch up with the log, and how long does a report take?

Appends a seeded history (one experiment, three priced arms; a decision and, for most, an
outcome per request) to an embedded nats-server in a temp dir, then measures:

* a full catch-up from zero (events/s through ``EventLog.read`` and the projector into SQLite),
* an incremental catch-up of the last 10% appended afterwards,
* ``build_report`` over the result, and writing the four plots.

Checks (exit status): a rebuild from zero gives tables identical to the incremental ones, and
the decision count equals the requests appended.

Usage: ``.venv/bin/python scripts/bench_projections.py [--requests 20000] [--batch 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import Report, Resources, machine_line, print_table, progress

from events.log import EventLog
from events.schema import AnyEvent, DecisionMade, ExperimentCreated, OutcomeObserved
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer
from llmopt.settings import Settings
from projections.report import build_report
from projections.runner import ProjectionRunner
from projections.tables import snapshot

CATALOGUE = {
    "small": {
        "model": "s",
        "price_in_per_1k": 0.0005,
        "price_out_per_1k": 0.0015,
        "context_window": 16000,
    },
    "medium": {
        "model": "m",
        "price_in_per_1k": 0.003,
        "price_out_per_1k": 0.006,
        "context_window": 32000,
    },
    "large": {
        "model": "l",
        "price_in_per_1k": 0.01,
        "price_out_per_1k": 0.03,
        "context_window": 128000,
    },
}


def history(requests: int, start: int = 0, seed: int = 1) -> list[AnyEvent]:
    rng = random.Random(seed + start)
    events: list[AnyEvent] = []
    if start == 0:
        events.append(
            ExperimentCreated(
                event_id="bench-created",
                entity_id="bench",
                at=0.0,
                arms=tuple(CATALOGUE),
                config={"catalogue": CATALOGUE},
            )
        )
    for i in range(start, start + requests):
        arm = rng.choice(tuple(CATALOGUE))
        at = 1_767_225_600.0 + i * 0.5
        events.append(
            DecisionMade(
                event_id=f"d{i}",
                entity_id="bench",
                at=at,
                decision_id=f"d{i}",
                arm=arm,
                propensity=1 / 3,
                context={"task_type": "ab"[i % 2]},
            )
        )
        if rng.random() < 0.8:
            events.append(
                OutcomeObserved(
                    event_id=f"o{i}",
                    entity_id="bench",
                    at=at + 2,
                    decision_id=f"d{i}",
                    quality=rng.random(),
                    input_tokens=rng.randrange(100, 3000),
                    output_tokens=rng.randrange(50, 800),
                    latency_ms=rng.uniform(50, 3000),
                )
            )
    return events


async def run(args: argparse.Namespace, report: Report, res: Resources) -> None:
    res.tmp = tempfile.TemporaryDirectory(prefix="bench-projections-")
    tmp = Path(res.tmp.name)
    res.server = EmbeddedNatsServer(tmp / "nats", sync_interval="1s")
    res.server.start()
    nc = await connect(Settings(nats_url=res.server.url), url=res.server.url, name="bench")
    try:
        log = EventLog(nc.jetstream())
        await log.ensure()
        first = int(args.requests * 0.9)
        events = history(first)
        progress(f"appending {len(events)} events")
        for i in range(0, len(events), 5000):
            await log.append_many(events[i : i + 5000])
        runner = ProjectionRunner(log, tmp / "p.db", batch=args.batch)
        began = time.perf_counter()
        full = await runner.catch_up()
        seconds = time.perf_counter() - began
        report.row(
            "1. full catch-up",
            f"{full.events / seconds:,.0f}",
            "events/s",
            f"{full.events} events in {seconds:.2f} s, batch {args.batch}",
        )

        more = history(args.requests - first, start=first)
        await log.append_many(more)
        began = time.perf_counter()
        step = await runner.catch_up()
        seconds = time.perf_counter() - began
        report.row(
            "2. incremental catch-up",
            f"{step.events / seconds:,.0f}",
            "events/s",
            f"{step.events} new events in {seconds:.2f} s",
        )

        began = time.perf_counter()
        build_report(runner.db, until=2e9, since=0.0)
        report.row(
            "3. build_report",
            f"{(time.perf_counter() - began) * 1000:.1f}",
            "ms",
            f"{args.requests} requests",
        )
        try:
            from projections.report_plots import write_plots

            began = time.perf_counter()
            write_plots(runner.db, tmp / "plots")
            report.row("4. write_plots", f"{(time.perf_counter() - began):.2f}", "s", "4 PNGs")
        except ImportError:
            report.notes.append("matplotlib missing: plots not timed")

        incremental = snapshot(runner.db)
        rebuilt = ProjectionRunner(log, tmp / "rebuilt.db", batch=args.batch)
        await rebuilt.rebuild()
        report.check("rebuild equals incremental", snapshot(rebuilt.db) == incremental)
        report.check(
            "every decision projected",
            len(incremental["decisions"]) == args.requests,
            f"{len(incremental['decisions'])} of {args.requests}",
        )
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    report, res = Report(), Resources()
    try:
        asyncio.run(run(args, report, res))
    finally:
        res.release()
    print(machine_line([f"sqlite {__import__('sqlite3').sqlite_version}"]))
    print_table(report, ["figure", "value", "unit", "detail"])
    for name, ok, detail in report.checks:
        print(f"check {'ok' if ok else 'FAILED'}: {name} {detail}")
    for note in report.notes:
        print(f"note: {note}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
