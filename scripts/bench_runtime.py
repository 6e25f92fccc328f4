"""The runtime's performance figures on this machine: appends, replay, actor rebuild, recovery.

The design promises that an experiment's state is rebuilt from the log fast enough to be a
non-event (replay target: >= 25,000 events/s) and that a crashed actor with a checkpoint serves
again within 2 s plus the replay of the events after its checkpoint. This script measures both
end to end -- a real ``nats-server`` (file storage, embedded, in a temp dir), a real local Ray
cluster, the real ``EntityActor`` killed with SIGKILL -- together with the figures that explain
them:

1. append, one at a time with ack (the latency one caller sees), on the decision/outcome path;
2. append with ``Nats-Expected-Last-Subject-Sequence`` on one subject (the single-writer path:
   lifecycle and checkpoint records), tracking the last sequence;
3. ``append_many`` pipelined in chunks (the bulk path; also how the replay data is written);
4. replay of one experiment from scratch with ``llmopt.replay.replay`` (digest printed);
5. a Ray actor rebuilding that experiment from the log with no checkpoint, with the Ray worker
   start measured separately (an empty entity's actor first, and spawn -> first answer);
6. recovery after SIGKILL from a checkpoint, with a tail of T events and with no tail, split
   into "Ray restarted the actor and it answers" and what remains until it is ready (recovery
   starts in the actor's ``__init__``, so checkpoint load and tail replay overlap the first);
7. decode and fold in-process without NATS (us/event): where the replay time goes.

Correctness guards (exit status 1 if one fails): the replay digest equals an in-process fold of
the very same events, the actor's digest equals the replay's at the same sequence, a recovery
that should start from the checkpoint did start from it, and the recovered actor's digest
equals the in-process fold including the tail. The performance targets are printed as
PASS/FAIL and do not change the exit status. Ray workers import the project's code when an
actor starts, so a file edited during the run is reported (a digest check may fail for it).

Usage: ``.venv/bin/python scripts/bench_runtime.py [--events 1000000] [--tail 10000]
[--sync-interval 1s] [--quick]`` (``--quick``: 100,000 events, a smoke run of ~20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import nats.js.errors
import ray
from bench_common import (  # importable: `python scripts/x.py` puts scripts/ on sys.path
    Report,
    Resources,
    changed_sources,
    machine_line,
    nats_server_version,
    print_report,
    progress,
    source_fingerprint,
    verdict,
)
from nats.aio.client import Client

from actors.checkpoint import CHECKPOINT_BUCKET, Checkpoint, CheckpointStore, checkpoint_key
from actors.entity_actor import find_actor, spawn_actor
from actors.experiment_ledger import ExperimentLedger
from actors.host import HostStatus
from events.codec import decode, encode
from events.log import EventLog
from events.schema import CheckpointTaken, DecisionMade, Event, ExperimentCreated, OutcomeObserved
from events.subjects import entity_filter
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer, find_nats_server
from llmopt.replay import replay
from llmopt.runtime import prepare_storage
from llmopt.settings import Settings

KIND = "experiment"
ENTITY = "bench"
"""The experiment that gets the --events events and is replayed, rebuilt and recovered."""
EMPTY_ENTITY = "bench-empty"
ARMS = ("gpt-small", "gpt-large", "claude-mid")
CHUNK = 10_000
SEQUENTIAL = 5_000
SINGLE_WRITER = 2_000
WARMUP = 200
REPLAY_TARGET_PER_S = 25_000.0
RECOVERY_BUDGET_S = 2.0
NEVER = 10**12
"""checkpoint_every_events / _seconds that never trigger: actors checkpoint only on stop()."""
COLUMNS = ("figure", "value", "unit", "detail", "target")
"""The table's columns, in print order."""


def traffic(entity_id: str, start: int = 0, arms: tuple[str, ...] = ARMS) -> Iterator[Event]:
    """Endless decisions and, for every decision but each fifth, its outcome (as the e2e
    helpers' ``traffic()``), with the context and usage fields a production caller sends."""
    for i in itertools.count(start):
        decision_id = f"{entity_id}-d{i}"
        yield DecisionMade(
            event_id=decision_id,
            entity_id=entity_id,
            at=float(i),
            decision_id=decision_id,
            arm=arms[i % len(arms)],
            propensity=0.5,
            context={"tenant": f"t{i % 16}", "prompt_tokens": 200 + i % 800},
        )
        if i % 5:
            yield OutcomeObserved(
                event_id=f"{decision_id}-o",
                entity_id=entity_id,
                at=i + 0.5,
                decision_id=decision_id,
                reward=(i % 7) / 7,
                cost_usd=0.001 * (i % 3),
                input_tokens=200 + i % 800,
                output_tokens=50 + i % 300,
                latency_ms=300.0 + (i % 97) * 7.5,
            )


