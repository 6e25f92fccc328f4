"""``llmopt report``: its figures and plots equal a direct computation over the appended events."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sqlite_utils import Database

from events.log import EventLog
from events.schema import AnyEvent, DecisionMade, OutcomeObserved
from events.subjects import entity_filter
from projections.report import build_report
from projections.report_plots import FIGURES, write_plots
from projections.report_text import render
from projections.runner import ProjectionRunner
from tests.projection_scenario import CATALOGUE, T0, created, joined, traffic

LLMOPT = str(Path(sys.executable).parent / "llmopt")
HOUR = 3600.0


def price(arm: str, o: OutcomeObserved) -> float:
    spec = CATALOGUE[arm]
    return (
        (o.input_tokens or 0) * spec["price_in_per_1k"]
        + (o.output_tokens or 0) * spec["price_out_per_1k"]
    ) / 1000


def reward(o: OutcomeObserved, cost: float) -> float:
    """The spec's default composite, written out: 0.5 q + 0.3 (1 - c/0.05) + 0.2 (1 - l/10000)."""
    if o.error:
        return 0.0
    c = min(1.0, cost / 0.05)
    lat = min(1.0, (o.latency_ms or 0.0) / 10_000)
    return 0.5 * (o.quality or 0.0) + 0.3 * (1 - c) + 0.2 * (1 - lat)


@pytest.fixture
async def history(
    event_log: EventLog, entity_id: str, tmp_path: Path
) -> tuple[list[AnyEvent], Database]:
    events = [created(entity_id), *traffic(entity_id, 240, seed=11)]
    await event_log.append_many(events)
    runner = ProjectionRunner(
        event_log, tmp_path / "p.db", filter_subject=entity_filter("experiment", entity_id)
    )
    await runner.catch_up()
    return events, runner.db


