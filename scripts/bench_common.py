"""Helpers shared by the benchmark scripts (``bench_runtime.py``, ``bench_decisions.py``).

Both scripts report the same way -- a table of figures, PASS/FAIL against targets, correctness
checks that set the exit status, the machine they ran on, a warning when the project's code
changed under a run -- and clean up the same kinds of resources. Keeping that here means the two
reports read alike and a fix to the cleanup or the table reaches both.

What differs between the scripts stays in them: their percentile definitions (nearest rank vs.
rounded index, which their targets were set against), the extra machine facts each prints and
the wording of their notes. This module imports nothing from the project at run time, so it
can be imported before or after the scripts put the project root on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray

if TYPE_CHECKING:
    from gateway.nats_server import EmbeddedNatsServer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ROWS_FILE_ENV = "LLMOPT_BENCH_ROWS"
"""When set, :func:`print_report` also writes the report as JSON to this path (for bench.py)."""
SOURCE_PACKAGES = ("actors", "events", "gateway", "llmopt")
"""The packages Ray workers import when an actor starts: the ones a mid-run edit matters for."""


def progress(message: str) -> None:
    """A timestamped line on stderr, so progress never mixes into the report on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    """PASS/FAIL for a performance target: printed in the table, never in the exit status."""
    return "PASS" if ok else "FAIL"


@dataclass
class Row:
    """One figure of the table; ``target`` holds the target and its verdict, if it has one."""

    figure: str
    value: str
    unit: str
    detail: str = ""
    target: str = ""


@dataclass
class Report:
    """Figures, correctness checks and notes, collected during a run and printed at its end.

    Checks are kept apart from rows because a failed check (a wrong digest, lost replies)
    makes the run's figures meaningless and sets the exit status; a missed target does not.
    """

    rows: list[Row] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, figure: str, value: str, unit: str, detail: str = "", target: str = "") -> None:
        self.rows.append(Row(figure, value, unit, detail, target))

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record a check; a failure is also said at once, as it happens, on stderr."""
        self.checks.append((name, ok, detail))
        if not ok:
            progress(f"CHECK FAILED: {name}: {detail}")
        return ok

    @property
    def failed(self) -> bool:
        return any(not ok for _, ok, _ in self.checks)


@dataclass
class Resources:
    """Everything the script starts, stopped by handle in ``release``.

    Stopping by handle (never by process name) keeps a benchmark from killing another run's
    nats-server, Ray cluster or load generator on a shared machine.
    """

    tmp: tempfile.TemporaryDirectory[str] | None = None
    server: EmbeddedNatsServer | None = None
    ray_started: bool = False
    actors: list[Any] = field(default_factory=list)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop_child(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.kill()
            child.wait()
        with contextlib.suppress(ValueError):
            self.children.remove(child)

    def kill_actor(self, actor: Any) -> None:
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)
        with contextlib.suppress(ValueError):
            self.actors.remove(actor)

    def release(self) -> None:
        """Stop in dependency order: load generators and actors use Ray and NATS, the
        nats-server keeps its files in the temp dir."""
        for child in list(self.children):
            self.stop_child(child)
        for actor in list(self.actors):
            self.kill_actor(actor)
        if self.ray_started:
            with contextlib.suppress(Exception):
                ray.shutdown()
            self.ray_started = False
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.cleanup()
            self.tmp = None


# -- the machine ---------------------------------------------------------------------------------


def mem_total_gib() -> float:
    """The machine's RAM (Linux ``/proc/meminfo``), so figures can be compared across hosts."""
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def nats_server_version(nats_server: Path) -> str:
    """``nats-server --version``: its storage and fsync behaviour change between releases."""
    return subprocess.run(
        [str(nats_server), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def machine_line(versions: Iterable[str], cpu_detail: str = "") -> str:
    """The report's first line: what ran the benchmark, since its figures only hold there.

    ``cpu_detail`` follows the CPU count (e.g. ``" (model)"``); ``versions`` end the line.
    """
    return (
        f"machine: {os.cpu_count()} CPUs{cpu_detail}, {mem_total_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        + ", ".join(versions)
    )


# -- the project's code --------------------------------------------------------------------------


def source_fingerprint() -> dict[str, str]:
    """SHA-256 of every project module: Ray workers import the code when an actor starts, so
    a file edited during the run means the driver and the actors may run different code."""
    return {
        str(path.relative_to(PROJECT_ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for package in SOURCE_PACKAGES
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
    }


def changed_sources(before: dict[str, str]) -> list[str]:
    """The modules added, removed or edited since ``before`` was taken, sorted."""
    now = source_fingerprint()
    return sorted(p for p in before.keys() | now.keys() if before.get(p) != now.get(p))


# -- printing ------------------------------------------------------------------------------------


def print_table(
    report: Report, columns: Sequence[str], *, group_by_figure_number: bool = False
) -> None:
    """The rows as an aligned table, ``value`` right-aligned so magnitudes line up.

    ``columns`` names ``Row`` fields in print order. ``group_by_figure_number`` sorts the
    rows (stably) by the number before the figure's first ``.``, for a script that records
    its figures out of order.
    """
    widths = [max(len(name), *(len(getattr(r, name)) for r in report.rows)) for name in columns]

    def line(cells: list[str]) -> str:
        return " | ".join(
            cell.rjust(width) if name == "value" else cell.ljust(width)
            for cell, width, name in zip(cells, widths, columns, strict=True)
        ).rstrip()

    header = line(list(columns))
    print(header)
    print("-" * len(header))
    rows = report.rows
    if group_by_figure_number:
        rows = sorted(rows, key=lambda r: r.figure.split(".")[0])
    for row in rows:
        print(line([getattr(row, name) for name in columns]))


def print_report(
    report: Report,
    total_s: float,
    columns: Sequence[str],
    *,
    group_by_figure_number: bool = False,
) -> None:
    """The end of a run: the table, the notes, every check (failures with their detail) and
    the run's wall time."""
    print()
    print_table(report, columns, group_by_figure_number=group_by_figure_number)
    print()
    for note in report.notes:
        print(f"note: {note}")
    print("checks:")
    for name, ok, detail in report.checks:
        print(f"  {'ok    ' if ok else 'FAILED'} {name}" + ("" if ok else f" ({detail})"))
    print(f"total runtime: {total_s:.0f} s")
    rows_file = os.environ.get(ROWS_FILE_ENV)
    if rows_file:
        Path(rows_file).write_text(json.dumps(asdict(report) | {"total_s": total_s}))
