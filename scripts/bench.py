"""Every performance figure of the project in one run and one table.

Runs each benchmark script in its own process (each starts and stops its own nats-server and
Ray cluster, so one cannot slow the next), collects the figures each one reports and prints
them together under one line that says what machine they were measured on. Each script's own
full output (notes, CPU shares, checks) goes to ``<out>/<script>.log``.

Usage: ``.venv/bin/python scripts/bench.py [--quick] [--only decisions runtime ...]``
(``--quick`` passes ``--quick`` to every script: a smoke run of a few minutes in all).
The exit status is 1 if any script's correctness checks failed or it crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from bench_common import (  # importable: `python scripts/x.py` puts scripts/ on sys.path
    PROJECT_ROOT,
    ROWS_FILE_ENV,
    Report,
    machine_line,
    print_table,
    progress,
)

BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "decisions": ("bench_decisions.py", [], ["--quick"]),
    "floor": ("bench_floor.py", [], ["--quick"]),
    "runtime": ("bench_runtime.py", [], ["--quick"]),
    "windows": ("bench_windows.py", [], ["--events", "50000", "--repeat", "1", "--reads", "5000"]),
}
"""name -> (script, arguments of a full run, arguments of a quick run)."""


def run_one(name: str, quick: bool, out: Path) -> tuple[dict[str, Any] | None, int]:
    script, full, smoke = BENCHMARKS[name]
    rows_file = out / f"{name}.json"
    log_file = out / f"{name}.log"
    progress(f"{name}: {script} {' '.join(smoke if quick else full)} (log: {log_file})")
    with log_file.open("wb") as log:
        status = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "scripts" / script), *(smoke if quick else full)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, ROWS_FILE_ENV: str(rows_file)},
            check=False,
        ).returncode
    if not rows_file.exists():
        return None, status or 1
    report: dict[str, Any] = json.loads(rows_file.read_text())
    return report, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every script's smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--out", type=Path, default=None, help="folder for the logs")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="llmopt-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    table = Report()
    failures: list[str] = []
    for name in args.only:
        report, status = run_one(name, args.quick, out)
        if report is None:
            failures.append(f"{name}: crashed (exit {status}); see {out / (name + '.log')}")
            continue
        for row in report["rows"]:
            table.row(f"{name} {row['figure']}", row["value"], row["unit"], target=row["target"])
        failed = [check[0] for check in report["checks"] if not check[1]]
        if status or failed:
            failures.append(f"{name}: exit {status}; failed checks: {failed}")
    print(machine_line([f"ray {ray.__version__}"]))
    print()
    print_table(table, ("figure", "value", "unit", "target"))
    print()
    print(f"logs: {out}")
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"total runtime: {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