class TestReportFigures:
    async def test_savings_equal_the_direct_computation(self, history: Any, entity_id: str) -> None:
        """Cost saved in a window is the flagship's price of the same tokens minus the chosen arms' price."""
        events, db = history
        since, until = T0 + 3 * HOUR, T0 + 5 * HOUR
        pairs = [(d, o) for d, o in joined(events) if since <= d.at < until]
        cost = math.fsum(price(d.arm, o) for d, o in pairs)
        baseline = math.fsum(price("flagship", o) for _, o in pairs)
        report = build_report(db, since=since, until=until, experiment=entity_id)
        [row] = report.savings
        assert (row.experiment_id, row.flagship, row.requests) == (
            entity_id,
            "flagship",
            len(pairs),
        )
        assert row.cost_usd == pytest.approx(cost, rel=1e-12)
        assert row.baseline_cost_usd == pytest.approx(baseline, rel=1e-12)
        assert row.saved_usd == pytest.approx(baseline - cost, rel=1e-9)
        assert 0 < row.saved_usd < baseline
        assert report.total_savings.saved_usd == row.saved_usd

    async def test_task_winners_equal_the_direct_computation(
        self, history: Any, entity_id: str
    ) -> None:
        """Each task's winner is the arm with the highest mean composite reward on that task."""
        events, db = history
        rewards: dict[tuple[str, str], list[float]] = defaultdict(list)
        for d, o in joined(events):
            rewards[d.context["task_type"], d.arm].append(reward(o, price(d.arm, o)))
        report = build_report(db, until=T0 + 100 * HOUR, experiment=entity_id)
        assert {w.task for w in report.winners} == {"chat", "code"}
        for w in report.winners:
            means = {arm: np.mean(v) for (task, arm), v in rewards.items() if task == w.task}
            assert w.winner is not None
            assert w.winner.arm == max(means, key=lambda a: means[a])
            for arm in w.arms:
                assert arm.mean_reward == pytest.approx(means[arm.arm], rel=1e-9)
                assert arm.outcomes == len(rewards[w.task, arm.arm])
                assert arm.model == CATALOGUE[arm.arm]["model"]
        winners = {w.task: w.winner.arm for w in report.winners if w.winner}
        assert winners == {"chat": "small", "code": "flagship"}

    async def test_significance_equals_scipy_welch_with_holm(
        self, history: Any, entity_id: str
    ) -> None:
        """Every arm's p-value is scipy's Welch test against the control, Holm-adjusted across arms."""
        events, db = history
        rewards: dict[str, list[float]] = defaultdict(list)
        for d, o in joined(events):
            rewards[d.arm].append(reward(o, price(d.arm, o)))
        raw = {
            arm: stats.ttest_ind(rewards[arm], rewards["flagship"], equal_var=False).pvalue
            for arm in ("medium", "small")
        }
        low, high = sorted(raw, key=lambda a: raw[a])
        holm = {low: min(1.0, 2 * raw[low])}
        holm[high] = max(holm[low], min(1.0, raw[high]))
        [result] = build_report(db, until=T0 + 100 * HOUR, experiment=entity_id).significance
        assert result.control == "flagship"
        by_arm = {a.arm: a for a in result.arms}
        assert by_arm["flagship"].is_control and by_arm["flagship"].p_value is None
        for arm in ("medium", "small"):
            assert by_arm[arm].n == len(rewards[arm])
            assert by_arm[arm].mean_reward == pytest.approx(np.mean(rewards[arm]), rel=1e-9)
            assert by_arm[arm].p_value == pytest.approx(raw[arm], rel=1e-6)
            assert by_arm[arm].p_value_holm == pytest.approx(holm[arm], rel=1e-6)
            assert by_arm[arm].significant == (holm[arm] <= 0.05)
        assert result.significant == any(h <= 0.05 for h in holm.values())

    async def test_model_usage_and_text_tables(self, history: Any, entity_id: str) -> None:
        """Per model cost and tokens are the sums over its joined outcomes, and the text report names them."""
        events, db = history
        cost: dict[str, float] = defaultdict(float)
        tokens: dict[str, int] = defaultdict(int)
        for d, o in joined(events):
            cost[d.arm] += price(d.arm, o)
            tokens[d.arm] += o.input_tokens or 0
        report = build_report(db, until=T0 + 100 * HOUR, experiment=entity_id)
        assert {m.arm: m.cost_usd for m in report.models} == pytest.approx(dict(cost), rel=1e-9)
        assert {m.arm: m.input_tokens for m in report.models} == dict(tokens)
        text = render(report)
        for heading in (
            "Savings against",
            "Which model wins",
            "significant yet",
            "per model",
            "What drifted",
        ):
            assert heading in text
        assert "large-4" in text and "(no drift or anomaly alerts in the window)" in text


def line_data(fig: Any) -> dict[str, tuple[list[float], list[float]]]:
    """Each labelled line of a figure's axes as (Unix seconds, y values)."""
    out = {}
    for line in fig.axes[0].get_lines():
        x = np.asarray(line.get_xdata()).astype("datetime64[us]").astype(np.int64) / 1e6
        out[line.get_label()] = (list(x), [float(y) for y in line.get_ydata()])
    return out


