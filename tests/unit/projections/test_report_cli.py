"""`llmopt report` refuses bad arguments with a message naming them, and reports an empty database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmopt.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since/--until: Invalid isoformat string: 'yesterday'"),
        (["--task-field", "a b"], "task_field must be 1-64 letters"),
        (["--since", "2026-12-01", "--until", "2026-11-01"], "since must be before until"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A bad window or task field gives exit status 2 and says what was wrong."""
    status = main(["--state-dir", str(tmp_path), "report", "--no-catch-up", *args])
    assert status == 2
    assert message in capsys.readouterr().err


def test_an_empty_database_reports_zero_savings_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without any projected event the JSON report holds zero savings and empty sections."""
    status = main(
        ["--state-dir", str(tmp_path), "report", "--no-catch-up", "--json", "--until", "1e9"]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["total_savings"]["saved_usd"] == 0.0
    assert (report["savings"], report["winners"], report["alerts"]) == ([], [], [])
    assert (tmp_path / "projections.db").exists()
