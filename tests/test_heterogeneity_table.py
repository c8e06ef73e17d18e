"""Heterogeneity side by side (heterogeneity_table) and in words (describe_heterogeneity).

The bands are those of the Cochrane Handbook, section 10.10.2 (Deeks, Higgins & Altman):
0-40% might not be important, 30-60% moderate, 50-90% substantial, 75-100% considerable.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import math
from pathlib import Path

import pytest

import msc_meta as mm
import msc_meta.heterogeneity as het
import msc_meta.heterogeneity_display as display
from msc_meta.analyses import ANALYSES, run_analysis
from msc_meta.heterogeneity_display import (
    HETEROGENEITY_COLUMNS,
    I2_BANDS,
    HeterogeneityTable,
    describe_heterogeneity,
    display_scale,
    heterogeneity_table,
    i2_band,
)


@pytest.fixture(scope="module")
def single(bcg_rr: mm.EffectSizes) -> mm.MetaAnalysisResult:
    with pytest.warns(mm.FewStudiesWarning, match="k = 1"):
        return mm.meta_analysis(bcg_rr.iloc[:1], method="REML")


@pytest.fixture(scope="module")
def msc_results() -> dict[str, mm.analyses.AnalysisResult]:
    out = {}
    for name in ANALYSES:
        # every pre-specified analysis has k < 5 and says so
        with pytest.warns(mm.FewStudiesWarning):
            out[name] = run_analysis(name)
    return out


def _with_i2(res: mm.MetaAnalysisResult, i2: float, lo: float, hi: float, k: int | None = None):
    return dataclasses.replace(res, i2=i2, i2_ci=(lo, hi), k=res.k if k is None else k)


# --------------------------------------------------------------------------- the table


def test_table_copies_every_number_from_the_results(bcg_reml: mm.MetaAnalysisResult) -> None:
    dl = mm.meta_analysis(bcg_reml.effect, bcg_reml.variance, method="DL", measure="RR")
    table = heterogeneity_table({"REML": bcg_reml, "DL": dl})
    assert isinstance(table, HeterogeneityTable)
    frame = table.frame
    assert tuple(frame.columns) == HETEROGENEITY_COLUMNS
    assert list(frame["analysis"]) == ["REML", "DL"]
    for row, res in zip(frame.to_dict("records"), (bcg_reml, dl), strict=True):
        assert row["k"] == res.k == 13
        assert row["estimate"] == res.estimate
        assert (row["ci_low"], row["ci_high"]) == (res.ci_low, res.ci_high)
        assert (row["pi_low"], row["pi_high"]) == (res.pi_low, res.pi_high)
        assert row["tau2"] == res.tau2
        assert (row["tau2_ci_low"], row["tau2_ci_high"]) == res.tau2_ci
        assert row["tau"] == res.tau
        assert row["i2"] == res.i2
        assert (row["i2_ci_low"], row["i2_ci_high"]) == res.i2_ci
        assert row["h2"] == res.h2
        assert (row["h2_ci_low"], row["h2_ci_high"]) == res.h2_ci
        assert (row["q"], row["df"], row["p"]) == (res.q, res.q_df, res.q_pvalue)
        assert (row["method"], row["test"], row["level"]) == (res.method, res.test, res.level)
        assert row["estimable"]
        assert row["interpretation"] == describe_heterogeneity(res)
    # the display scale is the result's own back-transform (risk ratios here)
    row = frame.iloc[0]
    assert row["scale"] == "risk ratio"
    assert row["estimate_display"] == pytest.approx(math.exp(bcg_reml.estimate), rel=1e-15)
    assert row["ci_low_display"] == pytest.approx(math.exp(bcg_reml.ci_low), rel=1e-15)
    assert row["pi_high_display"] == pytest.approx(math.exp(bcg_reml.pi_high), rel=1e-15)
    # published BCG values (metafor: I^2 = 92.22%, tau^2 = 0.3132)
    assert row["i2"] == pytest.approx(92.22, abs=0.005)
    assert row["tau2"] == pytest.approx(0.3132, abs=5e-5)


def test_to_frame_is_a_copy(bcg_reml: mm.MetaAnalysisResult) -> None:
    table = heterogeneity_table({"bcg": bcg_reml})
    copy = table.to_frame()
    copy.loc[0, "i2"] = -1.0
    assert table.frame.loc[0, "i2"] == bcg_reml.i2


def test_sequence_names_analysis_results_by_spec_and_bare_results_by_position(
    bcg_reml: mm.MetaAnalysisResult, msc_results: dict[str, mm.analyses.AnalysisResult]
) -> None:
    first = msc_results["acr20_msc_single_group_w4"]
    table = heterogeneity_table([first, bcg_reml])
    assert list(table.frame["analysis"]) == ["acr20_msc_single_group_w4", "analysis 2"]
    assert table.frame.loc[0, "i2"] == first.result.i2


def test_every_msc_analysis_in_one_table(
    msc_results: dict[str, mm.analyses.AnalysisResult],
) -> None:
    table = heterogeneity_table(msc_results)
    frame = table.frame.set_index("analysis")
    assert list(frame.index) == list(ANALYSES)
    for name, res in msc_results.items():
        r = res.result
        assert frame.loc[name, "k"] == r.k
        assert frame.loc[name, "estimate_display"] == pytest.approx(
            float(r.transform(r.estimate)), rel=1e-15
        )
        assert bool(frame.loc[name, "estimable"]) is (r.k >= 2)
    # the proportion analyses are shown as proportions, the IFN-gamma ACR20 one as a risk ratio
    assert frame.loc["acr20_msc_single_group_w4", "scale"] == "proportion"
    assert frame.loc["acr20_ifng_addon_w12", "estimate_display"] == pytest.approx(1.75)
    assert frame.loc["das28_change_ifng_addon_w12", "scale"] == "raw mean difference"


def test_single_study_keeps_the_result_values_but_displays_na(
    single: mm.MetaAnalysisResult,
) -> None:
    table = heterogeneity_table({"one": single})
    row = table.frame.iloc[0]
    # the frame keeps what the result holds (conventions for k = 1) ...
    assert (row["tau2"], row["i2"], row["h2"], row["q"], row["df"]) == (0.0, 0.0, 1.0, 0.0, 0)
    assert not row["estimable"]
    assert "single study" in row["interpretation"]
    # ... the displays do not present them as estimates
    shown = table.display_frame().iloc[0]
    assert shown["I² (%)"] == "n/a" and shown["tau²"] == "n/a" and shown["Q (df, p)"] == "n/a"
    assert "n/a" in str(table)


def test_text_and_html_displays(bcg_reml: mm.MetaAnalysisResult) -> None:
    table = heterogeneity_table({"BCG (REML)": bcg_reml})
    text = str(table)
    assert "BCG (REML)" in text and "92.2 [81.9, 97.7]" in text and "considerable" in text
    page = table._repr_html_()
    assert page.startswith("<table") and "BCG (REML)" in page and "considerable" in page
    assert repr(table) == "<HeterogeneityTable: 1 analyses>"
    assert "0.49 [0.34, 0.70]" in text  # the risk ratio on the display scale


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({}, "empty"),
        ([], "empty"),
        ({"a": 1.0}, r"results\['a'\] is a float"),
        ([object()], r"results\[0\] is a object"),
        ("REML", "expected a mapping"),
        ({1: None}, "not a string"),
    ],
)
def test_bad_input_is_named(bad: object, match: str) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=match):
        heterogeneity_table(bad)  # type: ignore[arg-type]


def test_duplicate_names_are_refused(
    msc_results: dict[str, mm.analyses.AnalysisResult],
) -> None:
    res = msc_results["acr20_ifng_addon_w12"]
    with pytest.raises(mm.MetaAnalysisError, match="duplicate analysis names: acr20_ifng_addon"):
        heterogeneity_table([res, res])


# --------------------------------------------------------------------------- in words


def test_bcg_is_considerable(bcg_reml: mm.MetaAnalysisResult) -> None:
    assert describe_heterogeneity(bcg_reml) == "I² = 92% [82%, 98%]: considerable (k = 13)."


def test_single_study_cannot_be_assessed(single: mm.MetaAnalysisResult) -> None:
    text = describe_heterogeneity(single)
    assert text == "Heterogeneity cannot be assessed with a single study (k = 1)."


def test_accepts_an_analysis_result(msc_results: dict[str, mm.analyses.AnalysisResult]) -> None:
    res = msc_results["das28_change_msc_single_group_w4"]
    assert describe_heterogeneity(res) == describe_heterogeneity(res.result)
    # k = 2: the Q-profile interval runs from 0% to ~100%
    assert describe_heterogeneity(res) == (
        "I² = 65% [0%, 100%]: substantial, with wide uncertainty at k = 2."
    )


def test_brief_example_wide_at_k5(bcg_reml: mm.MetaAnalysisResult) -> None:
    res = _with_i2(bcg_reml, 62.0, 12.0, 84.0, k=5)
    assert describe_heterogeneity(res) == (
        "I² = 62% [12%, 84%]: substantial, with wide uncertainty at k = 5."
    )


def test_narrow_interval_with_few_studies_still_says_k_is_small(
    bcg_reml: mm.MetaAnalysisResult,
) -> None:
    res = _with_i2(bcg_reml, 96.0, 90.0, 99.0, k=3)
    assert (
        describe_heterogeneity(res)
        == "I² = 96% [90%, 99%]: considerable, from only k = 3 studies."
    )


def test_missing_interval_is_said(bcg_reml: mm.MetaAnalysisResult) -> None:
    res = _with_i2(bcg_reml, 50.0, math.nan, math.nan)
    assert describe_heterogeneity(res).endswith("with no interval available at k = 13.")


@pytest.mark.parametrize(
    ("i2", "words"),
    [
        (0.0, "might not be important"),
        (29.9, "might not be important"),
        (30.0, "might not be important to moderate"),
        (40.0, "might not be important to moderate"),
        (45.0, "moderate"),
        (55.0, "moderate to substantial"),
        (62.0, "substantial"),
        (80.0, "substantial to considerable"),
        (90.0, "substantial to considerable"),
        (95.0, "considerable"),
        (100.0, "considerable"),
    ],
)
def test_cochrane_bands(i2: float, words: str) -> None:
    assert i2_band(i2) == words


def test_bands_cover_0_to_100_without_gaps() -> None:
    assert I2_BANDS[0][0] == 0.0 and I2_BANDS[-1][1] == 100.0
    for (_, high, _), (low, _, _) in itertools.pairwise(I2_BANDS):
        assert low <= high  # consecutive bands overlap, as in the Handbook


@pytest.mark.parametrize("bad", [-1.0, 100.5, math.nan, "50"])
def test_band_of_a_non_percentage_is_refused(bad: object) -> None:
    with pytest.raises(mm.MetaAnalysisError, match="not a percentage"):
        i2_band(bad)  # type: ignore[arg-type]


def test_describe_refuses_other_objects() -> None:
    with pytest.raises(mm.MetaAnalysisError, match="expected a MetaAnalysisResult"):
        describe_heterogeneity(0.5)


def test_display_scale_names() -> None:
    assert display_scale("OR") == "odds ratio"
    assert display_scale("PLO") == "proportion"
    assert display_scale("MD") == "raw mean difference"
    assert display_scale(None) == "effect"
    assert display_scale("unknown") == "effect"


def test_the_numbers_module_does_not_import_the_display_module() -> None:
    # heterogeneity.py is the lower layer: the display module imports it, never the reverse
    tree = ast.parse(Path(het.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert not any("display" in m or m in {"results", "report"} for m in imported)


def test_display_names_are_exported_from_the_package() -> None:
    assert mm.heterogeneity_table is display.heterogeneity_table
    assert mm.describe_heterogeneity is display.describe_heterogeneity
    assert mm.HeterogeneityTable is display.HeterogeneityTable
    assert not hasattr(het, "heterogeneity_table")  # the numbers module holds no display code


def test_display_frame_formats_through_the_shared_helpers(
    bcg_reml: mm.MetaAnalysisResult,
) -> None:
    frame = heterogeneity_table({"bcg": bcg_reml}).to_frame()
    frame.loc[0, ["p", "pi_high_display", "estimate_display"]] = [math.nan, math.inf, -0.001]
    shown = mm.HeterogeneityTable(frame).display_frame().iloc[0]
    assert shown["Q (df, p)"].endswith("(12, p NA)")  # a missing p-value reads "p NA"
    assert shown["prediction interval"].endswith(", inf]")  # an infinite bound is not missing
    assert shown["estimate"].startswith("0.00 [")  # no "-0.00"
