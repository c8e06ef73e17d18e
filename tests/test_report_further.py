"""The second half of each analysis in the report: sensitivity, small-study and moderator analyses.

The decision (run or not, and why) is made in ``running.further_analyses``; the report
writes the tables and figures of those that ran and the page lists each one's result or
reason. The bundled MSC-RA analyses all have k <= 2, so nothing runs there; the run path
is checked on an analysis built around the BCG trials (k = 13).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta import _report_page, report, running
from msc_meta._errors import MetaAnalysisError
from msc_meta.analyses import ANALYSES, AnalysisInput, AnalysisResult
from msc_meta.bias import MIN_STUDIES, RankTest, RegressionTest, TrimAndFill
from msc_meta.datasets import load_msc_ra
from msc_meta.records import TrialRecords
from msc_meta.running import (
    FURTHER_ANALYSES,
    MIN_K_FUNNEL,
    NO_MODERATORS,
    ReportEntry,
    further_analyses,
    run_all,
)
from msc_meta.sensitivity import LOO_MIN_K, InfluenceResult

KEYS = [key for key, _, _ in FURTHER_ANALYSES]


@pytest.fixture(scope="module")
def records() -> TrialRecords:
    return load_msc_ra()


@pytest.fixture(scope="module")
def bcg_entry(bcg: pd.DataFrame, records: TrialRecords) -> ReportEntry:
    """A two-group RR analysis of the spec ``acr20_msc_vs_control_w4`` on the BCG trials."""
    spec = ANALYSES["acr20_msc_vs_control_w4"]
    frame = pd.DataFrame(
        {
            "study": bcg["study"],
            "study_id": [f"bcg{t}" for t in bcg["trial"]],
            "design": "rct",
            "timepoint_weeks": 4.0,
            "events_t": bcg["tpos"],
            "n_t": bcg["n_t"],
            "events_c": bcg["cpos"],
            "n_c": bcg["n_c"],
            "conversions": "none",
            "source_rows": "",
        }
    )
    excluded = pd.DataFrame({"study_id": [], "reason": []})
    es = mm.effect_sizes(
        "RR", data=frame, events_t="events_t", n_t="n_t", events_c="events_c", n_c="n_c",
        labels="study",
    )  # fmt: skip
    res = mm.meta_analysis(es, method=spec.method, test=spec.test)
    analysis = AnalysisResult(spec, AnalysisInput(spec, frame, excluded), es, res)
    return ReportEntry(spec=spec, analysis=analysis, further=further_analyses(res))


# --------------------------------------------------------------------------- the decision


def test_bundled_analyses_run_none_and_say_why() -> None:
    """Every bundled analysis has k <= 2: each further analysis is listed, none runs."""
    entries = run_all()
    assert all(e.ok for e in entries)
    for e in entries:
        assert e.result is not None and e.result.k < LOO_MIN_K
        assert [f.key for f in e.further] == KEYS
        assert not any(f.ran for f in e.further)
        k = e.result.k
        reasons = {f.key: f.reason for f in e.further}
        assert reasons["leave_one_out"] == f"k = {k}, it needs at least {LOO_MIN_K} studies"
        assert reasons["egger"] == f"k = {k}, it needs at least {MIN_STUDIES} studies"
        assert reasons["meta_regression"] == NO_MODERATORS
        assert str(e.further[0]) == f"Leave-one-out: not run; k = {k}, it needs at least 3 studies"


def test_thresholds_are_the_libraries_own() -> None:
    assert MIN_K_FUNNEL == MIN_STUDIES
    assert dict((key, k) for key, _, k in FURTHER_ANALYSES) == {
        "leave_one_out": LOO_MIN_K,
        "influence": LOO_MIN_K,
        "egger": MIN_STUDIES,
        "begg": MIN_STUDIES,
        "trim_and_fill": MIN_STUDIES,
        "meta_regression": None,
    }


def test_each_runs_from_its_threshold(bcg_reml: mm.MetaAnalysisResult) -> None:
    """Just below a threshold an analysis does not run; at it, it does (without warnings)."""
    below = bcg_reml.subset(np.arange(LOO_MIN_K - 1))
    at = bcg_reml.subset(np.arange(LOO_MIN_K))
    assert not further_analyses(below)[0].ran
    ran = {f.key: f.ran for f in further_analyses(at)}
    assert ran == dict.fromkeys(KEYS, False) | {"leave_one_out": True, "influence": True}
    small = bcg_reml.subset(np.arange(MIN_STUDIES - 1))
    assert {f.key for f in further_analyses(small) if f.ran} == {"leave_one_out", "influence"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = further_analyses(bcg_reml.subset(np.arange(MIN_STUDIES)))
    assert [f.key for f in full if not f.ran] == ["meta_regression"]
    assert further_analyses(None) == ()


def test_results_are_the_library_results(bcg_entry: ReportEntry) -> None:
    r = bcg_entry.result
    assert r is not None
    loo = bcg_entry.further_result("leave_one_out")
    pd.testing.assert_frame_equal(loo, r.leave_one_out())
    assert isinstance(bcg_entry.further_result("influence"), InfluenceResult)
    egger = bcg_entry.further_result("egger")
    assert isinstance(egger, RegressionTest)
    assert egger.statistic == r.egger_test().statistic and egger.test == r.test
    assert isinstance(bcg_entry.further_result("begg"), RankTest)
    tf = bcg_entry.further_result("trim_and_fill")
    assert isinstance(tf, TrimAndFill) and tf.k0 == r.trim_and_fill().k0
    assert bcg_entry.further_result("meta_regression") is None


def test_an_analysis_that_raises_is_not_run_with_its_error(
    monkeypatch: pytest.MonkeyPatch, bcg_reml: mm.MetaAnalysisResult
) -> None:
    real = running._run_further

    def failing(key: str, result: mm.MetaAnalysisResult) -> object:
        if key == "egger":
            raise MetaAnalysisError("the predictor is constant")
        return real(key, result)

    monkeypatch.setattr(running, "_run_further", failing)
    egger = {f.key: f for f in further_analyses(bcg_reml)}["egger"]
    assert not egger.ran and egger.result is None
    assert egger.reason == "it could not be computed: the predictor is constant"


# --------------------------------------------------------------------------- the page


def test_page_says_what_was_not_run_and_why(tmp_path: Path) -> None:
    page = report.build_report(tmp_path, analyses=["acr20_msc_single_group_w4"], formats="png")
    html = page.read_text(encoding="utf-8")
    assert "<h4>Sensitivity and small-study analyses</h4>" in html
    for text in (
        "Leave-one-out: not run; k = 2, it needs at least 3 studies",
        "Influence diagnostics: not run; k = 2, it needs at least 3 studies",
        "Egger&#39;s regression test: not run; k = 2, it needs at least 10 studies",
        "Begg&#39;s rank correlation test: not run; k = 2, it needs at least 10 studies",
        "Trim-and-fill: not run; k = 2, it needs at least 10 studies",
        f"Meta-regression: not run; {NO_MODERATORS}",
        "<strong>Sensitivity and small-study analyses.</strong> Not run",
    ):
        assert text in html, text
    # nothing ran, so no further tables or figures
    names = sorted(p.name for p in tmp_path.rglob("*.*"))
    assert not [n for n in names if re.search("leave_one_out|influence|small_study|trim", n)]


def test_run_path_writes_and_shows_tables_and_figures(
    tmp_path: Path, bcg_entry: ReportEntry, records: TrialRecords
) -> None:
    writer = report._Writer(tmp_path.resolve())
    built = report._build_one(bcg_entry, records, writer, ("png",))
    assert [f.kind for f in built.figures] == ["forest", "leave_one_out", "funnel"]
    assert built.figure_problems == []
    name = bcg_entry.name
    assert built.tables == {
        "effect sizes": f"tables/{name}_effect_sizes.csv",
        "studies not contributing": f"tables/{name}_not_contributing.csv",
        "leave-one-out": f"tables/{name}_leave_one_out.csv",
        "influence diagnostics": f"tables/{name}_influence.csv",
        "small-study tests": f"tables/{name}_small_study_tests.csv",
        "trim-and-fill studies": f"tables/{name}_trim_and_fill.csv",
    }
    for rel in [*built.tables.values(), *(p for f in built.figures for p in f.files.values())]:
        assert (tmp_path / rel).is_file(), rel
    # the files are listed for the manifest like the others
    assert {p.relative_to(tmp_path.resolve()).as_posix() for p in writer.written} >= set(
        built.tables.values()
    )
    r = bcg_entry.result
    assert r is not None
    loo = pd.read_csv(tmp_path / built.tables["leave-one-out"])
    assert list(loo["study"]) == list(r.labels)
    np.testing.assert_allclose(loo["estimate"], r.leave_one_out()["estimate"], rtol=1e-12)
    np.testing.assert_allclose(loo["estimate_display"], np.exp(loo["estimate"]), rtol=1e-12)
    tests = pd.read_csv(tmp_path / built.tables["small-study tests"])
    assert [t.split(" ")[0] for t in tests["test"]] == ["Egger", "Begg", "Trim-and-fill"]
    assert tests["statistic"][0] == pytest.approx(r.egger_test().statistic, rel=1e-12)
    tf = r.trim_and_fill()
    filled = pd.read_csv(tmp_path / built.tables["trim-and-fill studies"])
    assert int(filled["filled"].sum()) == tf.k0 == int(tests["k0"][2])

    html = _report_page.analysis_html(built, records)
    assert "Leave-one-out forest plot: the pooled estimate" in html
    assert "Leave-one-out: run; without each study in turn the estimate" in html
    assert "Influence diagnostics: run; studies influential by metafor&#39;s rule:" in html
    assert re.search(r"Egger&#39;s regression test: run; t\(11\) = ", html)
    assert "Begg&#39;s rank correlation test: run; Kendall&#39;s τ = " in html
    missing = "1 study" if tf.k0 == 1 else f"{tf.k0} studies"
    assert f"Trim-and-fill: run (L0); {missing} estimated missing on the {tf.side}" in html
    assert f"Meta-regression: not run; {NO_MODERATORS}" in html
    assert "Open markers: the studies trim-and-fill adds." in html
    for label in built.tables:
        assert f">{label}</a>" in html
