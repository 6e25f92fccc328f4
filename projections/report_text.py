"""``llmopt report`` as readable terminal tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from projections.report import Report, TaskWinner


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def render(report: Report) -> str:
    """The whole report: savings, winners per task, significance, models, drift."""
    when = f"{_time(report.since)} .. {_time(report.until)}"
    scope = report.experiment or "all experiments"
    parts = [f"llmopt report — {scope}, log position {report.position}, window {when}"]

    total = report.total_savings
    parts.append(
        "\nSavings against always using the flagship model\n"
        + table(
            ["experiment", "flagship", "requests", "cost $", "flagship $", "saved $", "saved %"],
            [
                [
                    r.experiment_id,
                    r.flagship or "-",
                    r.requests,
                    r.cost_usd,
                    r.baseline_cost_usd,
                    r.saved_usd,
                    _pct(r.saved_share),
                ]
                for r in [*report.savings, total]
            ],
        )
    )

    parts.append(
        f"\nWhich model wins for which task ({report.task_field}, by mean reward)\n"
        + table(
            [
                "experiment",
                "task",
                "winner",
                "model",
                "n",
                "reward",
                "quality",
                "cost $",
                "runner-up",
            ],
            [
                [
                    w.experiment_id,
                    w.task if w.task is not None else "(none)",
                    w.winner.arm if w.winner else "-",
                    w.winner.model if w.winner else "-",
                    w.winner.outcomes if w.winner else None,
                    w.winner.mean_reward if w.winner else None,
                    w.winner.mean_quality if w.winner else None,
                    w.winner.mean_cost_usd if w.winner else None,
                    _runner_up(w),
                ]
                for w in report.winners
            ],
        )
    )

    rows = []
    for e in report.significance:
        verdict = ("yes: " + ", ".join(e.significant_arms)) if e.significant else "not yet"
        for i, a in enumerate(e.arms):
            low, high = a.difference_ci
            rows.append(
                [
                    e.experiment_id,
                    a.arm + (" (control)" if a.is_control else ""),
                    a.n,
                    a.mean_reward,
                    a.conversion,
                    a.difference,
                    "-" if low is None or high is None else f"[{low:+.4f}, {high:+.4f}]",
                    a.p_value_holm,
                    verdict if i == 0 else "",
                ]
            )
    parts.append(
        "\nIs the experiment significant yet? (Welch vs control, Holm-adjusted, alpha 0.05)\n"
        + table(
            [
                "experiment",
                "arm",
                "n",
                "reward",
                "conversion",
                "diff",
                "95% CI",
                "p (Holm)",
                "significant",
            ],
            rows,
        )
    )

    parts.append(
        "\nCost, tokens, latency and quality per model\n"
        + table(
            [
                "experiment",
                "arm",
                "model",
                "decisions",
                "outcomes",
                "cost $",
                "tokens in",
                "tokens out",
                "latency ms",
                "quality",
                "errors",
            ],
            [
                [
                    m.experiment_id,
                    m.arm,
                    m.model,
                    m.decisions,
                    m.outcomes,
                    m.cost_usd,
                    m.input_tokens,
                    m.output_tokens,
                    m.mean_latency_ms,
                    m.mean_quality,
                    m.errors,
                ]
                for m in report.models
            ],
        )
    )

    if report.alerts:
        parts.append(
            "\nWhat drifted, when\n"
            + table(
                ["time", "type", "entity", "detail"],
                [[_time(a.at), a.type, a.entity_id, str(a.detail)] for a in report.alerts],
            )
        )
    else:
        parts.append("\nWhat drifted, when\n(no drift or anomaly alerts in the window)")
    return "\n".join(parts)


def _runner_up(winner: TaskWinner) -> str:
    others = sorted(
        (a for a in winner.arms if winner.winner is None or a.arm != winner.winner.arm),
        key=lambda a: -(a.mean_reward or 0.0),
    )
    if not others or others[0].mean_reward is None:
        return "-"
    return f"{others[0].arm} ({others[0].mean_reward:.4f})"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M")