class TestPlots:
    async def test_cost_plot_shows_cumulative_cost_and_baseline(
        self, history: Any, entity_id: str
    ) -> None:
        """The cost figure's two lines are the running sums of chosen and flagship cost, by decision time."""
        events, db = history
        pairs = sorted(joined(events), key=lambda p: (p[0].at, p[0].decision_id))
        lines = line_data(FIGURES["cost"](db, entity_id))
        assert set(lines) == {"chosen arms", "always flagship"}
        x, chosen = lines["chosen arms"]
        assert x == pytest.approx([d.at for d, _ in pairs], abs=1e-5)
        assert chosen == pytest.approx(np.cumsum([price(d.arm, o) for d, o in pairs]), rel=1e-9)
        assert lines["always flagship"][1] == pytest.approx(
            np.cumsum([price("flagship", o) for _, o in pairs]), rel=1e-9
        )

    async def test_traffic_and_quality_plots_show_each_arm_per_hour(
        self, history: Any, entity_id: str
    ) -> None:
        """Traffic lines are each arm's share of an hour's decisions; quality lines its hourly mean quality."""
        events, db = history
        per_hour: dict[float, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for e in events:
            if isinstance(e, DecisionMade):
                per_hour[math.floor(e.at / HOUR) * HOUR][e.arm] += 1
        traffic_lines = line_data(FIGURES["traffic"](db, entity_id))
        assert set(traffic_lines) == {"small", "medium", "flagship"}
        for arm, (x, y) in traffic_lines.items():
            expected = {h: c[arm] / sum(c.values()) for h, c in per_hour.items() if c[arm]}
            assert dict(zip(x, y, strict=True)) == pytest.approx(expected, rel=1e-12)

        quality: dict[tuple[str, float], list[float]] = defaultdict(list)
        for d, o in joined(events):
            quality[d.arm, math.floor(d.at / HOUR) * HOUR].append(o.quality or 0.0)
        for arm, (x, y) in line_data(FIGURES["quality"](db, entity_id)).items():
            expected = {h: np.mean(v) for (a, h), v in quality.items() if a == arm}
            assert dict(zip(x, y, strict=True)) == pytest.approx(expected, rel=1e-9)

    async def test_regret_plot_is_empty_until_counterfactuals_exist(
        self, history: Any, entity_id: str
    ) -> None:
        """With no counterfactual rewards the regret figure draws no line and says why."""
        _, db = history
        fig = FIGURES["regret"](db, entity_id)
        assert line_data(fig) == {}
        assert "counterfactual" in fig.axes[0].texts[0].get_text()

    async def test_write_plots_writes_pngs_and_an_index(
        self, history: Any, entity_id: str, tmp_path: Path
    ) -> None:
        """Every figure is a PNG file and index.html shows all of them."""
        _, db = history
        written = write_plots(db, tmp_path / "plots", entity_id)
        names = {p.name for p in written}
        assert names == {"cost.png", "quality.png", "traffic.png", "regret.png", "index.html"}
        for p in written:
            if p.suffix == ".png":
                assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
        index = (tmp_path / "plots" / "index.html").read_text()
        assert all(f'src="{n}"' in index for n in names - {"index.html"})


class TestCommand:
    async def test_llmopt_report_json_catches_up_and_answers(
        self, event_log: EventLog, settings: Any, entity_id: str, tmp_path: Path
    ) -> None:
        """`llmopt report --json` catches up a fresh database from the log and prints the savings it computed."""
        events = [created(entity_id), *traffic(entity_id, 60, seed=5)]
        await event_log.append_many(events)
        pairs = joined(events)
        proc = await asyncio.create_subprocess_exec(
            LLMOPT,
            "--nats-url",
            settings.nats_url,
            "--state-dir",
            str(tmp_path),
            "report",
            "--json",
            "--experiment",
            entity_id,
            "--until",
            str(T0 + 1000 * HOUR),
            "--since",
            str(T0),
            "--plots",
            str(tmp_path / "plots"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        report = json.loads(out)
        [row] = report["savings"]
        assert row["requests"] == len(pairs)
        assert row["saved_usd"] == pytest.approx(
            math.fsum(price("flagship", o) - price(d.arm, o) for d, o in pairs), rel=1e-9
        )
        assert (tmp_path / "projections.db").exists()
        assert (tmp_path / "plots" / "index.html").exists()

    async def test_rebuild_flag_gives_the_same_report(
        self, event_log: EventLog, settings: Any, entity_id: str, tmp_path: Path
    ) -> None:
        """`--rebuild` recomputes from zero and reports exactly what the incremental run reported."""
        await event_log.append_many([created(entity_id), *traffic(entity_id, 40, seed=9)])

        async def run(*extra: str) -> Any:
            proc = await asyncio.create_subprocess_exec(
                LLMOPT,
                "--nats-url",
                settings.nats_url,
                "--state-dir",
                str(tmp_path),
                "report",
                "--json",
                "--experiment",
                entity_id,
                "--until",
                str(T0 + 1000 * HOUR),
                *extra,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            return json.loads(out)

        first = await run()
        rebuilt = await run("--rebuild")
        # The position is the log head when each run caught up: other tests' actors may append
        # (checkpoint records) in between. Every figure must be equal.
        assert rebuilt.pop("position") >= first.pop("position")
        assert rebuilt == first
