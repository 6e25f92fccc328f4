"""The report's figures: cumulative cost against the flagship baseline, quality over time,
traffic share per arm and cumulative regret, written as PNGs with an ``index.html``.

Each ``*_figure`` function returns a matplotlib :class:`~matplotlib.figure.Figure` built from
the projection database alone (no pyplot, so no global state and no display needed), one
labelled line per series, so what a figure shows can be read back from its lines. Times are
UTC; a line's x values are the decision times (cost, regret) or the decision hours (quality,
traffic). The figures cover the whole history the database holds, optionally for one
experiment.

matplotlib is the optional ``plots`` extra: the runtime serves without it.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sqlite_utils import Database

PLOTS: dict[str, str] = {
    "cost": "Cumulative cost against always using the flagship model",
    "quality": "Mean quality per arm and hour",
    "traffic": "Traffic share per arm and hour",
    "regret": "Cumulative regret",
}


def cost_figure(db: Database, experiment: str | None = None) -> Figure:
    """Two lines: cumulative cost of the chosen arms, and of the flagship for the same tokens,
    over the outcomes whose cost and baseline are both known, in decision-time order."""
    rows = db.execute(
        "SELECT decided_at, cost_usd, baseline_cost_usd FROM outcomes"
        " WHERE cost_usd IS NOT NULL AND baseline_cost_usd IS NOT NULL"
        " AND (? IS NULL OR experiment_id = ?) ORDER BY decided_at, decision_id",
        [experiment, experiment],
    ).fetchall()
    fig, ax = _figure(PLOTS["cost"], "USD")
    times = _utc([r[0] for r in rows])
    ax.plot(times, list(itertools.accumulate(r[1] for r in rows)), label="chosen arms")
    ax.plot(times, list(itertools.accumulate(r[2] for r in rows)), label="always flagship")
    return _finish(fig, ax, bool(rows), "no outcome with a known cost and baseline yet")


def quality_figure(db: Database, experiment: str | None = None) -> Figure:
    """One line per experiment/arm: mean quality of the outcomes of each hour's decisions."""
    rows = db.execute(
        "SELECT experiment_id, arm, hour, quality_sum / quality_n FROM arm_hourly"
        " WHERE quality_n > 0 AND (? IS NULL OR experiment_id = ?)"
        " ORDER BY experiment_id, arm, hour",
        [experiment, experiment],
    ).fetchall()
    fig, ax = _figure(PLOTS["quality"], "quality")
    _series(ax, rows, experiment)
    return _finish(fig, ax, bool(rows), "no outcome with a quality score yet")


def traffic_figure(db: Database, experiment: str | None = None) -> Figure:
    """One line per experiment/arm: its share of the experiment's decisions in each hour."""
    rows = db.execute(
        "SELECT experiment_id, arm, hour, share FROM traffic_share"
        " WHERE (? IS NULL OR experiment_id = ?) ORDER BY experiment_id, arm, hour",
        [experiment, experiment],
    ).fetchall()
    fig, ax = _figure(PLOTS["traffic"], "share of decisions")
    _series(ax, rows, experiment)
    ax.set_ylim(0.0, 1.0)
    return _finish(fig, ax, bool(rows), "no decisions yet")


def regret_figure(db: Database, experiment: str | None = None) -> Figure:
    """One line: cumulative regret over the outcomes that carry a counterfactual reward."""
    rows = db.execute(
        "SELECT decided_at, regret FROM outcomes WHERE regret IS NOT NULL"
        " AND (? IS NULL OR experiment_id = ?) ORDER BY decided_at, decision_id",
        [experiment, experiment],
    ).fetchall()
    fig, ax = _figure(PLOTS["regret"], "regret")
    if rows:
        ax.plot(
            _utc([r[0] for r in rows]),
            list(itertools.accumulate(r[1] for r in rows)),
            label="cumulative regret",
        )
    return _finish(fig, ax, bool(rows), "no outcome carries a counterfactual reward yet")


FIGURES: dict[str, Callable[[Database, str | None], Figure]] = {
    "cost": cost_figure,
    "quality": quality_figure,
    "traffic": traffic_figure,
    "regret": regret_figure,
}


def write_plots(db: Database, folder: Path, experiment: str | None = None) -> list[Path]:
    """Write every figure as ``<name>.png`` and an ``index.html`` showing them together."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in FIGURES.items():
        path = folder / f"{name}.png"
        build(db, experiment).savefig(path, dpi=100)
        written.append(path)
    title = f"llmopt report — {experiment or 'all experiments'}"
    figures = "\n".join(
        f'<figure><img src="{name}.png" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in PLOTS.items()
    )
    index = folder / "index.html"
    index.write_text(
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1em}"
        "main{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1em}"
        "img{max-width:100%}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1><main>\n{figures}\n</main></body></html>\n"
    )
    written.append(index)
    return written


def _figure(title: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("time (UTC)")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _series(ax: Axes, rows: list[tuple[str, str, float, float]], experiment: str | None) -> None:
    for (experiment_id, arm), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        points = list(group)
        label = arm if experiment is not None else f"{experiment_id}/{arm}"
        ax.plot(_utc([p[2] for p in points]), [p[3] for p in points], marker=".", label=label)


def _finish(fig: Figure, ax: Axes, has_data: bool, empty_note: str) -> Figure:
    if has_data:
        ax.legend(loc="best", fontsize="small")
        fig.autofmt_xdate()
    else:
        ax.text(0.5, 0.5, empty_note, ha="center", va="center", transform=ax.transAxes)
    return fig


def _utc(seconds: list[float]) -> npt.NDArray[np.datetime64]:
    """Unix seconds as UTC ``datetime64[us]`` (what a line's x data reads back as)."""
    return np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype("datetime64[us]")
