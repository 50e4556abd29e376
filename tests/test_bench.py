"""``./sandbox bench``'s runner (``bench/run.py``): one table of figures, anchors, ratios and targets.

Only the table's shape is specified here; no test asserts on speed (the figures are whatever the
machine gives).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench._table import COLUMNS, Row, Target
from tests.support import ROOT

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # a bound for a hung run only
    )


@pytest.fixture(scope="module")
def quick_health(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The quickest run of one cheap row (the dossier service's health check), with its JSON."""
    out = tmp_path_factory.mktemp("bench") / "table.json"
    result = run_bench("--quick", "--only", "dossier.health", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result, json.loads(Path(out).read_text())


def test_the_printed_table_has_the_columns_and_the_row_with_its_mark(quick_health: Any) -> None:
    result, _ = quick_health
    lines = result.stdout.splitlines()
    header = lines[0]
    assert [c for c in COLUMNS if c in header] == list(COLUMNS)
    row = next(line for line in lines if line.startswith("dossier.health"))
    assert "FastAPI hello" in row and "≥ 0.7×" in row
    assert ("✓" in row) != ("✗" in row)


def test_only_keeps_the_rows_named(quick_health: Any) -> None:
    _, table = quick_health
    assert [r["name"] for r in table["rows"]] == ["dossier.health"]
    assert table["columns"] == list(COLUMNS)


def test_the_ratio_is_the_figure_over_the_anchor_measured_in_the_same_run(quick_health: Any) -> None:
    _, table = quick_health
    row = table["rows"][0]
    assert row["figure"] > 0 and row["anchor"] > 0
    assert row["ratio"] == pytest.approx(row["figure"] / row["anchor"])


def test_the_mark_says_whether_the_ratio_meets_the_target(quick_health: Any) -> None:
    _, table = quick_health
    row = table["rows"][0]
    assert row["target"] == "≥ 0.7×"
    assert row["mark"] == ("✓" if row["ratio"] >= 0.7 and not row["problem"] else "✗")


def test_a_name_no_row_has_is_refused() -> None:
    result = run_bench("--quick", "--only", "no-such-row")
    assert result.returncode == 1
    assert "no row matches --only" in result.stderr


def test_a_target_on_the_figure_is_checked_against_the_figure_not_the_ratio() -> None:
    within = Target("<=", 3.0, on="figure", unit="s")
    fast = Row("startup.up", "start", 2.5, "s", 0.5, "hello", within, "wall clock")
    slow = Row("startup.up", "start", 3.5, "s", 5.0, "hello", within, "wall clock")
    assert (fast.ratio, fast.mark) == (5.0, "✓")
    assert (slow.ratio, slow.mark) == (0.7, "✗")


def test_a_problem_during_the_measurement_fails_the_row_whatever_the_numbers() -> None:
    row = Row("x", "x", 10.0, "req/s", 1.0, "hello", Target(">=", 1.0), "wrk", problem="5 of 10 replies not 2xx")
    assert row.mark == "✗"