def created_event(entity_id: str) -> ExperimentCreated:
    return ExperimentCreated(
        event_id=f"{entity_id}-created", entity_id=entity_id, at=0.0, arms=ARMS
    )


def chunks(events: Iterator[Event], total: int, size: int = CHUNK) -> Iterator[list[Event]]:
    left = total
    while left > 0:
        chunk = list(itertools.islice(events, min(size, left)))
        left -= len(chunk)
        yield chunk


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "inf"


# -- 1-3: appends --------------------------------------------------------------------------------


async def bench_sequential(event_log: EventLog, report: Report) -> None:
    for event in itertools.islice(traffic("bench-warmup"), WARMUP):
        await event_log.append(event)
    latencies: list[float] = []
    events = list(itertools.islice(traffic("bench-seq"), SEQUENTIAL))
    started = time.perf_counter()
    for event in events:
        t0 = time.perf_counter()
        await event_log.append(event)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    report.row(
        "1. append, sequential (ack each)",
        rate(len(events), elapsed),
        "events/s",
        f"p50 {statistics.median(latencies) * 1e3:.3f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1e3:.3f} ms, n={len(events):,}",
    )


async def bench_single_writer(event_log: EventLog, report: Report) -> None:
    """CheckpointTaken records on one entity's checkpoint subject, as ``EntityHost`` appends
    them: each append names the subject's last sequence the writer has seen."""
    entity_id = "bench-single-writer"
    last = 0
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(1, SINGLE_WRITER + 1):
        event = CheckpointTaken(
            event_id=f"checkpoint:{KIND}:{entity_id}:{n}",
            entity_id=entity_id,
            at=float(n),
            kind=KIND,
            seq=n,
            digest="0" * 64,
            state_version=1,
        )
        t0 = time.perf_counter()
        appended = await event_log.append(event, expected_last_seq=last)
        latencies.append(time.perf_counter() - t0)
        last = appended.seq
    elapsed = time.perf_counter() - started
    latencies.sort()
    report.row(
        "2. append, expected-last-subject-seq",
        rate(SINGLE_WRITER, elapsed),
        "events/s",
        f"p50 {statistics.median(latencies) * 1e3:.3f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1e3:.3f} ms, n={SINGLE_WRITER:,}, one subject",
    )


async def write_experiment(
    event_log: EventLog, events: Iterator[Event], total: int, report: Report
) -> int:
    """The experiment's creation and ``total`` events, with append_many in chunks; returns the
    mean payload size in bytes."""
    await event_log.append(created_event(ENTITY), expected_last_seq=0)
    elapsed = 0.0
    payload = 0
    written = 0
    chunk_rates: list[float] = []
    for chunk in chunks(events, total):
        if not payload:
            sample = chunk[:1000]
            payload = sum(len(encode(e)) for e in sample) // len(sample)
        t0 = time.perf_counter()
        appended = await event_log.append_many(chunk)
        took = time.perf_counter() - t0
        elapsed += took
        chunk_rates.append(len(chunk) / took)
        if any(a.duplicate for a in appended):
            report.check("append_many: no duplicates", False, "a fresh event id was a duplicate")
        written += len(chunk)
        if written % 100_000 == 0 or written == total:
            progress(f"appended {written:,}/{total:,} ({written / elapsed:,.0f} events/s)")
    chunk_rates.sort()
    report.row(
        f"3. append_many, pipelined ({CHUNK:,}/chunk)",
        rate(total, elapsed),
        "events/s",
        f"n={total:,} in {elapsed:.1f} s, chunk p50 {statistics.median(chunk_rates):,.0f}/s "
        f"min {chunk_rates[0]:,.0f}/s",
    )
    return payload


# -- 7: decode and fold in-process ---------------------------------------------------------------


