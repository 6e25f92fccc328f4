"""The floor under the decision benchmark: what a Python responder that does *nothing but the
plumbing* achieves at the same offered loads, on the same machine, against the same
nats-server and load generator.

Why: ``bench_decisions.py`` misses p50 <= 1 ms / p99 <= 3 ms at 5,000 requests/s on this
2-core VM. Whether that is the actor's fault (and more work on it would get there) or the
machine's (no Python responder would) is a measurement, not an opinion. This script answers
the same open-loop load (``bench_decisions.py``'s generator, a separate process, latency from
each request's scheduled send) with four responders that skip the decision itself, each in
its own process, no Ray:

* ``raw echo``: a raw-protocol client (``bench_nats_client.py``) replying a fixed, decision-
  sized body. The least a Python request-reply responder can do on this machine.
* ``raw logged``: the same, but the requests of one read are first appended to the log stream
  as one JetStream message (``HPUB`` with ``Nats-Msg-Id``) and answered on its ack. The least
  a responder can do that, like the actor, only replies once the decision is in the log.
* ``nats-py echo``: nats-py with the actor's own plumbing (:func:`events.raw_delivery.
  subscribe_raw`, :class:`events.raw_delivery.RawMsg`), fixed reply.
* ``nats-py logged``: the actor's decision path without the decision: requests queued per
  read, one pass per batch (a callback), the pass's decisions packed
  (:func:`events.decision_batch.pack`) and appended with
  :meth:`events.pipelined_append.PipelinedAppender.submit`, replies on the ack.
  What it lacks against the real actor: decoding the request, the policy, encoding the reply,
  the actor's fold of its own log and Ray's worker process.

First, the machine's own price of a message between two processes: two plain Python
processes bouncing 200 bytes over loopback TCP (blocking sockets, one in flight), no NATS. On a
VM a wake-up of a sleeping process is dear; every hop of a decision pays it (client to server,
server to actor, the log's publish and ack, the reply and its delivery).

Usage: ``.venv/bin/python scripts/bench_floor.py [--loads 1000,5000] [--duration 10] [--quick]``
(``--quick``: 3 s per load, under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import nats
import nats.errors
from bench_common import (  # importable: `python scripts/x.py` puts scripts/ on sys.path
    Report,
    Resources,
    machine_line,
    nats_server_version,
    print_report,
    progress,
    verdict,
)
from bench_decisions import (
    CLOCK_TICKS,
    SEED,
    TARGET_LOAD,
    TARGET_P50_MS,
    TARGET_P99_MS,
    cpu_model,
    cpu_text,
    error_text,
    latency_summary,
    ms,
    positive_ints,
    process_ticks,
    run_loadgen,
)
from bench_nats_client import CRLF, NatsClient
from bench_nats_client import connect as connect_raw

from events.decision_batch import pack
from events.log import LOG_STREAM, MSG_ID, EventLog
from events.pipelined_append import PendingAppend, PipelinedAppender
from events.raw_delivery import RawMsg, subscribe_raw
from events.raw_publish import header_block
from events.schema import DecisionMade, subject_of
from gateway.nats_server import EmbeddedNatsServer, find_nats_server

SUBJECT = "llmopt.decide.bench-floor"
MODES = ("raw echo", "raw logged", "nats-py echo", "nats-py logged")
COLUMNS = ("figure", "value", "unit", "target", "detail")
LOG_WAIT_S = 1.0
READY_WITHIN_S = 30.0
REPLY = msgspec.json.encode(
    {
        "decision_id": "bench-floor:00000000000000000000000000000000",
        "experiment": "bench-floor",
        "arm": "gpt-4o-mini",
        "propensity": 1.0,
        "fallback": False,
        "model": "gpt-4o-mini",
        "parameters": {},
        "missing_features": [],
    }
)
"""A reply the size of the actor's (~200 bytes)."""


def decision(n: int) -> DecisionMade:
    """A decision as large as the benchmark actor's: a 16-float feature vector and a context."""
    return DecisionMade(
        event_id=f"bench-floor:{os.getpid()}:{n}",
        entity_id="bench-floor",
        at=time.time(),
        decision_id=f"bench-floor:{os.getpid()}:{n}",
        arm="gpt-4o-mini",
        propensity=1.0,
        context={
            "temperature": 0.7,
            "budget": 0.42,
            "input_tokens": 1234,
            "tier": "pro",
            "service": "search",
            "ts": 1_764_000_000.0,
        },
        x=bytes(16 * 8),
    )


# -- the responders (child processes: python bench_floor.py --responder MODE URL) ----------------


