"""The demo's routing data: RouteLLM's MMLU and GSM8K results for a weak and a strong model.

Shipped in the package (``llmopt/demo/data``, derived from lm-sys/RouteLLM at commit 0b64fda,
Apache-2.0; ``data/SOURCE.md`` says what was kept and ``scripts/build_demo_data.py``
regenerates it). Each prompt records whether Mixtral-8x7B-Instruct (weak) and GPT-4-1106
(strong) answered it correctly and, for GSM8K, how long each model's answer was.
"""

from __future__ import annotations

import gzip
import importlib.resources
from typing import Literal, get_args

import msgspec

DatasetName = Literal["mmlu", "gsm8k"]
DATASETS: tuple[DatasetName, ...] = get_args(DatasetName)


class Prompt(msgspec.Struct, frozen=True, kw_only=True):
    """One evaluation prompt and what each model made of it."""

    dataset: DatasetName
    index: int
    """Position in its dataset's file: the prompt's stable id."""
    subject: str
    """The MMLU subject (``abstract_algebra``, ...) or ``gsm8k``."""
    prompt: str
    weak_correct: bool
    strong_correct: bool
    weak_response_chars: int | None = None
    """Length of the weak model's answer (GSM8K only; MMLU answers are one letter)."""
    strong_response_chars: int | None = None

    @property
    def key(self) -> str:
        """A unique id across datasets (``mmlu-17``), used as the decide request id."""
        return f"{self.dataset}-{self.index}"


class _Row(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    subject: str
    prompt: str
    weak_correct: bool
    strong_correct: bool
    weak_response_chars: int | None = None
    strong_response_chars: int | None = None


def load(dataset: DatasetName) -> list[Prompt]:
    """Every prompt of ``dataset`` in file order; ``ValueError`` for an unknown name."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}")
    resource = importlib.resources.files("llmopt.demo") / "data" / f"{dataset}.jsonl.gz"
    decoder = msgspec.json.Decoder(_Row)
    prompts: list[Prompt] = []
    with resource.open("rb") as raw, gzip.open(raw, "rb") as lines:
        for index, line in enumerate(lines):
            row = decoder.decode(line)
            if dataset == "gsm8k" and (
                row.weak_response_chars is None or row.strong_response_chars is None
            ):
                raise ValueError(f"gsm8k row {index}: response lengths missing")
            prompts.append(
                Prompt(
                    dataset=dataset,
                    index=index,
                    subject=row.subject,
                    prompt=row.prompt,
                    weak_correct=row.weak_correct,
                    strong_correct=row.strong_correct,
                    weak_response_chars=row.weak_response_chars,
                    strong_response_chars=row.strong_response_chars,
                )
            )
    return prompts
