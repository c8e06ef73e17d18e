"""benchmarks/scaling.py: it runs, records every series, and draws only what it measured."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "scaling.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scaling_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scaling = _load()


def _point(method: str, m: int, seconds: float | None, **extra: Any) -> dict[str, Any]:
    point: dict[str, Any] = {"method": method, "m": m, "input_mb": 2 * m * 10 * 8 / 1e6}
    if seconds is None:
        return point | {"status": "skipped", "reason": "not run: a test"} | extra
    return point | {"status": "measured", "seconds": seconds, "peak_extra_mb": 1.0} | extra


def _results(points: list[dict[str, Any]]) -> dict[str, Any]:
    methods = {p["method"] for p in points}
    return {
        "created": "2026-11-30 00:00 UTC",
        "command": "python benchmarks/scaling.py",
        "k": 10,
        "machine": {"cpu": "test", "cores": 2},
        "load_average_before": [0.0, 0.0, 0.0],
        "load_average_after": [0.0, 0.0, 0.0],
        "versions": {"python": "3"},
        "methods": {k: v for k, v in scaling.METHODS.items() if k in methods},
        "points": points,
    }


@pytest.mark.slow
def test_a_tiny_run_records_every_method_with_positive_times(tmp_path: Path) -> None:
    out, fig = tmp_path / "scaling.json", tmp_path / "scaling.png"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(SCRIPT), "--max-m", "1000", "--skip-r", "--repeats", "1"]
    run = subprocess.run(
        [*cmd, "--json", str(out), "--figure", str(fig)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert set(results["methods"]) == set(scaling.METHODS)
    by_method = {p["method"]: p for p in results["points"]}
    assert set(by_method) == set(scaling.METHODS)
    assert {p["m"] for p in results["points"]} == {1000}
    for method, point in by_method.items():
        if method.startswith("metafor"):
            assert point["status"] == "skipped"
            assert "--skip-r" in point["reason"]
            continue
        assert point["status"] == "measured", point
        assert point["seconds"] > 0
        assert all(s >= point["seconds"] for s in point["all_seconds"])
        assert point["input_mb"] == pytest.approx(0.16)
    for method in ("msc_meta-DL", "msc_meta-REML", "pymare-DL", "pymare-REML"):
        assert by_method[method]["peak_rss_mb"] >= by_method[method]["rss_before_mb"] > 0
    assert by_method["msc_meta-REML"]["not_converged"] >= 0
    assert results["versions"]["numpy"] and results["machine"]["cores"] >= 1
    assert fig.read_bytes()[:8] == PNG_MAGIC
    assert "| m | msc_meta DL | PyMARE DL | ratio |" in run.stdout
    assert "metafor loop DL, m = 1,000: not run: --skip-r" in run.stdout


def test_plan_runs_the_first_point_and_skips_over_budget_or_memory() -> None:
    first = scaling.plan(None, 1000, budget=60.0, available_mb=1000.0)
    assert first is None
    last = _point("statsmodels-DL", 10_000, 7.0)
    assert scaling.plan(last, 100_000, budget=80.0, available_mb=1e6) is None
    why = scaling.plan(last, 100_000, budget=60.0, available_mb=1e6)
    assert why is not None and "about 70 s expected" in why and "60 s budget" in why
    # input 1.6 MB + 1 MB extra at 1e4: 260 MB at 1e6, over 80% of 300 MB
    short = scaling.plan(last | {"seconds": 1e-3}, 1_000_000, budget=60.0, available_mb=300.0)
    assert short is not None and "260 MB expected" in short


def test_plot_data_marks_extrapolation_and_the_figure_has_markers_only_at_measured_points() -> (
    None
):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [
        _point("msc_meta-DL", 1000, 0.001),
        _point("msc_meta-DL", 10_000, 0.01),
        _point("statsmodels-DL", 1000, 0.1),
        _point("statsmodels-DL", 10_000, None),
    ]
    frame = scaling.plot_data(_results(points))
    assert frame["measured"].tolist() == [True, True, True, False]
    extrapolated = frame[~frame["measured"]].iloc[0]
    assert extrapolated["m"] == 10_000 and extrapolated["seconds"] == pytest.approx(1.0)
    fig, ax = plt.subplots()
    scaling.draw(frame, ax)
    marked = [line for line in ax.get_lines() if line.get_marker() not in ("None", "", None)]
    assert sorted(np.asarray(line.get_xdata()).size for line in marked) == [
        1,
        2,
    ]  # measured points only
    dotted = [line for line in ax.get_lines() if line.get_marker() in ("None", "", None)]
    assert any(np.asarray(line.get_xdata()).tolist() == [1000, 10_000] for line in dotted)
    labels = ax.get_legend_handles_labels()[1]
    assert "extrapolated linearly, not measured" in labels
    plt.close(fig)


def test_tables_give_ratios_to_msc_meta_and_say_why_a_point_was_not_run() -> None:
    points = [
        _point("msc_meta-DL", 1000, 0.002),
        _point("pymare-DL", 1000, 0.001),
        _point("statsmodels-DL", 1000, 0.1),
        _point("msc_meta-DL", 10_000, 0.02),
        _point("pymare-DL", 10_000, None),
        _point("statsmodels-DL", 10_000, 1.0),
    ]
    text = scaling.tables(_results(points))
    assert "| 1,000 | 0.002 | 0.001 | 0.5x | 0.1 | 50x |" in text
    assert "| 10,000 | 0.02 | not run |  | 1 | 50x |" in text
    assert "PyMARE DL, m = 10,000: not run: a test" in text


def test_merge_keeps_the_series_the_new_run_did_not_measure() -> None:
    old = _results([_point("msc_meta-DL", 1000, 0.002), _point("pymare-DL", 1000, 0.001)])
    new = _results([_point("msc_meta-DL", 1000, 0.001)]) | {"created": "later"}
    merged = scaling.merge(old, new)
    assert sorted(merged["methods"]) == ["msc_meta-DL", "pymare-DL"]
    assert {(p["method"], p["seconds"]) for p in merged["points"]} == {
        ("msc_meta-DL", 0.001),
        ("pymare-DL", 0.001),
    }
    assert merged["merged_from"] == [old["created"]]


def test_plot_only_redraws_from_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, fig = tmp_path / "s.json", tmp_path / "s.png"
    path.write_text(json.dumps(_results([_point("msc_meta-REML", 1000, 0.01)])), "utf-8")
    scaling.main(["--plot-only", "--json", str(path), "--figure", str(fig)])
    assert fig.read_bytes()[:8] == PNG_MAGIC
    assert "| 1,000 | 0.01 |" in capsys.readouterr().out