class RawResponder(NatsClient):
    """The raw-protocol client with the reply subject passed to handlers, and ``HPUB``."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(url, loop)
        self.on_request: Callable[[bytes, bytes], None] = lambda _reply, _data: None

    def on_msg(
        self, sid: int, subject: bytes, reply: bytes, headers: bytes | None, payload: bytes
    ) -> None:
        if sid == 1:
            self.on_request(reply, payload)
        else:
            super().on_msg(sid, subject, reply, headers, payload)

    def hpublish(self, subject: bytes, reply: bytes, headers: bytes, payload: bytes) -> None:
        out = self._out
        out.append(
            b"HPUB %b %b %d %d\r\n" % (subject, reply, len(headers), len(headers) + len(payload))
        )
        out.append(headers)
        out.append(payload)
        out.append(CRLF)
        if not self._write_scheduled:
            self._write_scheduled = True
            self._loop.call_soon(self._write_out)


async def raw_responder(url: str, logged: bool) -> None:
    loop = asyncio.get_running_loop()
    nc = await connect_raw(url, name="bench-floor-raw", client_class=RawResponder)
    assert isinstance(nc, RawResponder)
    waiting: list[bytes] = []
    in_flight: dict[bytes, list[bytes]] = {}
    batches = itertools.count()
    ack_prefix = b"_FLOOR_ACK.%d." % os.getpid()

    def reply_all(replies: list[bytes]) -> None:
        for reply in replies:
            nc.publish(reply, REPLY)

    def log_pass() -> None:
        replies = waiting[:]
        waiting.clear()
        n = next(batches)
        events = [decision(n * 1000 + i) for i in range(len(replies))]
        message = pack(events, at=time.time(), max_bytes=nc.max_payload)[0]
        token = b"%d" % n
        in_flight[token] = replies
        block = header_block({MSG_ID: message.event.event_id})
        assert block is not None
        nc.hpublish(subject_of(message.event).encode(), ack_prefix + token, block, message.data)

    def on_request(reply: bytes, _data: bytes) -> None:
        if not logged:
            nc.publish(reply, REPLY)
            return
        waiting.append(reply)
        if len(waiting) == 1:
            loop.call_soon(log_pass)

    def on_ack(subject: bytes, data: bytes, _headers: bytes | None) -> None:
        replies = in_flight.pop(subject[len(ack_prefix) :], None)
        if replies is None or b'"error"' in data:
            raise RuntimeError(f"the log refused an append: {data!r}")
        reply_all(replies)

    nc.on_request = on_request
    assert nc.subscribe(SUBJECT.encode(), lambda *_: None) == 1
    nc.subscribe(ack_prefix + b"*", on_ack)
    await nc.flush()
    await asyncio.Event().wait()


async def natspy_responder(url: str, logged: bool) -> None:
    loop = asyncio.get_running_loop()
    nc = await nats.connect(url, name="bench-floor-nats-py")
    appender = PipelinedAppender(nc, LOG_STREAM)
    await appender.start()
    waiting: list[RawMsg] = []
    numbers = itertools.count()
    failed: asyncio.Future[None] = loop.create_future()

    def reply_logged(requests: list[RawMsg], pending: PendingAppend) -> None:
        error = pending.first_error()
        if error is not None and not failed.done():
            failed.set_exception(RuntimeError(f"the log refused an append: {error}"))
        for msg in requests:
            respond(msg)

    def log_pass() -> None:
        requests = waiting[:]
        waiting.clear()
        events = [decision(next(numbers)) for _ in requests]
        packed = pack(events, at=time.time(), max_bytes=nc.max_payload - 4096)
        pending = appender.submit([(p.event, p.data) for p in packed], within_s=LOG_WAIT_S)
        pending.done.add_done_callback(lambda _: reply_logged(requests, pending))

    def respond(msg: RawMsg) -> None:
        if not msg.respond_now(REPLY) and not failed.done():
            failed.set_exception(RuntimeError("nats-py could not take a reply at once"))

    def on_request(_subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        msg = RawMsg(nc, reply, data, headers)
        if not logged:
            respond(msg)
            return
        waiting.append(msg)
        if len(waiting) == 1:
            loop.call_soon(log_pass)

    await subscribe_raw(nc, SUBJECT, on_request)
    await nc.flush()
    await failed  # ends the responder with the reason: the driver sees it exit


def responder_main(mode: str, url: str) -> int:
    kind, _, what = mode.partition(" ")
    serve = raw_responder if kind == "raw" else natspy_responder
    asyncio.run(serve(url, what == "logged"))
    return 0


# -- the machine's floor: a loopback ping-pong between two processes ----------------------------

PING = b"x" * 200
PINGS = 20_000


def echo_main(port: int) -> int:
    """The ping-pong's other process: send back what arrives until the connection closes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(4096):
            sock.sendall(data)
    return 0


def ping_pong(report: Report) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--echo", str(port)],
            stdin=subprocess.DEVNULL,
        )
        try:
            sock, _ = server.accept()
            with sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(1_000):  # warm-up
                    sock.sendall(PING)
                    sock.recv(4096)
                times = [0.0] * PINGS
                cpu0, child0 = time.process_time(), process_ticks(child.pid) or 0
                for i in range(PINGS):
                    t0 = time.perf_counter()
                    sock.sendall(PING)
                    got = len(sock.recv(4096))
                    while got < len(PING):
                        got += len(sock.recv(4096))
                    times[i] = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                child_cpu = ((process_ticks(child.pid) or 0) - child0) / CLOCK_TICKS
        finally:
            child.wait(10)
    lat = latency_summary(times)
    report.row(
        "0. loopback ping-pong, 2 processes",
        f"{ms(lat['p50'])} / {ms(lat['p99'])}",
        "ms p50/p99",
        f"200 B over TCP, one in flight, no NATS; CPU per round trip: {cpu / PINGS * 1e6:.0f} us "
        f"here, {child_cpu / PINGS * 1e6:.0f} us in the echoing process; n={PINGS:,}",
    )


