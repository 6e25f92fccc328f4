"""The decision path's performance on this machine: LinUCB, 16 features, 5 arms, real NATS.

An experiment is created through the admin gateway exactly as an application would create it
(``llmopt.admin.experiment.create``, policy ``linucb``, a 16-column feature schema mixing every
feature kind), its actor is started by the directory of a real ``Services`` (the runtime that
``llmopt serve`` runs) on a real local Ray cluster and a real ``nats-server`` (file storage,
embedded, in a temp dir). The load comes from a separate process (this script re-run with
``--loadgen``) so it does not share an event loop with the gateway; it sends request-reply
with JSON bodies, each request's context drawn from a seeded generator. The experiment has no
fallback arm, so every decision is the actor's own (the gateway's stand-in never answers). Its
``pending_capacity`` is 20,000 (``--pending-capacity``): these phases make decisions without
outcomes, and a checkpoint encodes the whole table on the actor's loop (at the config's
default of 100,000, a ~19 MiB state: figure 5). After every phase the script waits
until the actor answers promptly again, so no phase queues behind the previous one's backlog.

The generator is a raw-protocol NATS client (``scripts/bench_nats_client.py``, not nats-py)
so that its own CPU stays small: it runs on the same two cores as the actor and nats-server,
and what it spends there is queueing that a production client (on another machine) would not
add. Measured on this machine with nothing else running, at 5,000 requests/s: 24% of a core
(48 us per request) against 36% (72 us) with nats-py; with 64-256 requests in flight 3-5 us per
request against 8-12 us. What is left at a fixed rate is mostly the price of waking up on this
VM: pacing needs a wake-up per send and one per reply read, and an asyncio loop that does
nothing but wake 5,000 times a second already uses ~22% of a core here; plus one send(2) per
request, which on loopback also runs nats-server's TCP receive path. Each read of replies is
timestamped once, on arrival, so a busy generator does not date them late; the notes give the
generator's CPU share during every phase.

1. Open-loop latency at fixed offered loads (default 1,000 and 5,000 requests/s): requests are
   sent on a fixed clock whatever the replies do, and latency is measured from each request's
   *scheduled* send time, so a stall shows up in every request it delays (no coordinated
   omission). Requests still unanswered 5 s after the last send count as infinitely slow.
   The generator's event loop waits on select(2) (microsecond timeouts) instead of epoll
   (millisecond timeouts), and its own send lag is printed next to the figures.
2. Closed-loop throughput: N requests in flight (default 1, 64, 128, 256), each reply sends
   the next; the best decisions/s and its latency.
3. ``llmopt.decide_batch`` with 100 contexts, one batch in flight: latency p50/p99.
4. Outcomes: (a) ``llmopt.outcome`` end to end (gateway -> owning actor -> log) with N in
   flight, for decisions the generator obtained first; (b) one actor folding decisions and
   outcomes that were appended beforehand with ``EventLog.append_many`` -- timed from the
   moment its consumer exists (so the Ray worker start is excluded) until ``status().seq``
   reaches the entity's head, once with the checkpoint settings ``llmopt serve`` uses and
   once with checkpoints off (to show what checkpointing costs the fold).
5. Where the time goes, in-process without NATS: a decision's parts and the fold per event.

During every timed window the generator samples the CPU time of the actor's process, the
nats-server, itself, this process (the gateway), the rest of this run's process tree (Ray)
and of everything else on the machine, so a bottleneck shows as a process near 100% of one
core and a machine shared with other work is called out (its figures are pessimistic). Ray
starts actors at nice 15 by default; ``llmopt serve`` (and this script) start them at 0
(``--worker-niceness`` changes it).

Targets (PASS/FAIL in the table, not in the exit status): p50 <= 1 ms and p99 <= 3 ms at
5,000/s; >= 10,000 decisions/s per instance; batch of 100 p99 <= 5 ms; >= 20,000 outcomes/s
applied by one actor. The exit status is 1 if a correctness check fails (errors or lost
replies, an actor that had to recover mid-run, a fold that did not reach the head).

Usage: ``.venv/bin/python scripts/bench_decisions.py [--duration 10] [--quick]``
(``--quick``: 3 s per load, 20,000 decisions in the fold, a smoke run of ~1.5 min).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import random
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import nats
import nats.errors
import nats.js.errors
import numpy as np
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
from bench_nats_client import (
    NatsClient,
    NatsClientError,
    NatsTimeout,
    NoResponders,
    header_status,
)
from bench_nats_client import connect as connect_raw
from nats.aio.client import Client

from actors.checkpoint import INLINE_MAX
from actors.context_features import ContextEncoder
from actors.decider import DecideRequest, decide
from actors.entity_actor import find_actor, spawn_actor
from actors.experiment_config import parse_config
from actors.experiment_ledger import ExperimentLedger
from actors.feature_schema import FeatureSchema
from actors.host import HostStatus, consumer_name
from actors.policies import decision_rng
from events.codec import decode, encode
from events.log import LOG_STREAM, EventLog
from events.schema import DecisionMade, Event, ExperimentCreated, OutcomeObserved
from events.subjects import entity_filter
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer, find_nats_server
from llmopt.runtime import Services
from llmopt.settings import Settings

KIND = "experiment"
NAMESPACE = "llmopt-bench-decisions"
EXPERIMENT = "bench-decide"
ARMS = ("gpt-4o-mini", "gpt-4o", "claude-haiku", "claude-sonnet", "llama-3-70b")
FEATURES: list[dict[str, Any]] = [
    {"kind": "bias"},  # 1
    {"kind": "numeric", "name": "temperature", "default": 0.7},  # 1
    {"kind": "numeric", "name": "budget", "scale": "standardise", "mean": 0.5, "sd": 0.25},  # 1
    {"kind": "token_count", "name": "input_tokens"},  # 1
    {"kind": "one_hot", "name": "tier", "values": ["free", "pro", "enterprise"]},  # 3 + other
    {"kind": "hashed", "name": "service", "buckets": 6},  # 6
    {"kind": "cyclical", "name": "ts", "period": "hour_of_day"},  # 2
]
DIM = 16
SEED = 20_240_611
BATCH = 100
OUTCOME_LAG = 1_000
"""In the fold's traffic, the outcome of decision i is appended after decision i + this."""
NEVER = 10**12
DECIDE_PENDING_CAPACITY = 20_000
"""The decision experiment's ``pending_capacity``. These phases make decisions without
outcomes, so the table fills; at the config's default (100,000) each checkpoint would encode
a ~19 MiB state on the actor's loop (figure 5 shows the sizes), a stall of tens of ms."""
REPLY_GRACE_S = 5.0
NICENESS_ENV = "RAY_worker_niceness"
"""Ray's setting (case-sensitive) for the niceness of worker processes, its actors' included."""
SETTLE_WITHIN_S = 300.0
SETTLED_S = 0.05
"""A decide round trip this fast (three in a row) means the actor has no backlog left."""
OUTSIDE_WARNING = 20.0
"""% of one core used outside this run during a window above which a warning is printed."""
TARGET_P50_MS = 1.0
TARGET_P99_MS = 3.0
TARGET_LOAD = 5_000
TARGET_DECISIONS_PER_S = 10_000.0
TARGET_BATCH_MS = 5.0
TARGET_OUTCOMES_PER_S = 20_000.0
COLUMNS = ("figure", "value", "unit", "target", "detail")
"""The table's columns, in print order."""