@dataclass
class Fold:
    """The in-process oracle: the experiment folded without NATS, timed."""

    folded: ExperimentLedger
    decoded_folded: ExperimentLedger
    encode_s: float
    decode_s: float
    apply_s: float
    decode_apply_s: float
    events: int
    late_apply_s: float
    late_events: int
    """The fold over the last tenth of the events, when the ledger's bounded tables are full."""


def fold_in_process(total: int) -> Fold:
    """Decode-only, fold-over-decoded and decode+fold, per chunk of the same events as the log
    (regenerated deterministically), timing only the inner loops."""
    folded = ExperimentLedger.initial(ENTITY)
    decoded_folded = ExperimentLedger.initial(ENTITY)
    encode_s = decode_s = apply_s = decode_apply_s = late_apply_s = 0.0
    events = late_events = 0
    stream = itertools.chain([created_event(ENTITY)], traffic(ENTITY))
    for chunk in chunks(stream, total + 1):
        t0 = time.perf_counter()
        blobs = [encode(e) for e in chunk]
        t1 = time.perf_counter()
        decoded = [decode(b) for b in blobs]
        t2 = time.perf_counter()
        apply = folded.apply
        for event in decoded:
            apply(event)
        t3 = time.perf_counter()
        apply2 = decoded_folded.apply
        for blob in blobs:
            apply2(decode(blob))
        t4 = time.perf_counter()
        encode_s += t1 - t0
        decode_s += t2 - t1
        apply_s += t3 - t2
        decode_apply_s += t4 - t3
        events += len(chunk)
        if events > 0.9 * (total + 1):
            late_apply_s += t3 - t2
            late_events += len(chunk)
    return Fold(
        folded,
        decoded_folded,
        encode_s,
        decode_s,
        apply_s,
        decode_apply_s,
        events,
        late_apply_s,
        late_events,
    )


def report_fold(fold: Fold, report: Report) -> None:
    n = fold.events
    report.row("7. encode (codec.encode)", f"{fold.encode_s / n * 1e6:.2f}", "us/event", "")
    report.row("7. decode (codec.decode)", f"{fold.decode_s / n * 1e6:.2f}", "us/event", "")
    report.row(
        "7. fold (ExperimentLedger.apply)",
        f"{fold.apply_s / n * 1e6:.2f}",
        "us/event",
        "over pre-decoded events",
    )
    report.row(
        "7. fold, last tenth of the events",
        f"{fold.late_apply_s / fold.late_events * 1e6:.2f}",
        "us/event",
        f"{fold.late_events:,} events, after {fold.events - fold.late_events:,}",
    )
    report.row(
        "7. decode + fold from bytes",
        f"{fold.decode_apply_s / n * 1e6:.2f}",
        "us/event",
        f"= {rate(n, fold.decode_apply_s)} events/s ceiling without NATS, n={n:,}",
    )
    state = fold.folded
    tables = ", ".join(
        f"{name} {len(table):,}"
        for name in ("pending", "resolved")
        if isinstance(table := getattr(state, name, None), dict)
    )
    report.notes.append(
        f"7: ledger tables after the fold: {tables} (capacity {state.pending_capacity:,} each)"
    )


# -- 5-6: the Ray actor --------------------------------------------------------------------------


async def entity_head(event_log: EventLog, entity_id: str) -> int:
    return await event_log.last_subject_seq(entity_filter(KIND, entity_id))


async def newest_checkpoint(event_log: EventLog, entity_id: str) -> Checkpoint | None:
    """The newest checkpoint, read with a plain KV get: the bench's own check must not share
    the code path it checks (``CheckpointStore.load_newest_valid`` walks ``kv.history``)."""
    kv = await event_log.js.key_value(CHECKPOINT_BUCKET)
    try:
        entry = await kv.get(checkpoint_key(KIND, entity_id))
    except nats.js.errors.KeyNotFoundError:
        return None
    if not entry.value:
        return None
    stored = msgspec.msgpack.decode(entry.value, type=Checkpoint)
    return await CheckpointStore(event_log.js).with_state(stored)


