"""Appending a batch of events: JetStream atomic batch publish (ADR-50) against pipelining.

Why this exists: ``decide_batch`` logged one ``DecisionMade`` per decision before it replied,
and waiting for 100 acknowledgements looked like the cost to cut; an atomic batch is
acknowledged once, at its commit. (The decision service now logs the decisions made together as
one ``DecisionsMade`` message, :mod:`events.decision_batch`, which needs neither.) This script
measures, on a fresh embedded nats-server with the project's settings (file storage,
``sync_interval`` 1s), batches of 1, 10, 100 and 1,000 events of the size of a logged decision
(~700 bytes), each with its own ``Nats-Msg-Id``:

- ``atomic``: ``Nats-Batch-Id`` / ``Nats-Batch-Sequence`` on every message, ``Nats-Batch-Commit:
  1`` on the last, which is the only one acknowledged (a stream with ``allow_atomic``);
- ``pipelined``: :class:`events.pipelined_append.PipelinedAppender`, one publish and one
  acknowledgement per event, one wait for the batch (what the decision service uses);

and the same on a memory-storage stream, to tell the disk's part from the protocol's. It also
checks the two behaviours that decide whether atomic batches fit the decision log: a batch with
an event id the log already holds is refused whole, and one over 1,000 messages is refused.

Usage: ``.venv/bin/python scripts/bench_atomic_batch.py [--repeat 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats
from bench_common import machine_line, nats_server_version  # scripts/ is on sys.path
from nats.aio.client import Client
from nats.js import api

from events.codec import encode
from events.pipelined_append import PipelinedAppender
from events.schema import DecisionMade
from gateway.nats_server import EmbeddedNatsServer, find_nats_server

SIZES = (1, 10, 100, 1000)
CONTEXT = {
    "tier": "pro",
    "service": "svc-12",
    "temperature": 0.7,
    "input_tokens": 812,
    "note": "y" * 300,
}


def events(stream: str, n: int) -> list[DecisionMade]:
    """``n`` decisions of a logged decision's size on ``stream``'s subjects, fresh ids."""
    return [
        DecisionMade(
            event_id=f"{stream}:{uuid.uuid4().hex}",
            entity_id=stream.lower(),
            at=1.0,
            decision_id=uuid.uuid4().hex,
            arm="gpt-4o-mini",
            propensity=1.0,
            context=CONTEXT,
        )
        for _ in range(n)
    ]


async def atomic(nc: Client, subject: str, batch: list[DecisionMade]) -> dict[str, object]:
    """Publish ``batch`` as one atomic batch; the commit's acknowledgement (or error)."""
    batch_id = uuid.uuid4().hex
    last = len(batch)
    for i, event in enumerate(batch[:-1], start=1):
        headers = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(i)}
        headers["Nats-Msg-Id"] = event.event_id
        await nc.publish(subject, encode(event), headers=headers)
    headers = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(last)}
    headers |= {"Nats-Msg-Id": batch[-1].event_id, "Nats-Batch-Commit": "1"}
    reply = await nc.request(subject, encode(batch[-1]), timeout=10.0, headers=headers)
    answer: dict[str, object] = json.loads(reply.data)
    return answer


async def pipelined(appender: PipelinedAppender, batch: list[DecisionMade]) -> str | None:
    pending = appender.append(batch)
    await asyncio.wait_for(pending.done, 10.0)
    return pending.first_error()


async def measure(nc: Client, storage: api.StorageType, repeat: int) -> None:
    stream = f"BENCH_{storage.value.upper()}"
    prefix = f"llmopt.log.experiment.{stream.lower()}"
    js = nc.jetstream()
    await js.add_stream(
        api.StreamConfig(
            name=stream,
            subjects=[f"{prefix}.>"],
            storage=storage,
            duplicate_window=600.0,
            allow_atomic=True,
        )
    )
    appender = PipelinedAppender(nc, stream)
    await appender.start()
    subject = f"{prefix}.decision"
    for n in SIZES:
        times: dict[str, list[float]] = {"atomic": [], "pipelined": []}
        for _ in range(repeat if n < 1000 else max(3, repeat // 10)):
            batch = events(stream, n)
            t0 = time.perf_counter()
            answer = await atomic(nc, subject, batch)
            times["atomic"].append(time.perf_counter() - t0)
            if "error" in answer:
                raise SystemExit(f"atomic batch of {n} refused: {answer}")
            t0 = time.perf_counter()
            error = await pipelined(appender, events(stream, n))
            times["pipelined"].append(time.perf_counter() - t0)
            if error is not None:
                raise SystemExit(f"pipelined batch of {n} refused: {error}")
        for mode, values in times.items():
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            print(
                f"{storage.value:6s} | {mode:9s} | {n:5,d} events | p50 "
                f"{statistics.median(values) * 1e3:7.2f} ms | p99 {p99 * 1e3:7.2f} ms | "
                f"n={len(values)}"
            )
    if storage is api.StorageType.FILE:
        logged = events(stream, 2)
        first = await atomic(nc, subject, logged[:1])
        again = await atomic(nc, subject, [*events(stream, 1), logged[0]])
        print(f"atomic batch holding an already-logged event id: {again.get('error') or again}")
        print(f"  (its first append: {first})")
        big = await atomic(nc, subject, events(stream, 1001))
        print(f"atomic batch of 1,001: {big.get('error') or big}")
    await appender.stop()


async def main_async(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="llmopt-atomic-") as tmp:
        server = EmbeddedNatsServer(Path(tmp) / "nats", sync_interval="1s")
        server.start()
        try:
            nc = await nats.connect(server.url)
            try:
                print("storage | mode      | batch        | latency")
                for storage in (api.StorageType.FILE, api.StorageType.MEMORY):
                    await measure(nc, storage, repeat)
            finally:
                await nc.close()
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="batches per size and mode")
    args = parser.parse_args()
    version = nats_server_version(find_nats_server())
    print(machine_line([version, f"nats-py {importlib.metadata.version('nats-py')}"]))
    asyncio.run(main_async(args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
