"""What does ``jetstream.sync_interval: always`` cost, against ``1s`` (our default) and ``2m``?

JetStream acknowledges a publish once the message is written to the OS, and fsyncs only
every ``sync_interval`` (nats-server default: two minutes), so an OS crash or power loss
can lose acknowledged messages (Jepsen, December 2025). ``always`` fsyncs before each ack.
This script measures the price of each setting on this machine with the embedded server:

* sequential publish-with-ack latency (one message in flight: the cost a single caller sees),
* pipelined throughput with ``publish_async`` and a bounded window of in-flight publishes
  (what the ingest path can sustain).

fsync cost depends entirely on the storage under ``--base-dir``: on tmpfs it is free, on a
laptop NVMe it is tens of microseconds, on network block storage milliseconds. The table
header prints the file system type so that numbers from different machines are comparable.

Usage: ``.venv/bin/python scripts/bench_sync_interval.py [--sequential 2000] [--pipelined
20000] [--window 256] [--size 200] [--base-dir DIR] [--settings always 1s 2m]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer, find_nats_server
from llmopt.settings import Settings

STREAM = "BENCH"
SUBJECT = "bench.events"
WARMUP = 200


@dataclass(frozen=True)
class Result:
    sync_interval: str
    p50_ms: float
    p99_ms: float
    sequential_per_s: float
    pipelined_per_s: float
    pipelined_mb_s: float


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _measure(
    server: EmbeddedNatsServer, sequential: int, pipelined: int, window: int, size: int
) -> tuple[list[float], float, float]:
    """Return (sequential latencies in s, sequential elapsed s, pipelined elapsed s)."""
    nc = await connect(Settings(), url=server.url, name="bench-sync-interval")
    try:
        js = nc.jetstream(publish_async_max_pending=window)
        await js.add_stream(name=STREAM, subjects=[SUBJECT], storage="file")
        payload = os.urandom(size)

        for _ in range(WARMUP):
            await js.publish(SUBJECT, payload)

        latencies: list[float] = []
        started = time.perf_counter()
        for _ in range(sequential):
            t0 = time.perf_counter()
            await js.publish(SUBJECT, payload)
            latencies.append(time.perf_counter() - t0)
        sequential_elapsed = time.perf_counter() - started

        # publish_async blocks once `window` acks are outstanding, so this keeps exactly
        # that many publishes in flight, like an ingest loop with bounded memory would.
        started = time.perf_counter()
        futures = [await js.publish_async(SUBJECT, payload) for _ in range(pipelined)]
        await js.publish_async_completed()
        pipelined_elapsed = time.perf_counter() - started
        acks = await asyncio.gather(*futures)
        expected = WARMUP + sequential + pipelined
        if acks[-1].seq != expected or (await js.stream_info(STREAM)).state.messages != expected:
            raise RuntimeError(f"stream does not hold the {expected} published messages")
        return latencies, sequential_elapsed, pipelined_elapsed
    finally:
        await nc.close()


def run_one(args: argparse.Namespace, sync_interval: str) -> Result:
    """Benchmark one setting on a fresh server and an empty data directory."""
    with (
        tempfile.TemporaryDirectory(prefix="llmopt-bench-", dir=args.base_dir) as tmp,
        EmbeddedNatsServer(Path(tmp), sync_interval=sync_interval) as server,
    ):
        latencies, seq_s, pipe_s = asyncio.run(
            _measure(server, args.sequential, args.pipelined, args.window, args.size)
        )
    latencies.sort()
    return Result(
        sync_interval=sync_interval,
        p50_ms=statistics.median(latencies) * 1e3,
        p99_ms=_percentile(latencies, 0.99) * 1e3,
        sequential_per_s=args.sequential / seq_s,
        pipelined_per_s=args.pipelined / pipe_s,
        pipelined_mb_s=args.pipelined * args.size / pipe_s / 1e6,
    )


def _mem_total_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def _fs_type(path: Path) -> str:
    """File system type of ``path``: the mount with the longest matching mount point."""
    path = path.resolve()
    best, fstype = "", "unknown"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            mount_point = fields[1]
            inside = path == Path(mount_point) or Path(mount_point) in path.parents
            if inside and len(mount_point) > len(best):
                best, fstype = mount_point, f"{fields[2]} ({fields[0]} on {mount_point})"
    return fstype


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=2000, help="publishes, one in flight")
    parser.add_argument("--pipelined", type=int, default=20000, help="publish_async messages")
    parser.add_argument("--window", type=int, default=256, help="max in-flight async publishes")
    parser.add_argument("--size", type=int, default=200, help="payload bytes")
    parser.add_argument("--base-dir", type=Path, default=None, help="where the data dirs go")
    parser.add_argument("--settings", nargs="+", default=["1s", "2m", "always"])
    args = parser.parse_args(argv)

    base = args.base_dir or Path(tempfile.gettempdir())
    version = subprocess.run(
        [str(find_nats_server()), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        f"machine: {os.cpu_count()} CPUs, {_mem_total_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, {version}"
    )
    print(f"storage: {base} on {_fs_type(base)}")
    print(
        f"workload: {args.sequential} sequential + {args.pipelined} pipelined publishes "
        f"(window {args.window}) of {args.size} B to a file-storage stream, R1"
    )
    results = [run_one(args, setting) for setting in args.settings]
    baseline = next((r for r in results if r.sync_interval == "1s"), results[0])

    header = (
        f"{'sync_interval':>13} | {'seq p50 ms':>10} | {'seq p99 ms':>10} | {'seq msg/s':>9} | "
        f"{'pipe msg/s':>10} | {'pipe MB/s':>9} | {'pipe vs ' + baseline.sync_interval:>10}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.sync_interval:>13} | {r.p50_ms:>10.3f} | {r.p99_ms:>10.3f} | "
            f"{r.sequential_per_s:>9.0f} | {r.pipelined_per_s:>10.0f} | "
            f"{r.pipelined_mb_s:>9.2f} | {r.pipelined_per_s / baseline.pipelined_per_s:>9.2f}x"
        )


if __name__ == "__main__":
    main()