def missed_checkpoint(status: HostStatus, checkpoint_seq: int, head: int) -> str:
    """What a failed recovery check prints."""
    detail = (
        f"seq {status.seq}, head {head}, recovered_from {status.recovered_from_seq} "
        f"(checkpoint {checkpoint_seq}), checkpoints_skipped {status.checkpoints_skipped}"
    )
    if status.recovered_from_seq == 0 and status.checkpoints_skipped == 0:
        detail += "; the actor found no checkpoint although one exists: it replayed everything"
    return detail


async def wait_caught_up(actor: Any, seq: int, within_s: float = 300.0) -> HostStatus:
    deadline = time.monotonic() + within_s
    while True:
        status: HostStatus = await actor.status.remote()
        if status.ready and status.seq >= seq:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"actor at seq {status.seq}, not {seq}, after {within_s}s")
        await asyncio.sleep(0.1)


async def wait_name_free(settings: Settings, entity_id: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while find_actor(settings, KIND, entity_id) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"actor {KIND}/{entity_id} still registered after ray.kill")
        await asyncio.sleep(0.05)


async def retire(resources: Resources, settings: Settings, actor: Any, entity_id: str) -> None:
    """Stop the actor (final checkpoint if it folded anything since the last), then kill it."""
    await actor.stop.remote()
    ray.kill(actor, no_restart=True)
    resources.actors.remove(actor)
    await wait_name_free(settings, entity_id)


@dataclass
class Spawned:
    actor: Any
    answer_s: float
    ready_s: float
    status: HostStatus


async def spawn_timed(resources: Resources, settings: Settings, url: str, entity: str) -> Spawned:
    t0 = time.perf_counter()
    actor = spawn_actor(settings, KIND, entity, url)
    resources.actors.append(actor)
    await actor.pid.remote()
    t_answer = time.perf_counter()
    status: HostStatus = await actor.wait_ready.remote(3600.0)
    t_ready = time.perf_counter()
    return Spawned(actor, t_answer - t0, t_ready - t0, status)


@dataclass
class Recovery:
    answer_s: float
    ready_s: float
    status: HostStatus
    killed_pid: int


async def kill_and_recover(actor: Any) -> Recovery:
    """SIGKILL the actor's process; Ray restarts it (max_restarts=-1). Time until a call is
    answered by the new process, and until it reports ready (caught up with the log head it
    saw when its recovery began)."""
    pid: int = await actor.pid.remote()
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    new_pid: int = await actor.pid.remote()  # retried by Ray until the restarted actor answers
    t_answer = time.perf_counter()
    status: HostStatus = await actor.wait_ready.remote(3600.0)
    t_ready = time.perf_counter()
    if new_pid == pid:
        raise RuntimeError(f"actor pid {pid} still answers after SIGKILL")
    return Recovery(t_answer - t0, t_ready - t0, status, pid)