def experiment_config(pending_capacity: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {"policy": "linucb", "features": {"features": FEATURES}}
    if pending_capacity is not None:
        config["pending_capacity"] = pending_capacity
    return config


def check_schema() -> FeatureSchema:
    schema = msgspec.convert({"features": FEATURES}, FeatureSchema)
    if schema.dim != DIM:
        raise SystemExit(f"the feature schema has {schema.dim} columns, not {DIM}")
    parse_config(experiment_config(None), ARMS)
    return schema


def random_context(rng: random.Random, now: float) -> dict[str, Any]:
    """A request's context as an application sends it: every feature's field, one in ten
    without a budget (a missing field), tiers and services beyond the declared ones."""
    context: dict[str, Any] = {
        "temperature": round(rng.uniform(0.0, 1.5), 3),
        "input_tokens": int(rng.lognormvariate(6.0, 1.2)),
        "tier": rng.choice(("free", "free", "pro", "enterprise", "trial")),
        "service": f"svc-{rng.randrange(40)}",
        "ts": round(now - rng.uniform(0.0, 7 * 86_400.0), 3),
    }
    if rng.random() >= 0.1:
        context["budget"] = round(rng.random(), 3)
    return context


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def latency_summary(latencies_s: list[float], lost: int = 0) -> dict[str, float]:
    """Percentiles in ms; ``lost`` requests count as infinitely slow."""
    values = sorted(latencies_s) + [math.inf] * lost
    if not values:
        return {"n": 0, "p50": math.nan, "p99": math.nan, "p999": math.nan, "max": math.nan}
    return {
        "n": len(values),
        "p50": percentile(values, 0.50) * 1e3,
        "p99": percentile(values, 0.99) * 1e3,
        "p999": percentile(values, 0.999) * 1e3,
        "max": values[-1] * 1e3,
        "mean": statistics.fmean(latencies_s) * 1e3 if latencies_s else math.nan,
    }


def ms(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


# -- CPU accounting (read in the generator, over the exact timed window) ------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def process_nice(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return int(stat.read().rpartition(")")[2].split()[16])
    except (OSError, ValueError, IndexError):
        return None


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (this run: Ray, nats-server, generator)."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents[parent].append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


class CpuWindow:
    """CPU time over a window, in % of one core: the named processes, the rest of this run's
    process tree (Ray's raylet, GCS, idle workers), whatever else ran on the machine, and the
    whole machine's busy share (of all its CPUs)."""

    def __init__(self, pids: dict[str, int], root: int) -> None:
        self.pids = pids
        self.root = root
        self.started: dict[str, int | None] = {}
        self.tree: list[int] | None = None
        self.tree0: dict[int, int | None] = {}
        self.machine0 = (0, 0)
        self.t0 = 0.0
        self.result: dict[str, float] = {}

    def prepare(self) -> None:
        """List this run's process tree now: walking all of /proc takes milliseconds, which
        :meth:`start` would otherwise spend inside the open-loop sender's first due send."""
        self.tree = process_tree(self.root)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.started = {name: process_ticks(pid) for name, pid in self.pids.items()}
        tree = self.tree if self.tree is not None else process_tree(self.root)
        self.tree0 = {pid: process_ticks(pid) for pid in tree}
        self.machine0 = machine_ticks()

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.t0
        busy1, total1 = machine_ticks()
        if elapsed <= 0:
            return {}

        def share(before: int | None, after: int | None) -> float:
            if before is None or after is None:
                return 0.0
            return 100.0 * (after - before) / CLOCK_TICKS / elapsed

        result = {
            name: share(self.started.get(name), process_ticks(pid))
            for name, pid in self.pids.items()
        }
        named = set(self.pids.values())
        shares = {pid: share(t0, process_ticks(pid)) for pid, t0 in self.tree0.items()}
        tree = sum(shares.values())
        result["rest of this run"] = sum(v for pid, v in shares.items() if pid not in named)
        busy0, total0 = self.machine0
        if total1 > total0:
            cpus = os.cpu_count() or 1
            machine = 100.0 * (busy1 - busy0) / (total1 - total0)
            result["outside this run"] = max(0.0, machine * cpus - tree)
            result["machine"] = machine
        self.result = result
        return result


def cpu_text(cpu: dict[str, float]) -> str:
    parts = [f"{name} {value:.0f}%" for name, value in cpu.items() if name != "machine"]
    if "machine" in cpu:
        parts.append(f"machine busy {cpu['machine']:.0f}% of {os.cpu_count()} CPUs")
    return ", ".join(parts)


# -- the load generator (a child process: python bench_decisions.py --loadgen spec.json) -------


def reply_error(data: bytes, headers: bytes | None) -> str | None:
    """The error a reply carries, None for a decision: the service's ``{"error": {"code"}}``,
    or the server's status (503: nobody serves the subject, so the request was never decided)."""
    if headers is not None:
        status = header_status(headers)
        if status == 503:
            return "no_responders"
        if status is not None:
            return f"nats_status_{status}"
    if data.startswith(b'{"error"'):
        try:
            return str(msgspec.json.decode(data)["error"]["code"])
        except (msgspec.DecodeError, KeyError, TypeError):
            return "undecodable"
    return None


class Inbox:
    """One wildcard reply subject; request i is answered on ``<prefix><i>``."""

    def __init__(self) -> None:
        self.prefix = f"_BENCH.{uuid.uuid4().hex}.".encode()
        self.skip = len(self.prefix)

    def subject(self, i: int) -> bytes:
        return b"%b%d" % (self.prefix, i)

    def index(self, subject: bytes) -> int:
        return int(subject[self.skip :])


async def open_loop(nc: NatsClient, spec: dict[str, Any], cpu: CpuWindow) -> dict[str, Any]:
    rate, duration, warmup = spec["rate"], spec["duration"], spec["warmup"]
    rng = random.Random(spec["seed"])
    now = time.time()
    n_warm = int(rate * warmup)
    n = n_warm + int(rate * duration)
    bodies = [msgspec.json.encode({"context": random_context(rng, now)}) for _ in range(n)]
    inbox = Inbox()
    replies = [inbox.subject(i) for i in range(n)]
    interval = 1.0 / rate
    scheduled = [0.0] * n
    sent = [0.0] * n
    answered = [0.0] * n
    errors: collections.Counter[str] = collections.Counter()
    unanswered = n
    all_in = asyncio.Event()

    def on_reply(subject: bytes, data: bytes, headers: bytes | None) -> None:
        nonlocal unanswered
        i = inbox.index(subject)
        if answered[i]:
            errors["duplicate_reply"] += 1
            return
        answered[i] = nc.read_at
        unanswered -= 1
        if unanswered == 0:
            all_in.set()
        if headers is not None or data.startswith(b'{"error"'):
            code = reply_error(data, headers)
            if code is not None:
                errors[code] += 1

    sid = nc.subscribe(inbox.prefix + b"*", on_reply)
    await nc.flush()
    subject = spec["subject"].encode()
    publish = nc.publish
    loop = asyncio.get_running_loop()
    to_loop_clock = loop.time() - time.perf_counter()  # 0 where both are CLOCK_MONOTONIC
    finished: asyncio.Future[None] = loop.create_future()
    start = time.perf_counter() + 0.05
    i = 0

    def send_due() -> None:
        # A timer callback rather than a task awaiting asyncio.sleep: no future, no task step
        # per wake-up, which is most of what a wake-up costs the generator.
        nonlocal i
        current = time.perf_counter()
        try:
            with nc.coalescing():
                while i < n and start + i * interval <= current:
                    if i == n_warm:
                        cpu.start()
                    scheduled[i] = start + i * interval
                    sent[i] = time.perf_counter()
                    publish(subject, bodies[i], replies[i])
                    i += 1
        except NatsClientError as exc:
            finished.set_exception(exc)
            return
        if i < n:
            loop.call_at(start + i * interval + to_loop_clock, send_due)
        else:
            finished.set_result(None)

    cpu.prepare()
    loop.call_at(start + to_loop_clock, send_due)
    await asyncio.wait_for(finished, n * interval + 60.0)
    cpu.stop()
    send_end = time.perf_counter()
    await nc.wait_until(all_in, REPLY_GRACE_S)
    nc.unsubscribe(sid)
    window = range(n_warm, n)
    done = [i for i in window if answered[i]]
    lost = len(window) - len(done)
    last_answer = max((answered[i] for i in done), default=send_end)
    return {
        "offered": len(window) / (send_end - scheduled[n_warm]),
        "replied_per_s": len(done) / (last_answer - scheduled[n_warm]),
        "from_scheduled": latency_summary([answered[i] - scheduled[i] for i in done], lost),
        "from_sent": latency_summary([answered[i] - sent[i] for i in done], lost),
        "send_lag": latency_summary([sent[i] - scheduled[i] for i in window]),
        "lost": lost,
        "errors": dict(errors),
        "requests": len(window),
        "cpu": cpu.result,
    }


async def closed_loop(nc: NatsClient, spec: dict[str, Any], cpu: CpuWindow) -> dict[str, Any]:
    inflight, duration, warmup = spec["inflight"], spec["duration"], spec["warmup"]
    rng = random.Random(spec["seed"])
    now = time.time()
    pool = [msgspec.json.encode({"context": random_context(rng, now)}) for _ in range(20_000)]
    subject = spec["subject"].encode()
    inbox = Inbox()
    sent: dict[int, float] = {}
    counter = itertools.count()
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    state = {"measuring": False, "running": True, "completed": 0}
    drained = asyncio.Event()

    def send() -> None:
        j = next(counter)
        sent[j] = time.perf_counter()
        nc.publish(subject, pool[j % len(pool)], inbox.subject(j))

    def on_reply(reply_subject: bytes, data: bytes, headers: bytes | None) -> None:
        answered = nc.read_at
        began = sent.pop(inbox.index(reply_subject), None)
        if began is None:
            errors["duplicate_reply"] += 1
            return
        if state["measuring"]:
            state["completed"] += 1
            latencies.append(answered - began)
            if headers is not None or data.startswith(b'{"error"'):
                code = reply_error(data, headers)
                if code is not None:
                    errors[code] += 1
        if state["running"]:
            send()
        elif not sent:
            drained.set()

    sid = nc.subscribe(inbox.prefix + b"*", on_reply)
    await nc.flush()
    for _ in range(inflight):
        send()
    nc.send_buffered()
    await nc.sleep(warmup)
    state["measuring"] = True
    cpu.start()
    t0 = time.perf_counter()
    await nc.sleep(duration)
    state["measuring"] = False
    elapsed = time.perf_counter() - t0
    cpu.stop()
    completed = state["completed"]
    state["running"] = False
    if sent:
        await nc.wait_until(drained, REPLY_GRACE_S)
    nc.unsubscribe(sid)
    return {
        "per_s": completed / elapsed,
        "latency": latency_summary(latencies),
        "lost": len(sent),
        "errors": dict(errors),
        "requests": completed,
        "cpu": cpu.result,
    }


async def batch_loop(nc: NatsClient, spec: dict[str, Any], cpu: CpuWindow) -> dict[str, Any]:
    rng = random.Random(spec["seed"])
    now = time.time()
    count, warm = spec["count"], spec["warm"]
    subject = spec["subject"].encode()
    bodies = [
        msgspec.json.encode(
            {"requests": [{"context": random_context(rng, now)} for _ in range(BATCH)]}
        )
        for _ in range(count + warm)
    ]
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    short = 0
    t0 = time.perf_counter()
    for i, body in enumerate(bodies):
        if i == warm:
            cpu.start()
            t0 = time.perf_counter()
        began = time.perf_counter()
        try:
            reply = await nc.request(subject, body, REPLY_GRACE_S)
        except (NoResponders, NatsTimeout) as exc:
            errors[type(exc).__name__] += 1
            await nc.sleep(0.01 if isinstance(exc, NoResponders) else 0)
            continue
        took = nc.read_at - began
        if i < warm:
            continue
        latencies.append(took)
        code = reply_error(reply, None)
        if code is not None:
            errors[code] += 1
        elif reply.count(b'"decision_id"') != BATCH:
            short += 1
    elapsed = time.perf_counter() - t0
    cpu.stop()
    return {
        "latency": latency_summary(latencies),
        "decisions_per_s": count * BATCH / elapsed,
        "errors": dict(errors),
        "short_replies": short,
        "requests": count,
        "cpu": cpu.result,
    }


async def obtain_decisions(nc: NatsClient, subject: str, wanted: int, seed: int) -> list[str]:
    """Decision ids from ``decide_batch`` (4 batches in flight), for the outcome load."""
    rng = random.Random(seed)
    now = time.time()
    ids: list[str] = []

    async def one() -> None:
        while len(ids) < wanted:
            body = msgspec.json.encode(
                {"requests": [{"context": random_context(rng, now)} for _ in range(BATCH)]}
            )
            reply = msgspec.json.decode(await nc.request(subject.encode(), body, 10.0))
            if "decisions" not in reply:
                raise RuntimeError(f"decide_batch refused: {reply}")
            ids.extend(d["decision_id"] for d in reply["decisions"])

    await asyncio.gather(*(one() for _ in range(4)))
    return ids[:wanted]


async def outcome_loop(nc: NatsClient, spec: dict[str, Any], cpu: CpuWindow) -> dict[str, Any]:
    progress(f"loadgen: obtaining {spec['decisions']:,} decisions through decide_batch")
    ids = await obtain_decisions(nc, spec["batch_subject"], spec["decisions"], spec["seed"])
    rng = random.Random(spec["seed"] + 1)
    bodies = [
        msgspec.json.encode(
            {
                "decision_id": decision_id,
                "reward": round(rng.random(), 3),
                "cost_usd": round(rng.uniform(0.0001, 0.02), 6),
                "latency_ms": round(rng.uniform(200.0, 4000.0), 1),
            }
        )
        for decision_id in ids
    ]
    inflight, duration, warmup = spec["inflight"], spec["duration"], spec["warmup"]
    subject = spec["subject"].encode()
    inbox = Inbox()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    state: dict[str, Any] = {"measuring": False, "next": 0, "completed": 0, "ran_out": None}
    exhausted = asyncio.Event()
    drained = asyncio.Event()

    def send() -> None:
        j = state["next"]
        if j >= len(bodies):
            if state["ran_out"] is None:
                state["ran_out"] = time.perf_counter()
                exhausted.set()
            if not sent:
                drained.set()
            return
        state["next"] = j + 1
        sent[j] = time.perf_counter()
        nc.publish(subject, bodies[j], inbox.subject(j))

    def on_reply(reply_subject: bytes, data: bytes, headers: bytes | None) -> None:
        answered = nc.read_at
        began = sent.pop(inbox.index(reply_subject), None)
        if began is None:
            errors["duplicate_reply"] += 1
            return
        if state["measuring"]:
            state["completed"] += 1
            latencies.append(answered - began)
            if headers is not None or data.startswith(b'{"error"'):
                code = reply_error(data, headers)
                if code is not None:
                    errors[code] += 1
        send()

    sid = nc.subscribe(inbox.prefix + b"*", on_reply)
    await nc.flush()
    for _ in range(inflight):
        send()
    nc.send_buffered()
    await nc.sleep(warmup)
    state["measuring"] = True
    cpu.start()
    t0 = time.perf_counter()
    await nc.wait_until(exhausted, duration)
    state["measuring"] = False
    t1 = min(time.perf_counter(), state["ran_out"] or math.inf)
    ran_out = state["ran_out"] is not None
    cpu.stop()
    completed = state["completed"]
    state["next"] = len(bodies)
    if sent:
        await nc.wait_until(drained, REPLY_GRACE_S)
    nc.unsubscribe(sid)
    return {
        "per_s": completed / (t1 - t0),
        "latency": latency_summary(latencies),
        "lost": len(sent),
        "errors": dict(errors),
        "requests": completed,
        "ran_out": ran_out,
        "cpu": cpu.result,
    }


async def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    nc = await connect_raw(spec["url"], name=f"bench-loadgen-{spec['mode']}")
    pids = dict(spec["pids"])
    pids["loadgen"] = os.getpid()
    cpu = CpuWindow(pids, spec["root"])
    try:
        modes: dict[str, Callable[[NatsClient, dict[str, Any], CpuWindow], Any]] = {
            "open": open_loop,
            "closed": closed_loop,
            "batch": batch_loop,
            "outcome": outcome_loop,
        }
        result: dict[str, Any] = await modes[spec["mode"]](nc, spec, cpu)
        return result
    finally:
        await nc.close()


def loadgen_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    # select(2) takes microsecond timeouts; epoll rounds every timer up to a whole millisecond,
    # which would make the open-loop sender up to 1 ms late and count that as latency.
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(loadgen(spec))
    except (NatsClientError, RuntimeError, TimeoutError) as exc:
        # A lost connection, -ERR, a refused or missing reply ends the run; the driver says why.
        Path(spec["out"]).write_text(json.dumps({"failed": str(exc)}), encoding="utf-8")
        print(f"load generator ({spec['mode']}): {exc}", file=sys.stderr)
        return 1
    finally:
        loop.close()
    Path(spec["out"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


# -- the driver ---------------------------------------------------------------------------------


def start_loadgen(resources: Resources, spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    assert resources.tmp is not None
    path = Path(resources.tmp.name) / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    spec["out"] = str(path.with_suffix(".out.json"))
    path.write_text(json.dumps(spec), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--loadgen", str(path)],
        stdin=subprocess.DEVNULL,
    )
    resources.children.append(child)
    return child


def read_json(path: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return result


async def run_loadgen(
    resources: Resources, spec: dict[str, Any], within_s: float
) -> dict[str, Any]:
    """Run one load-generator process to its end (polled, so Ctrl-C is not held up)."""
    child = start_loadgen(resources, spec)
    try:
        deadline = time.monotonic() + within_s
        while child.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the load generator ({spec['mode']}) ran over {within_s:.0f} s")
            await asyncio.sleep(0.05)
        if child.returncode != 0:
            reason = ""
            with contextlib.suppress(OSError, ValueError, KeyError):
                reason = f": {read_json(spec['out'])['failed']}"
            raise RuntimeError(f"the load generator exited with status {child.returncode}{reason}")
        return read_json(spec["out"])
    finally:
        resources.stop_child(child)


async def ask(nc: Client, subject: str, body: dict[str, Any], within_s: float = 5.0) -> Any:
    reply = await nc.request(subject, msgspec.json.encode(body), timeout=within_s)
    return msgspec.json.decode(reply.data)


async def serving_experiment(
    nc: Client, settings: Settings, experiment_id: str, config: dict[str, Any]
) -> Any:
    """Create the experiment through the admin gateway and wait until its actor decides."""
    created = await ask(
        nc,
        "llmopt.admin.experiment.create",
        {"experiment_id": experiment_id, "arms": list(ARMS), "seed": 3, "config": config},
    )
    if not created.get("ok"):
        raise RuntimeError(f"experiment not created: {created}")
    deadline = time.monotonic() + 90.0
    actor = None
    while time.monotonic() < deadline:
        actor = actor or find_actor(settings, KIND, experiment_id)
        if actor is not None:
            try:
                reply = await ask(nc, f"llmopt.decide.{experiment_id}", {"context": {}}, 1.0)
                if "arm" in reply:
                    return actor
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the actor of {experiment_id} did not serve within 90 s")


async def entity_head(event_log: EventLog, entity_id: str) -> int:
    return await event_log.last_subject_seq(entity_filter(KIND, entity_id))


async def caught_up(actor: Any, seq: int, within_s: float) -> HostStatus:
    deadline = time.monotonic() + within_s
    while True:
        status: HostStatus = await actor.status.remote()
        if status.seq >= seq or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.02)


def error_text(result: dict[str, Any]) -> str:
    parts = []
    if result.get("lost"):
        parts.append(f"{result['lost']:,} lost")
    if result.get("errors"):
        parts.append(f"errors {result['errors']}")
    if result.get("short_replies"):
        parts.append(f"{result['short_replies']} short replies")
    return ", ".join(parts)


class DecisionBench:
    def __init__(
        self,
        args: argparse.Namespace,
        resources: Resources,
        report: Report,
        nc: Client,
        actor: Any,
        pids: dict[str, int],
    ) -> None:
        self.args = args
        self.resources = resources
        self.report = report
        self.nc = nc
        self.actor = actor
        self.pids = pids
        self.seeds = itertools.count(SEED)

    async def settle(self, name: str) -> None:
        """Wait until the actor answers promptly again: an overloaded phase leaves requests
        queued in the actor, which it still works off (and logs) after the generator left;
        the next phase must not queue behind them."""
        t0 = time.perf_counter()
        deadline = t0 + SETTLE_WITHIN_S
        prompt = 0
        while prompt < 3 and time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                await ask(self.nc, f"llmopt.decide.{EXPERIMENT}", {"context": {}}, 5.0)
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.1)
                continue
            prompt = prompt + 1 if time.perf_counter() - began < SETTLED_S else 0
        took = time.perf_counter() - t0
        if prompt < 3:
            self.report.check(f"{name}: the actor settled", False, f"not within {took:.0f} s")
        elif took > 0.5:
            self.report.notes.append(
                f"after {name} the actor needed {took:.1f} s to work off the requests still "
                "queued in it before it answered promptly again"
            )

    def spec(self, mode: str, **extra: Any) -> dict[str, Any]:
        assert self.resources.server is not None
        return {
            "mode": mode,
            "url": self.resources.server.url,
            "subject": f"llmopt.decide.{EXPERIMENT}",
            "pids": self.pids,
            "root": os.getpid(),
            "seed": next(self.seeds),
            "duration": self.args.duration,
            "warmup": self.args.warmup,
            **extra,
        }

    async def run(self, name: str, spec: dict[str, Any], within_s: float) -> dict[str, Any] | None:
        before: HostStatus = await self.actor.status.remote()
        try:
            result = await run_loadgen(self.resources, spec, within_s)
        except (RuntimeError, TimeoutError) as exc:
            self.report.check(f"{name}: the load generator finished", False, str(exc))
            self.report.row(name, "n/a", "", f"the load generator failed: {exc}", "FAIL")
            return None
        await self.settle(name)
        after: HostStatus = await self.actor.status.remote()
        self.report.check(
            f"{name}: every request answered without error",
            result.get("requests", 0) > 0
            and not result.get("lost")
            and not result.get("errors")
            and not result.get("short_replies"),
            error_text(result) or f"{result.get('requests', 0)} requests completed",
        )
        self.report.check(
            f"{name}: the actor did not have to recover",
            after.recoveries == before.recoveries,
            f"recoveries {before.recoveries} -> {after.recoveries} (its loop failed and restarted)",
        )
        cpu = result.get("cpu") or {}
        self.report.notes.append(f"CPU during {name}: {cpu_text(cpu)}")
        if cpu.get("outside this run", 0.0) > OUTSIDE_WARNING:
            self.report.notes.append(
                f"WARNING: other processes on the machine used {cpu['outside this run']:.0f}% "
                f"of a core during {name}: its figures are pessimistic"
            )
        return result

    async def open_loop(self, rate: int) -> None:
        name = f"1. open loop {rate:,}/s"
        progress(f"{name} for {self.args.duration} s")
        spec = self.spec("open", rate=rate)
        result = await self.run(name, spec, self.args.duration * 3 + 60)
        if result is None:
            return
        lat, sent, lag = result["from_scheduled"], result["from_sent"], result["send_lag"]
        target = ""
        if rate == TARGET_LOAD:
            ok = (
                lat["p50"] <= TARGET_P50_MS
                and lat["p99"] <= TARGET_P99_MS
                and not result["lost"]
                and not result["errors"]
            )
            target = f"p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms {verdict(ok)}"
        self.report.row(
            name,
            f"{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])}",
            "ms p50/p99/p99.9",
            f"from scheduled send; max {ms(lat['max'])} ms; from actual send p50 "
            f"{ms(sent['p50'])} p99 {ms(sent['p99'])}; sender lag p50 {ms(lag['p50'])} "
            f"p99 {ms(lag['p99'])}; answered {result['replied_per_s']:,.0f}/s of "
            f"{result['offered']:,.0f}/s offered; n={result['requests']:,}"
            + (f"; {error_text(result)}" if error_text(result) else ""),
            target,
        )
        self.generator_note(name, result, result["offered"])

    async def closed_loop(self, inflight: int) -> dict[str, Any] | None:
        name = f"2. closed loop, {inflight} in flight"
        progress(f"{name} for {self.args.duration} s")
        spec = self.spec("closed", inflight=inflight)
        result = await self.run(name, spec, self.args.duration * 3 + 60)
        if result is None:
            return None
        lat = result["latency"]
        self.report.row(
            name,
            f"{result['per_s']:,.0f}",
            "decisions/s",
            f"p50 {ms(lat['p50'])} ms, p99 {ms(lat['p99'])} ms, p99.9 {ms(lat['p999'])} ms, "
            f"n={result['requests']:,}" + (f"; {error_text(result)}" if error_text(result) else ""),
        )
        self.generator_note(name, result, result["per_s"])
        return result

    def generator_note(self, name: str, result: dict[str, Any], per_s: float) -> None:
        """The generator's own CPU per request: it shares the two cores with what it measures."""
        share = (result.get("cpu") or {}).get("loadgen")
        if share is None or per_s <= 0:
            return
        self.report.notes.append(
            f"load generator (raw-protocol NATS client) during {name}: {share:.0f}% of a core "
            f"= {share / 100 / per_s * 1e6:.0f} us per request"
        )

    async def batch(self) -> None:
        name = f"3. decide_batch of {BATCH}, 1 in flight"
        progress(f"{name}: {self.args.batches:,} batches")
        spec = self.spec(
            "batch",
            subject=f"llmopt.decide_batch.{EXPERIMENT}",
            count=self.args.batches,
            warm=20,
        )
        result = await self.run(name, spec, 600)
        if result is None:
            return
        lat = result["latency"]
        self.report.row(
            name,
            f"{ms(lat['p50'])} / {ms(lat['p99'])}",
            "ms p50/p99",
            f"max {ms(lat['max'])} ms; = {result['decisions_per_s']:,.0f} decisions/s; "
            f"n={result['requests']:,} batches"
            + (f"; {error_text(result)}" if error_text(result) else ""),
            f"p99 <= {TARGET_BATCH_MS:g} ms {verdict(lat['p99'] <= TARGET_BATCH_MS)}",
        )

    async def outcomes(self, event_log: EventLog) -> None:
        inflight = self.args.outcome_inflight
        name = f"4a. llmopt.outcome end to end, {inflight} in flight"
        wanted = self.args.outcome_decisions
        progress(f"{name} for up to {self.args.duration} s ({wanted:,} decisions first)")
        spec = self.spec(
            "outcome",
            subject="llmopt.outcome",
            batch_subject=f"llmopt.decide_batch.{EXPERIMENT}",
            inflight=inflight,
            decisions=wanted,
        )
        result = await self.run(name, spec, self.args.duration * 3 + 300)
        if result is None:
            return
        t0 = time.perf_counter()
        head = await entity_head(event_log, EXPERIMENT)
        status = await caught_up(self.actor, head, 120.0)
        folded_after = time.perf_counter() - t0
        lat = result["latency"]
        self.report.row(
            name,
            f"{result['per_s']:,.0f}",
            "outcomes/s",
            f"p50 {ms(lat['p50'])} ms, p99 {ms(lat['p99'])} ms; n={result['requests']:,}"
            + ("; ran out of decisions" if result["ran_out"] else "")
            + f"; actor at the head {folded_after:.2f} s after the last reply"
            + (f"; {error_text(result)}" if error_text(result) else ""),
            "(request path; the target is 4b)",
        )
        self.report.check(
            f"{name}: the actor folded every outcome",
            status.seq >= head,
            f"actor seq {status.seq}, head {head}",
        )


async def decision_phases(
    args: argparse.Namespace, resources: Resources, report: Report, settings: Settings
) -> None:
    assert resources.server is not None
    url = resources.server.url
    progress("starting Services (directory, admin, outcome gateway) on Ray")
    services = Services(settings, url)
    nc: Client | None = None
    try:
        await services.start()
        nc = await connect(settings, url=url, name="bench-decisions")
        event_log = EventLog(nc.jetstream())
        config = experiment_config(args.pending_capacity or None)
        progress(f"creating {EXPERIMENT} (linucb, {DIM} features, {len(ARMS)} arms)")
        t0 = time.perf_counter()
        actor = await serving_experiment(nc, settings, EXPERIMENT, config)
        resources.actors.append(actor)
        report.notes.append(
            f"experiment created through the admin gateway -> serving in "
            f"{time.perf_counter() - t0:.1f} s (directory spawns the actor, Ray worker start)"
        )
        actor_pid: int = await actor.pid.remote()
        assert resources.server.pid is not None
        pids = {"actor": actor_pid, "nats-server": resources.server.pid, "gateway": os.getpid()}
        progress(f"actor pid {actor_pid}, nats-server pid {resources.server.pid}")
        actor_nice, own_nice = process_nice(actor_pid), process_nice(os.getpid())
        report.notes.append(
            f"the decision actor (pid {actor_pid}) runs at nice {actor_nice} (Ray's "
            f"worker_niceness), nats-server, gateway and generator at nice {own_nice}"
            + (
                ": under CPU contention the actor yields to all of them"
                if actor_nice is not None and own_nice is not None and actor_nice > own_nice
                else ""
            )
        )
        bench = DecisionBench(args, resources, report, nc, actor, pids)

        progress("warm-up: closed loop, 16 in flight, 2 s (not reported)")
        await run_loadgen(
            resources, {**bench.spec("closed", inflight=16), "duration": 2.0, "warmup": 0.5}, 90
        )
        for rate in args.loads:
            await bench.open_loop(rate)
        best: tuple[int, dict[str, Any]] | None = None
        for inflight in args.inflight:
            result = await bench.closed_loop(inflight)
            if result is not None and (best is None or result["per_s"] > best[1]["per_s"]):
                best = (inflight, result)
        if best is not None:
            inflight, result = best
            lat = result["latency"]
            report.row(
                "2. best sustained, closed loop",
                f"{result['per_s']:,.0f}",
                "decisions/s",
                f"at {inflight} in flight: p50 {ms(lat['p50'])} ms, p99 {ms(lat['p99'])} ms",
                f">= {TARGET_DECISIONS_PER_S:,.0f}/s "
                f"{verdict(result['per_s'] >= TARGET_DECISIONS_PER_S)}",
            )
        await bench.batch()
        await bench.outcomes(event_log)

        status: HostStatus = await actor.status.remote()
        summary = status.summary
        report.notes.append(
            f"decision actor at the end: seq {status.seq:,}, {summary.get('events_applied', 0):,} "
            f"events applied, {summary.get('pending_decisions', 0):,} decisions pending, "
            f"{summary.get('expired_decisions', 0):,} expired, checkpoints taken "
            f"{status.checkpoints_taken}, recoveries {status.recoveries}"
        )
    finally:
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        progress("stopping Services")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(services.stop(), 30.0)


# -- 4b: one actor folding decisions and outcomes appended beforehand ---------------------------


def fold_traffic(experiment_id: str, decisions: int, seed: int) -> list[Event]:
    """Decisions as the decision service logs them (context, its vector, decision id of the same
    shape) and, ``OUTCOME_LAG`` decisions later, each one's outcome."""
    rng = random.Random(seed)
    encoder = ContextEncoder(check_schema())
    base = 1.75e9
    events: list[Event] = [
        ExperimentCreated(
            event_id=f"create:{experiment_id}:bench",
            entity_id=experiment_id,
            at=base,
            arms=ARMS,
            seed=3,
            config=experiment_config(None),
        )
    ]
    ids: list[str] = []

    def outcome(k: int) -> OutcomeObserved:
        return OutcomeObserved(
            event_id=f"outcome:{ids[k]}",
            entity_id=experiment_id,
            at=base + k * 0.01 + 5.0,
            decision_id=ids[k],
            reward=round(rng.random(), 3),
            cost_usd=round(rng.uniform(0.0001, 0.02), 6),
            latency_ms=round(rng.uniform(200.0, 4000.0), 1),
        )

    for i in range(decisions):
        decision_id = f"{experiment_id}:{rng.getrandbits(128):032x}"
        ids.append(decision_id)
        at = base + i * 0.01
        context = random_context(rng, at)
        x, missing = encoder.encode(context)
        events.append(
            DecisionMade(
                event_id=decision_id,
                entity_id=experiment_id,
                at=at,
                decision_id=decision_id,
                arm=rng.choice(ARMS),
                propensity=1.0,
                context=context,
                x=x.astype("<f8").tobytes(),
                missing_features=tuple(missing),
            )
        )
        if i >= OUTCOME_LAG:
            events.append(outcome(i - OUTCOME_LAG))
    for k in range(max(0, decisions - OUTCOME_LAG), decisions):
        events.append(outcome(k))
    return events


@dataclass
class FoldResult:
    seconds: float
    events: int
    status: HostStatus | None
    head: int
    append_per_s: float


async def fold_once(
    resources: Resources,
    nc: Client,
    settings: Settings,
    experiment_id: str,
    events: list[Event],
    within_s: float,
) -> FoldResult:
    assert resources.server is not None
    js = nc.jetstream()
    event_log = EventLog(js)
    progress(f"4b. appending {len(events):,} events of {experiment_id} with append_many")
    t0 = time.perf_counter()
    await event_log.append(events[0], expected_last_seq=0)
    for start in range(1, len(events), 10_000):
        await event_log.append_many(events[start : start + 10_000])
    append_per_s = len(events) / (time.perf_counter() - t0)
    head = await entity_head(event_log, experiment_id)
    progress(
        f"4b. spawning the actor of {experiment_id} (checkpoint every "
        f"{settings.checkpoint_every_events:,} events / {settings.checkpoint_every_seconds:g} s)"
    )
    actor = spawn_actor(settings, KIND, experiment_id, resources.server.url)
    resources.actors.append(actor)
    durable = consumer_name(KIND, experiment_id)
    deadline = time.monotonic() + 120.0
    while True:  # the actor creates its consumer when its recovery starts
        try:
            info = await js.consumer_info(LOG_STREAM, durable)
            break
        except nats.js.errors.NotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the actor of {experiment_id} never created its consumer"
                ) from None
            await asyncio.sleep(0.005)
    started = time.perf_counter()
    to_fold = int(info.num_pending or 0)
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        info = await js.consumer_info(LOG_STREAM, durable)
        if not info.num_pending:
            break
        await asyncio.sleep(0.01)
    status = await caught_up(actor, head, max(1.0, end - time.monotonic()))
    seconds = time.perf_counter() - started
    resources.kill_actor(actor)
    return FoldResult(seconds, to_fold, status, head, append_per_s)


async def fold_phases(
    args: argparse.Namespace, resources: Resources, report: Report, settings: Settings
) -> list[Event]:
    assert resources.server is not None
    nc = await connect(settings, url=resources.server.url, name="bench-fold")
    events: list[Event] = []
    try:
        variants = [
            ("serve defaults", "bench-fold-defaults", settings),
            (
                "checkpoints off",
                "bench-fold-nockpt",
                msgspec.structs.replace(
                    settings, checkpoint_every_events=NEVER, checkpoint_every_seconds=float(NEVER)
                ),
            ),
        ]
        for label, experiment_id, variant in variants:
            events = fold_traffic(experiment_id, args.fold_decisions, SEED)
            outcomes = sum(isinstance(e, OutcomeObserved) for e in events)
            result = await fold_once(
                resources, nc, variant, experiment_id, events, args.fold_timeout
            )
            status = result.status
            ok = status is not None and status.seq >= result.head
            joined = 0
            if status is not None:
                joined = sum(a["outcomes"] for a in status.summary.get("arms", {}).values())
            report.check(
                f"4b ({label}): the actor reached the head",
                ok,
                f"seq {status.seq if status else None}, head {result.head}, recoveries "
                f"{status.recoveries if status else None} (a recovery > 1 means its loop failed)",
            )
            report.check(
                f"4b ({label}): every outcome joined its decision, no recovery",
                joined == outcomes and status is not None and status.recoveries == 1,
                f"{joined:,} of {outcomes:,} joined, recoveries "
                f"{status.recoveries if status else None}",
            )
            per_event = result.events / result.seconds
            outcome_rate = outcomes * result.events / (len(events) * result.seconds)
            detail = (
                f"{result.events:,} events ({args.fold_decisions:,} decisions + their outcomes) "
                f"in {result.seconds:.2f} s = {per_event:,.0f} events/s; checkpoints taken "
                f"{status.checkpoints_taken if status else '?'}"
            )
            if not ok:
                detail += f"; DID NOT FINISH within {args.fold_timeout:.0f} s"
            passed = ok and outcome_rate >= TARGET_OUTCOMES_PER_S
            target = (
                f">= {TARGET_OUTCOMES_PER_S:,.0f}/s {verdict(passed)}"
                if label == "serve defaults"
                else "(diagnostic)"
            )
            report.row(
                f"4b. actor fold, {label}",
                f"{outcome_rate:,.0f}",
                "outcomes/s",
                detail,
                target,
            )
            report.notes.append(
                f"4b ({label}): events appended at {result.append_per_s:,.0f}/s before the actor "
                f"started (not timed); outcomes/s counts the outcomes over the whole fold, which "
                f"also folds their decisions (each carrying the vector it was decided on)"
            )
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    return events


# -- 5: in-process costs ------------------------------------------------------------------------


def server_log_lines(server: EmbeddedNatsServer, needle: str) -> list[str]:
    try:
        text = server.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if needle in line.lower()]


def timed(fn: Callable[[], Any], repeat: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def in_process(events: list[Event], report: Report) -> None:
    """Decode + fold per event type, a decision's parts, and one checkpoint's cost, on the
    fold's own events (what the actor does, without NATS and without the event loop)."""
    ledger = ExperimentLedger.initial(events[0].entity_id)
    blobs = [(type(e), encode(e)) for e in events]
    spent: dict[type, float] = collections.defaultdict(float)
    counts: collections.Counter[type] = collections.Counter()
    for kind, blob in blobs:
        t0 = time.perf_counter()
        ledger.apply(decode(blob))
        spent[kind] += time.perf_counter() - t0
        counts[kind] += 1
    for kind in (DecisionMade, OutcomeObserved):
        report.row(
            f"5. decode + fold {kind.__name__}",
            f"{spent[kind] / counts[kind] * 1e6:.1f}",
            "us/event",
            f"ExperimentLedger.apply, n={counts[kind]:,}",
        )
    rng = random.Random(SEED)
    now = time.time()
    requests = [DecideRequest(context=random_context(rng, now)) for _ in range(2_000)]
    bodies = [msgspec.json.encode({"context": r.context}) for r in requests]
    cycle = itertools.cycle(range(len(requests)))
    n = 4_000

    def one_decision() -> None:
        i = next(cycle)
        request = msgspec.json.decode(bodies[i], type=DecideRequest)
        decision_id = f"{ledger.entity_id}:{uuid.uuid4().hex}"
        decision, event = decide(ledger, request, decision_id=decision_id, now=now)
        encode(event)
        msgspec.json.encode(decision)

    total = timed(one_decision, n)
    policy = ledger.policy
    assert policy is not None
    vectors = [v for r in requests if (v := ledger.context_vector(r.context)[0]) is not None]
    encode_s = timed(lambda: ledger.context_vector(requests[next(cycle)].context), n)
    rng_s = timed(lambda: decision_rng(3, f"x:{uuid.uuid4().hex}"), n)
    generator = decision_rng(3, "x")
    choose_s = timed(lambda: policy.choose(ARMS, vectors[next(cycle)], generator), n)
    report.row(
        "5. a decision in-process (decode..encode)",
        f"{total * 1e6:.1f}",
        "us",
        f"= {1 / total:,.0f}/s on one core before any NATS I/O; of which context encode "
        f"{encode_s * 1e6:.1f} us, decision_rng {rng_s * 1e6:.1f} us (made only for a policy "
        f"that draws; LinUCB never does), "
        f"LinUCB choose {choose_s * 1e6:.1f} us",
    )
    batch = [vectors[i] for i in range(BATCH)]
    matrix = np.stack(batch)
    batched = timed(lambda: policy.choose_batch(ARMS, matrix, [generator] * BATCH), 200)
    report.row(
        f"5. LinUCB choose_batch of {BATCH}",
        f"{batched * 1e6:.0f}",
        "us",
        f"vs {BATCH} x choose = {BATCH * choose_s * 1e6:.0f} us (a decide_batch, and decide "
        f"requests that arrive together, share one choose_batch)",
    )
    t0 = time.perf_counter()
    state = ledger.to_bytes()
    to_bytes_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hashlib.sha256(state).hexdigest()
    digest_s = time.perf_counter() - t0
    report.row(
        "5. checkpoint state, end of the fold",
        f"{len(state) / 1e6:.1f}",
        "MB",
        f"to_bytes {to_bytes_s * 1e3:.1f} ms on the actor's event loop per checkpoint, then "
        f"sha256 {digest_s * 1e3:.1f} ms in a thread; {len(ledger.pending):,} pending, "
        f"{len(ledger.resolved):,} resolved",
    )
    full = ExperimentLedger.initial(events[0].entity_id)
    full.apply(events[0])
    for event in fold_traffic(events[0].entity_id, 100_000, SEED + 1):
        if isinstance(event, DecisionMade):
            full.apply(event)
    size = len(full.to_bytes())
    limit = Settings().nats_max_payload
    report.row(
        "5. checkpoint, default pending_capacity full",
        f"{size / 2**20:.1f}",
        "MiB",
        f"{len(full.pending):,} contextual decisions awaiting outcomes "
        f"(~{size / len(full.pending):.0f} B each); above {INLINE_MAX / 2**20:.0f} MiB a state "
        f"is stored in the checkpoint object store in chunks (max_payload is "
        f"{limit / 2**20:.0f} MiB)",
    )


# -- the run ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, resources: Resources, report: Report) -> None:
    assert resources.server is not None
    assert resources.tmp is not None
    state_dir = Path(resources.tmp.name) / "state"
    state_dir.mkdir()
    settings = Settings(state_dir=state_dir, nats_url=resources.server.url, ray_namespace=NAMESPACE)
    if args.checkpoint_every_events:
        settings = msgspec.structs.replace(
            settings, checkpoint_every_events=args.checkpoint_every_events
        )
    progress("starting Ray (num_cpus=2)")
    t0 = time.perf_counter()
    ray.init(
        num_cpus=2, namespace=NAMESPACE, include_dashboard=False, log_to_driver=args.actor_logs
    )
    resources.ray_started = True
    report.notes.append(f"ray.init took {time.perf_counter() - t0:.1f} s (not in any figure)")
    await decision_phases(args, resources, report, settings)
    for actor in list(resources.actors):
        resources.kill_actor(actor)  # the decision actor: the fold gets the CPUs to itself
    events = await fold_phases(args, resources, report, settings)
    slow = server_log_lines(resources.server, "slow consumer")
    report.check(
        "nats-server dropped no messages (no slow consumer)",
        not slow,
        f"{len(slow)} slow-consumer lines in its log, e.g. {slow[0] if slow else ''}",
    )
    progress("5. in-process costs")
    in_process(events, report)


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def positive_ints(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed seconds per load")
    parser.add_argument("--loads", type=positive_ints, default=[1_000, TARGET_LOAD])
    parser.add_argument("--inflight", type=positive_ints, default=[1, 64, 128, 256])
    parser.add_argument("--batches", type=int, default=500, help="decide_batch requests")
    parser.add_argument("--outcome-inflight", type=int, default=64)
    parser.add_argument(
        "--outcome-decisions", type=int, default=30_000, help="decisions the outcomes are for"
    )
    parser.add_argument("--fold-decisions", type=int, default=100_000)
    parser.add_argument("--fold-timeout", type=float, default=180.0)
    parser.add_argument(
        "--pending-capacity",
        type=int,
        default=DECIDE_PENDING_CAPACITY,
        help="the decision experiment's pending_capacity (0: the config's default, 100,000)",
    )
    parser.add_argument("--sync-interval", default="1s", help="nats-server jetstream sync_interval")
    parser.add_argument(
        "--checkpoint-every-events",
        type=int,
        default=0,
        help="the decision actor's checkpoint interval in events (0: serve's default); phases "
        "1-3 only, to see what checkpoints cost the latency tail",
    )
    parser.add_argument(
        "--worker-niceness",
        type=int,
        default=None,
        help="RAY_worker_niceness for the actors (default 0, as `llmopt serve` runs a local Ray)",
    )
    parser.add_argument("--actor-logs", action="store_true", help="show the actors' log lines")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s per load")
    parser.add_argument("--base-dir", type=Path, default=None, help="where the temp dir goes")
    parser.add_argument("--loadgen", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen:
        return loadgen_main(args.loadgen)
    if args.quick:
        args.duration = min(args.duration, 3.0)
        args.warmup = min(args.warmup, 0.5)
        args.batches = min(args.batches, 100)
        args.outcome_decisions = min(args.outcome_decisions, 10_000)
        args.fold_decisions = min(args.fold_decisions, 20_000)
    if args.duration <= 0 or args.fold_decisions < 1 or args.batches < 1:
        parser.error("--duration, --fold-decisions and --batches must be positive")

    schema = check_schema()
    os.environ[NICENESS_ENV] = str(0 if args.worker_niceness is None else args.worker_niceness)
    capacity = f"{args.pending_capacity:,}" if args.pending_capacity else "default (100,000)"
    defaults = Settings()
    kinds = ", ".join(str(f["kind"]) for f in FEATURES)
    niceness = os.environ[NICENESS_ENV]
    version = nats_server_version(find_nats_server())
    nats_py = f"nats-py {importlib.metadata.version('nats-py')}"
    print(machine_line([version, nats_py, f"ray {ray.__version__}"], f" ({cpu_model()})"))
    print(
        f"setup: embedded nats-server (file storage, sync_interval {args.sync_interval}), local "
        f"Ray (num_cpus=2, worker niceness {niceness}), Services as `llmopt serve` runs them "
        f"(checkpoint every {args.checkpoint_every_events or defaults.checkpoint_every_events:,}"
        " events / "
        f"{defaults.checkpoint_every_seconds:g} s); linucb, {schema.dim} features ({kinds}), "
        f"{len(ARMS)} arms, pending_capacity {capacity}; JSON over request-reply from a "
        "separate load-generator process (a raw-protocol NATS client); "
        f"{args.duration:g} s per load after {args.warmup:g} s of warm-up"
    )
    busy0, total0 = machine_ticks()
    time.sleep(1.0)
    busy1, total1 = machine_ticks()
    idle_busy = 100.0 * (busy1 - busy0) / max(1, total1 - total0)
    print(
        f"before the run: the machine was {idle_busy:.0f}% busy over 1 s"
        + (" -- it is shared; figures will be pessimistic" if idle_busy > 10 else "")
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
            "WARNING: project files changed during the run, so actors started at different "
            f"times may have run different code: {', '.join(changed)}"
        )

    print_report(report, total, COLUMNS)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
