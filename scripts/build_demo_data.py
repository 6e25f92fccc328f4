"""Regenerate ``llmopt/demo/data/`` from the RouteLLM evaluation files.

The originals (lm-sys/RouteLLM, commit 0b64fda, Apache-2.0) hold, per prompt, whether
Mixtral-8x7B-Instruct (weak) and GPT-4-1106-preview (strong) answered correctly, and for GSM8K
both full responses. The demo needs the prompt text (its context features are computed from
it), the two correctness flags and, for GSM8K, the length of each response in characters (the
output tokens of the cost model are ``ceil(chars / 4)``); the response text itself is dropped.
Every prompt is kept, contaminated ones included, as in the anchors the demo compares with.

Usage: ``python scripts/build_demo_data.py [SOURCE_DIR]`` (default ``/work/shared/data/routellm``).
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
OUT = Path(__file__).resolve().parent.parent / "llmopt" / "demo" / "data"


def _flag(value: str) -> bool:
    if value not in ("True", "False"):
        raise ValueError(f"expected True/False, got {value!r}")
    return value == "True"


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    # mtime=0 and a fixed filename in the header: the same input gives the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename=path.stem, mode="wb", fileobj=raw, mtime=0) as out,
    ):
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8"))
            out.write(b"\n")
    print(f"{path}: {len(rows)} prompts, {path.stat().st_size} bytes")


def build(source: Path) -> None:
    csv.field_size_limit(1 << 30)
    mmlu: list[dict[str, object]] = []
    for file in sorted((source / "mmlu_responses").glob("mmlu_*.csv")):
        subject = file.stem.removeprefix("mmlu_")
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                mmlu.append(
                    {
                        "subject": subject,
                        "prompt": row["prompt"],
                        "weak_correct": _flag(row[WEAK]),
                        "strong_correct": _flag(row[STRONG]),
                    }
                )
    gsm8k: list[dict[str, object]] = []
    with (source / "gsm8k_responses.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            gsm8k.append(
                {
                    "subject": "gsm8k",
                    "prompt": row["prompt"],
                    "weak_correct": _flag(row[WEAK]),
                    "strong_correct": _flag(row[STRONG]),
                    "weak_response_chars": len(row[f"{WEAK}_response"]),
                    "strong_response_chars": len(row[f"{STRONG}_response"]),
                }
            )
    OUT.mkdir(parents=True, exist_ok=True)
    _write(OUT / "mmlu.jsonl.gz", mmlu)
    _write(OUT / "gsm8k.jsonl.gz", gsm8k)


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/routellm"))