async def bench_actor(
    resources: Resources,
    url: str,
    event_log: EventLog,
    replayed: Any,
    fold: Fold,
    events: Iterator[Event],
    tail: int,
    report: Report,
) -> None:
    settings = Settings(
        nats_url=url,
        ray_namespace="llmopt-bench",
        checkpoint_every_events=NEVER,
        checkpoint_every_seconds=float(NEVER),
    )
    progress("starting Ray (num_cpus=2)")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    resources.ray_started = True
    report.notes.append(f"ray.init took {time.perf_counter() - t0:.1f} s (not in any figure)")

    # Ray worker start, measured on an entity with no events.
    progress("spawning an actor for an empty entity (Ray worker start)")
    empty = await spawn_timed(resources, settings, url, EMPTY_ENTITY)
    report.row(
        "5. Ray actor start, empty entity",
        f"{empty.ready_s:.2f}",
        "s",
        f"spawn -> first answer {empty.answer_s:.2f} s, -> ready (0 events) {empty.ready_s:.2f} s",
    )
    await retire(resources, settings, empty.actor, EMPTY_ENTITY)

    # Rebuild from the log, no checkpoint.
    head = await entity_head(event_log, ENTITY)
    progress(f"spawning the actor for {ENTITY}: rebuild of {replayed.events:,} events")
    rebuilt = await spawn_timed(resources, settings, url, ENTITY)
    status = rebuilt.status
    n = replayed.events
    replay_part = rebuilt.ready_s - rebuilt.answer_s
    report.check(
        "actor rebuild: ready at the log head, from scratch",
        status.seq == head and status.recovered_from_seq == 0,
        f"seq {status.seq}, head {head}, recovered_from_seq {status.recovered_from_seq}",
    )
    report.row(
        "5. actor rebuild, no checkpoint (replay)",
        rate(n, replay_part),
        "events/s",
        f"{n:,} events in {replay_part:.2f} s after the first answer (Ray start excluded)",
        f">= {REPLAY_TARGET_PER_S:,.0f}/s {verdict(n / replay_part >= REPLAY_TARGET_PER_S)}",
    )
    report.row(
        "5. actor rebuild, spawn -> ready",
        rate(n, rebuilt.ready_s),
        "events/s",
        f"{rebuilt.ready_s:.2f} s incl. Ray worker start ({rebuilt.answer_s:.2f} s to 1st answer)",
    )
    if status.seq == replayed.seq:
        same = status.digest == replayed.digest
    else:
        same = status.digest == (await replay(event_log, KIND, ENTITY, to_seq=status.seq)).digest
    report.check(
        "actor digest == replay digest at the same seq", same, f"seq {status.seq}, {status.digest}"
    )

    # A checkpoint: stop() takes a final one; a new actor then starts from it.
    progress("checkpointing (actor.stop) and spawning a new actor from the checkpoint")
    checkpoint_seq = status.seq
    await retire(resources, settings, rebuilt.actor, ENTITY)
    newest = await newest_checkpoint(event_log, ENTITY)
    size = len(newest.state) if newest is not None else 0
    report.check(
        "stop() left a checkpoint at the actor's seq",
        newest is not None and newest.seq == checkpoint_seq and newest.is_intact(),
        f"checkpoint seq {newest.seq if newest else None}, actor seq {checkpoint_seq}",
    )
    cold = await spawn_timed(resources, settings, url, ENTITY)
    actor = cold.actor
    head = await entity_head(event_log, ENTITY)
    status = cold.status
    report.check(
        "new actor recovered from the checkpoint",
        status.recovered_from_seq == checkpoint_seq
        and status.last_checkpoint_seq == checkpoint_seq
        and status.seq == head,
        missed_checkpoint(status, checkpoint_seq, head),
    )
    replay_rate = replayed.events_per_second
    budget = RECOVERY_BUDGET_S + (head - checkpoint_seq) / replay_rate
    report.row(
        "6. actor spawn from checkpoint (cold)",
        f"{cold.ready_s:.2f}",
        "s",
        f"first answer {cold.answer_s:.2f} s, ready +{cold.ready_s - cold.answer_s:.2f} s; "
        f"state {size / 1e6:.1f} MB",
        f"<= {budget:.2f} s {verdict(cold.ready_s <= budget)}",
    )
    report.check(
        "actor digest after checkpoint recovery == replay digest",
        status.digest == replayed.digest,
        status.digest,
    )

    for label, tail_events in (("no tail", 0), (f"tail {tail:,}", tail)):
        expected = fold.folded
        if tail_events:
            batch = list(itertools.islice(events, tail_events))
            progress(f"appending a tail of {tail_events:,} events")
            for chunk in chunks(iter(batch), tail_events):
                await event_log.append_many(chunk)
            for event in batch:
                expected.apply(decode(encode(event)))
        head = await entity_head(event_log, ENTITY)
        await wait_caught_up(actor, head)
        progress(f"SIGKILL, recovery with {label}")
        recovery = await kill_and_recover(actor)
        status = recovery.status
        replayed_after = status.seq - status.recovered_from_seq
        report.check(
            f"recovery ({label}): ready at head from the checkpoint",
            status.seq == head
            and status.recovered_from_seq == checkpoint_seq
            and status.pid != recovery.killed_pid,
            missed_checkpoint(status, checkpoint_seq, head),
        )
        report.check(
            f"recovery ({label}): digest == in-process fold",
            status.digest == expected.digest(),
            status.digest,
        )
        # The budget counts the tail after the checkpoint, not what the actor replayed: a
        # recovery that missed the checkpoint and replayed everything must not pass.
        budget = RECOVERY_BUDGET_S + (head - checkpoint_seq) / replay_rate
        report.row(
            f"6. recovery after SIGKILL, {label}",
            f"{recovery.ready_s:.2f}",
            "s",
            f"answers {recovery.answer_s:.2f} s, ready +{recovery.ready_s - recovery.answer_s:.2f} "
            f"s; {replayed_after:,} event(s) replayed",
            f"<= {budget:.2f} s {verdict(recovery.ready_s <= budget)}",
        )
    report.notes.append(
        f"6: the tail counts the actor's own CheckpointTaken record after checkpoint seq "
        f"{checkpoint_seq:,}; 'answers' = SIGKILL -> first reply of the restarted process "
        "(Ray restart, imports, __init__); recovery (connect, checkpoint load, tail replay) "
        "starts in __init__, so it overlaps that; 'ready +x' is what remains after the first "
        "answer. The same holds for 5's 'after the first answer'."
    )
    await retire(resources, settings, actor, ENTITY)