# -- the driver ---------------------------------------------------------------------------------


async def wait_until_answered(url: str) -> None:
    """A responder is ready once it answers (it subscribes after connecting)."""
    nc = await nats.connect(url)
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            try:
                await nc.request(SUBJECT, b"{}", timeout=1.0)
                return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"no responder on {SUBJECT} within {READY_WITHIN_S:g} s"
                    ) from None
                await asyncio.sleep(0.05)
    finally:
        await nc.close()


def start_responder(resources: Resources, mode: str, url: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--responder", mode, url],
        stdin=subprocess.DEVNULL,
    )
    resources.children.append(child)
    return child


async def one_mode(
    mode: str, args: argparse.Namespace, resources: Resources, report: Report, seeds: Any
) -> None:
    assert resources.server is not None
    assert resources.server.pid is not None
    url = resources.server.url
    child = start_responder(resources, mode, url)
    try:
        await wait_until_answered(url)
        for rate in args.loads:
            name = f"{mode}, {rate:,}/s"
            progress(f"{name} for {args.duration:g} s")
            spec = {
                "mode": "open",
                "url": url,
                "subject": SUBJECT,
                "pids": {"responder": child.pid, "nats-server": resources.server.pid},
                "root": os.getpid(),
                "seed": next(seeds),
                "duration": args.duration,
                "warmup": args.warmup,
                "rate": rate,
            }
            try:
                result = await run_loadgen(resources, spec, args.duration * 3 + 60)
            except (RuntimeError, TimeoutError) as exc:
                report.check(f"{name}: the load generator finished", False, str(exc))
                continue
            if child.poll() is not None:
                report.check(f"{name}: the responder kept running", False, f"{child.returncode}")
                return
            lat = result["from_scheduled"]
            clean = not result["lost"] and not result["errors"]
            report.check(f"{name}: every request answered", clean, error_text(result))
            target = ""
            if rate == TARGET_LOAD:
                ok = lat["p50"] <= TARGET_P50_MS and lat["p99"] <= TARGET_P99_MS and clean
                target = f"p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms {verdict(ok)}"
            report.row(
                name,
                f"{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])}",
                "ms p50/p99/p99.9",
                f"max {ms(lat['max'])} ms; answered {result['replied_per_s']:,.0f}/s of "
                f"{result['offered']:,.0f}/s; n={result['requests']:,}",
                target,
            )
            report.notes.append(f"CPU during {name}: {cpu_text(result.get('cpu') or {})}")
    finally:
        resources.stop_child(child)


async def bench(args: argparse.Namespace, resources: Resources, report: Report) -> None:
    assert resources.server is not None
    nc = await nats.connect(resources.server.url)
    try:
        await EventLog(nc.jetstream()).ensure()
    finally:
        await nc.close()
    progress("0. loopback ping-pong between two processes")
    ping_pong(report)
    seeds = itertools.count(SEED)
    for mode in args.modes:
        await one_mode(mode, args, resources, report, seeds)


def modes(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"modes are {', '.join(MODES)}; got {unknown or text!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed seconds per load")
    parser.add_argument("--loads", type=positive_ints, default=[1_000, TARGET_LOAD])
    parser.add_argument("--modes", type=modes, default=list(MODES), help=", ".join(MODES))
    parser.add_argument("--sync-interval", default="1s", help="nats-server jetstream sync_interval")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s per load")
    parser.add_argument("--responder", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo:
        return echo_main(args.echo)
    if args.responder:
        return responder_main(*args.responder)
    if args.quick:
        args.duration = min(args.duration, 3.0)
        args.warmup = min(args.warmup, 0.5)
    if args.duration <= 0:
        parser.error("--duration must be positive")
    print(machine_line([nats_server_version(find_nats_server())], f" ({cpu_model()})"))
    print(
        f"setup: embedded nats-server (file storage, sync_interval {args.sync_interval}); each "
        "responder a plain Python process (no Ray); the open-loop generator of "
        f"bench_decisions.py; {args.duration:g} s per load after {args.warmup:g} s of warm-up"
    )
    report = Report()
    resources = Resources()
    started = time.perf_counter()
    try:
        resources.tmp = tempfile.TemporaryDirectory(prefix="llmopt-floor-")
        resources.server = EmbeddedNatsServer(
            Path(resources.tmp.name) / "nats", sync_interval=args.sync_interval
        )
        resources.server.start()
        asyncio.run(bench(args, resources, report))
    finally:
        resources.release()
    print_report(report, time.perf_counter() - started, COLUMNS)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