# -- the run -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, resources: Resources, report: Report) -> None:
    assert resources.server is not None
    url = resources.server.url
    nc: Client = await connect(Settings(nats_url=url), url=url, name="bench-runtime")
    try:
        event_log, _ = await prepare_storage(nc.jetstream(), Settings(nats_url=url))

        progress(f"1. {SEQUENTIAL:,} sequential appends")
        await bench_sequential(event_log, report)
        progress(f"2. {SINGLE_WRITER:,} single-writer appends")
        await bench_single_writer(event_log, report)

        progress(f"3. writing {args.events:,} events with append_many")
        events = traffic(ENTITY)
        payload = await write_experiment(event_log, events, args.events, report)
        report.notes.append(
            f"events: decisions + outcomes (4 of 5 decisions), {len(ARMS)} arms, "
            f"~{payload} B JSON each"
        )

        progress("4. replay from scratch")
        replayed = await replay(event_log, KIND, ENTITY)
        report.row(
            "4. replay from scratch (llmopt.replay)",
            f"{replayed.events_per_second:,.0f}",
            "events/s",
            f"{replayed.events:,} events in {replayed.seconds:.2f} s, digest "
            f"{replayed.digest[:16]}",
            f">= {REPLAY_TARGET_PER_S:,.0f}/s "
            f"{verdict(replayed.events_per_second >= REPLAY_TARGET_PER_S)}",
        )
        report.check(
            "replay folded every event of the experiment",
            replayed.events == args.events + 1,
            f"{replayed.events:,} folded, {args.events + 1:,} written",
        )

        progress("7. decode + fold in-process")
        fold = await asyncio.to_thread(fold_in_process, args.events)
        report_fold(fold, report)
        report.check(
            "replay digest == in-process fold digest",
            replayed.digest == fold.folded.digest() == fold.decoded_folded.digest(),
            replayed.digest,
        )

        await bench_actor(resources, url, event_log, replayed, fold, events, args.tail, report)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the experiment")
    parser.add_argument("--tail", type=int, default=10_000, help="events after the checkpoint")
    parser.add_argument("--sync-interval", default="1s", help="nats-server jetstream sync_interval")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100,000 events")
    parser.add_argument("--base-dir", type=Path, default=None, help="where the temp dir goes")
    args = parser.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 100_000)
    if args.events < 1 or args.tail < 1:
        parser.error("--events and --tail must be positive")

    version = nats_server_version(find_nats_server())
    print(machine_line([version, f"ray {ray.__version__}"]))
    print(
        f"setup: embedded nats-server (file storage, sync_interval {args.sync_interval}), "
        f"local Ray (num_cpus=2); experiment of {args.events:,} events, tail {args.tail:,}"
    )
    report = Report()
    resources = Resources()
    started = time.perf_counter()
    sources = source_fingerprint()
    try:
        resources.tmp = tempfile.TemporaryDirectory(prefix="llmopt-bench-", dir=args.base_dir)
        resources.server = EmbeddedNatsServer(
            Path(resources.tmp.name) / "nats", sync_interval=args.sync_interval
        )
        resources.server.start()
        asyncio.run(bench(args, resources, report))
    finally:
        resources.release()
    total = time.perf_counter() - started
    changed = changed_sources(sources)
    if changed:
        report.notes.append(
            "WARNING: project files changed during the run, so the driver and the actors (which "
            f"import the code when they start) may have run different code: {', '.join(changed)}"
        )
    if any("SIGKILL" in row.figure for row in report.rows):
        report.notes.append(
            "the raylet's 'worker died' messages above are the SIGKILLs of figure 6"
        )

    print_report(report, total, COLUMNS, group_by_figure_number=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
