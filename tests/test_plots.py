"""Plots: what is drawn (rows, diamonds, axes, texts), the data behind each plot checked
against metafor, files that save cleanly, and images compared with committed baselines.

Baselines live in ``tests/baseline/*.png`` (100 dpi, DejaVu Sans); regenerate them with
``MSC_META_UPDATE_BASELINES=1 python -m pytest tests/test_plots.py`` and look at them before
committing.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.compare import compare_images
from matplotlib.text import Text

import msc_meta as mm
import msc_meta.plots.forest as forest_module
from msc_meta.plots import (
    ForestData,
    baujat_data,
    baujat_plot,
    cumulative_forest_plot,
    forest_data,
    forest_plot,
    funnel_data,
    funnel_plot,
    galbraith_data,
    galbraith_plot,
    influence_plot,
    labbe_data,
    labbe_plot,
    leave_one_out_plot,
)

BASELINE_DIR = Path(__file__).parent / "baseline"
UPDATE_BASELINES = os.environ.get("MSC_META_UPDATE_BASELINES") == "1"
#: RMS difference (0-255 scale) allowed against a baseline image. Text is rendered by the
#: FreeType bundled with matplotlib, so identical versions give identical pixels; the slack
#: absorbs anti-aliasing changes between matplotlib releases, while a moved column, a missing
#: row or a different axis gives an RMS far above it.
IMAGE_TOL = 3.0
#: Fixed font for images: ships with matplotlib, so it is available everywhere.
RC = {"font.family": "DejaVu Sans", "font.size": 10.0, "savefig.dpi": 100}
#: Closed-form quantities (EE, DL, MH, Peto) against metafor printed with 12 digits.
TOL_CLOSED = 1e-9
#: REML results: metafor stops at its default threshold 1e-5 on tau^2, msc_meta at 1e-10.
TOL_REML = 1e-5
#: Positions of drawn artists go through float32 paths and transforms.
TOL_DRAWN = 1e-9


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def es(bcg_rr: mm.EffectSizes) -> mm.EffectSizes:
    return bcg_rr


@pytest.fixture(scope="module")
def res(bcg_reml: mm.MetaAnalysisResult) -> mm.MetaAnalysisResult:
    return bcg_reml


@pytest.fixture(scope="module")
def sub(bcg_sub: mm.SubgroupResult) -> mm.SubgroupResult:
    return bcg_sub


@pytest.fixture(scope="module")
def mh(bcg: pd.DataFrame) -> mm.BinaryPooledResult:
    return mm.mantel_haenszel(
        "OR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c", labels="study"
    )


@pytest.fixture(scope="module")
def md_res() -> mm.MetaAnalysisResult:
    es = mm.effect_sizes(
        "MD",
        mean_t=[10.7, 11.6, 10.7, 7.4, 11.8],
        sd_t=[3.7, 2.8, 3.1, 2.1, 3.5],
        n_t=[50, 26, 32, 49, 16],
        mean_c=[13.2, 12.1, 11.4, 10.4, 11.5],
        sd_c=[2.6, 3.0, 4.0, 3.9, 3.4],
        n_c=[56, 23, 46, 18, 26],
        labels=["Trial A", "Trial B", "Trial C", "Trial D", "Trial E"],
    )
    return mm.meta_analysis(es, method="REML")


#: gids of the text lines that span the columns (heterogeneity, tests)
SPANNING = ("forest-heterogeneity", "forest-test", "forest-subgroup_test")


def _by_gid(ax: Any, gid: str) -> list[Any]:
    return [a for a in ax.figure.findobj() if a.get_gid() == gid]


def _texts(ax: Any, gid: str) -> list[str]:
    return [a.get_text() for a in _by_gid(ax, gid) if isinstance(a, Text)]


# --------------------------------------------------------------------------- forest: data


def test_forest_data_bcg_rows_and_texts(res: mm.MetaAnalysisResult) -> None:
    fd = forest_data(res)
    assert isinstance(fd, ForestData)
    studies = fd.studies
    assert len(studies) == 13
    assert studies["label"].tolist() == list(res.labels)
    aronson = studies.iloc[0]
    assert (aronson["arm_t"], aronson["arm_c"]) == ("4/123", "11/139")
    assert aronson["effect_text"] == "0.41 [0.13; 1.26]"
    # display scale: exponentiated study effects and Wald intervals
    se = np.sqrt(res.variance)
    assert studies["estimate"].to_numpy() == pytest.approx(np.exp(res.effect), rel=1e-12)
    assert studies["ci_low"].to_numpy() == pytest.approx(
        np.exp(res.effect - 1.959963984540054 * se)
    )
    assert studies["weight"].sum() == pytest.approx(100.0)
    assert studies["weight_text"].iloc[0] == "5.1%"
    kinds = fd.rows["kind"].tolist()
    assert kinds[13:] == ["pooled_re", "prediction", "heterogeneity", "test"]
    pooled = fd.rows[fd.rows["kind"] == "pooled_re"].iloc[0]
    assert (pooled["estimate"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        tuple(np.exp([res.estimate, res.ci_low, res.ci_high]))
    )
    assert (pooled["arm_t"], pooled["arm_c"]) == ("1065/191064", "1510/166283")
    assert pooled["effect_text"] == "0.49 [0.34; 0.70]"
    het = fd.rows.loc[fd.rows["kind"] == "heterogeneity", "label"].item()
    # metafor: tau^2 0.3132 [0.1197, 1.1115], I^2 92.22% [81.92, 97.68], Q(df = 12) = 152.2330
    assert het == (
        "Heterogeneity: τ² = 0.31 [0.12; 1.11]; I² = 92% [82%; 98%]; "
        "Q = 152.23, df = 12 (p < 0.001)"
    )
    test = fd.rows.loc[fd.rows["kind"] == "test", "label"].item()
    assert test == "Test for overall effect: z = \u22123.97 (p < 0.001)"
    pi = fd.rows[fd.rows["kind"] == "prediction"].iloc[0]
    # metafor predict(res, transf = exp): pi.lb 0.1546, pi.ub 1.5490
    assert (round(pi["ci_low"], 4), round(pi["ci_high"], 4)) == (0.1546, 1.5490)
    assert fd.log_scale and fd.null_value == 1.0 and fd.effect_label == "Risk ratio"
    assert fd.xlim[0] <= studies["ci_low"].min() and fd.xlim[1] >= studies["ci_high"].max()
    assert [c.key for c in fd.columns] == [
        "label", "arm_t", "arm_c", "estimate_text", "ci_text", "weight_text",
    ]  # fmt: skip


@pytest.mark.slow
def test_forest_data_needs_no_matplotlib(tmp_path: Path) -> None:
    """Preparing a forest plot (ArviZ style: data apart from drawing) loads no matplotlib."""
    code = (
        "import sys, msc_meta as mm; import msc_meta.plots as p\n"
        "es = mm.effect_sizes('OR', events_t=[4, 6], n_t=[123, 306], events_c=[11, 29], "
        "n_c=[139, 303])\n"
        "fd = p.forest_data(mm.meta_analysis(es)); p.funnel_data(mm.meta_analysis(es))\n"
        "print('matplotlib' in sys.modules, len(fd.studies))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "2"]


def test_forest_t_test_line_and_common_effect(es: mm.EffectSizes) -> None:
    r = mm.meta_analysis(es, method="DL", test="knha")
    fd = forest_data(r, common=True)
    tests = fd.rows.loc[fd.rows["kind"] == "test", "label"].tolist()
    assert tests[0].startswith("Test for overall effect (common effect): z = ")
    assert tests[1] == (
        f"Test for overall effect (random effects): t = \u2212{abs(r.statistic):.2f}, "
        f"df = 12 (p = {r.pvalue:.3f})"
    )
    ce = fd.rows[fd.rows["kind"] == "pooled_ce"].iloc[0]
    assert ce["estimate"] == pytest.approx(math.exp(r.ce_estimate))
    assert (ce["ci_low"], ce["ci_high"]) == pytest.approx(
        (math.exp(r.ce_ci_low), math.exp(r.ce_ci_high))
    )


def test_forest_common_effect_and_binary_results_have_no_prediction(
    es: mm.EffectSizes, mh: mm.BinaryPooledResult
) -> None:
    ee = forest_data(mm.meta_analysis(es, method="EE"))
    assert "prediction" not in set(ee.rows["kind"]) and "pooled_re" not in set(ee.rows["kind"])
    assert (
        ee.rows.loc[ee.rows["kind"] == "heterogeneity", "label"]
        .item()
        .startswith("Heterogeneity: I² = 92%")
    )
    fd = forest_data(mh)
    pooled = fd.rows[fd.rows["kind"] == "pooled_ce"].iloc[0]
    assert pooled["label"] == "Common-effect model (Mantel-Haenszel)"
    assert pooled["estimate"] == pytest.approx(math.exp(mh.estimate))
    assert fd.studies["arm_t"].iloc[0] == "4/123" and fd.effect_label == "Odds ratio"
    assert "prediction" not in set(fd.rows["kind"])


def test_forest_prediction_on_request(es: mm.EffectSizes) -> None:
    two = mm.meta_analysis(es["effect"][:2], es["variance"][:2])
    assert "prediction" in set(forest_data(two).rows["kind"])  # from k = 2, as the tables
    assert "prediction" not in set(forest_data(two, prediction=False).rows["kind"])
    assert "prediction" not in set(
        forest_data(mm.meta_analysis(es), prediction=False).rows["kind"]
    )


def test_forest_means_arm_columns_and_linear_axis(md_res: mm.MetaAnalysisResult) -> None:
    fd = forest_data(md_res, arm_labels=("MSC", "Placebo"))
    row = fd.studies.iloc[0]
    assert (row["arm_t"], row["n_t"], row["arm_c"], row["n_c"]) == (
        "10.70 (3.70)", "50", "13.20 (2.60)", "56",
    )  # fmt: skip
    pooled = fd.rows[fd.rows["kind"] == "pooled_re"].iloc[0]
    assert (pooled["n_t"], pooled["n_c"], pooled["arm_t"]) == ("173", "169", "")
    assert not fd.log_scale and fd.null_value == 0.0
    assert row["estimate"] == pytest.approx(md_res.effect[0])
    assert {c.group for c in fd.columns} == {"", "MSC", "Placebo"}
    assert row["estimate_text"] == "\u22122.50"


def test_forest_single_group_proportions_are_back_transformed() -> None:
    es = mm.effect_sizes("PLO", events=[3, 10, 25, 7], n=[20, 40, 60, 30], labels=list("ABCD"))
    r = mm.meta_analysis(es)
    fd = forest_data(r)
    assert fd.null_value is None and not fd.log_scale and fd.effect_label == "Proportion"
    assert "test" not in set(fd.rows["kind"])  # no test against logit 0
    assert fd.studies["estimate"].to_numpy() == pytest.approx([3 / 20, 10 / 40, 25 / 60, 7 / 30])
    assert fd.studies["arm"].tolist() == ["3/20", "10/40", "25/60", "7/30"]
    assert fd.xlim[0] >= 0.0 and fd.xlim[1] <= 1.0
    assert forest_data(r, null=0.5).null_value == 0.5
    assert forest_data(r, back_transform=False).studies["estimate"].tolist() == pytest.approx(
        list(r.effect)
    )
    ax = forest_plot(r)
    assert _by_gid(ax, "forest-null") == []  # no line of no effect for one group


def test_forest_correlations_are_tanh_back_transformed() -> None:
    es = mm.effect_sizes("ZCOR", r=[0.2, 0.5, 0.35], n=[40, 80, 60])
    fd = forest_data(mm.meta_analysis(es))
    assert fd.studies["estimate"].to_numpy() == pytest.approx([0.2, 0.5, 0.35])
    assert fd.null_value == 0.0 and fd.studies["n"].tolist() == ["40", "80", "60"]


def test_forest_without_arm_data_has_no_arm_columns(res: mm.MetaAnalysisResult) -> None:
    plain = mm.meta_analysis(res.effect, res.variance, labels=res.labels)
    keys = [c.key for c in forest_data(plain).columns]
    assert keys == ["label", "estimate_text", "ci_text", "weight_text"]
    assert [c.key for c in forest_data(res, show_arms=False).columns] == keys


def test_forest_edge_cases_one_study_double_zero_and_pft_without_sizes() -> None:
    with pytest.warns(mm.FewStudiesWarning):
        one = mm.meta_analysis([0.3], [0.04], labels=["Solo 2020"])
    fd = forest_data(one, prediction=True)
    assert "prediction" not in set(fd.rows["kind"])  # no prediction interval from one study
    het = fd.rows.loc[fd.rows["kind"] == "heterogeneity", "label"].item()
    assert het == "Heterogeneity: not applicable (k = 1)"
    forest_plot(one)
    with pytest.warns(mm.ZeroCellWarning):
        mh = mm.mantel_haenszel(
            "RR", events_t=[0, 3, 10], n_t=[20, 30, 40], events_c=[0, 8, 15], n_c=[20, 31, 38]
        )
    study = forest_data(mh).studies.iloc[0]
    assert (study["ci_text"], study["arm_t"], study["weight_text"]) == (
        "not estimable", "0/20", "0.0%",
    )  # fmt: skip
    assert len(_by_gid(forest_plot(mh), "forest-squares")[0].get_offsets()) == 2
    pft = mm.effect_sizes("PFT", events=[2, 5, 12], n=[15, 40, 50])
    with_n = forest_data(mm.meta_analysis(pft))
    assert with_n.studies["estimate"].to_numpy() == pytest.approx([2 / 15, 5 / 40, 12 / 50])
    bare = forest_data(mm.meta_analysis(pft["effect"], pft["variance"], measure="PFT"))
    assert bare.effect_label == "Freeman-Tukey double-arcsine proportion"
    assert bare.studies["estimate"].to_numpy() == pytest.approx(pft["effect"].to_numpy())


# --------------------------------------------------------------------------- forest: sorting


def test_forest_sort_by_effect_weight_year_and_column(
    res: mm.MetaAnalysisResult, bcg: pd.DataFrame
) -> None:
    est = forest_data(res, sort_by="effect").studies["estimate"].to_numpy()
    assert np.all(np.diff(est) >= 0)
    w = forest_data(res, sort_by="weight", descending=True).studies["weight"].to_numpy()
    assert np.all(np.diff(w) <= 0)
    years = forest_data(res, sort_by="year", data=bcg).studies["label"].str[-4:].astype(int)
    assert years.is_monotonic_increasing
    # year read from the labels when data has none
    assert forest_data(res, sort_by="year").studies["label"].tolist() == (
        forest_data(res, sort_by="year", data=bcg).studies["label"].tolist()
    )
    lat = forest_data(res, sort_by="ablat", data=bcg, columns={"ablat": "Latitude"})
    assert lat.studies["extra_ablat"].astype(int).is_monotonic_increasing
    assert lat.columns[1].header == "Latitude"
    assert lat.studies["y"].is_monotonic_increasing  # rows stay top to bottom


def test_forest_sort_errors(res: mm.MetaAnalysisResult, bcg: pd.DataFrame) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"sort_by='nope'.*ablat"):
        forest_data(res, sort_by="nope", data=bcg)
    with pytest.raises(mm.MetaAnalysisError, match="data has 12 rows but the result has 13"):
        forest_data(res, data=bcg.iloc[:12], columns=["year"])
    with pytest.raises(mm.MetaAnalysisError, match="'design' is not a column of data"):
        forest_data(res, data=bcg, columns=["design"])
    nolab = mm.meta_analysis(res.effect, res.variance)
    with pytest.raises(mm.MetaAnalysisError, match="no year in the label 'Study 1'"):
        forest_data(nolab, sort_by="year")
    with pytest.raises(mm.MetaAnalysisError, match="favours"):
        forest_data(res, favours="MSC")  # type: ignore[arg-type]
    with pytest.raises(mm.MetaAnalysisError, match="logarithmic"):
        forest_data(res, xlim=(0, 2))
    with pytest.raises(mm.MetaAnalysisError, match=r"give a MetaAnalysisResult"):
        forest_data("not a result")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- forest: drawing


def test_forest_plot_bcg_draws_rows_diamond_and_log_axis(res: mm.MetaAnalysisResult) -> None:
    ax = forest_plot(res)
    assert ax.get_xscale() == "log"
    assert _texts(ax, "forest-label")[:13] == list(res.labels)
    assert len(_texts(ax, "forest-label")) == 15  # + pooled and prediction rows
    squares = _by_gid(ax, "forest-squares")[0]
    assert len(squares.get_offsets()) == 13
    # square areas are proportional to the weights
    sizes = squares.get_sizes()
    assert sizes / sizes.max() == pytest.approx(res.weights / res.weights.max(), rel=1e-9)
    (diamond,) = _by_gid(ax, "forest-diamond-re")
    xy = diamond.get_xy()
    lo, est, hi = np.exp([res.ci_low, res.estimate, res.ci_high])
    assert xy[:4, 0] == pytest.approx([lo, est, hi, est], rel=TOL_DRAWN)
    assert xy[0, 1] == xy[2, 1] and xy[1, 1] < xy[0, 1] < xy[3, 1]
    (bar,) = _by_gid(ax, "forest-prediction")
    assert (bar.get_x(), bar.get_x() + bar.get_width()) == pytest.approx(
        tuple(np.exp([res.pi_low, res.pi_high]))
    )
    (null,) = _by_gid(ax, "forest-null")
    assert null.get_segments()[0][:, 0] == pytest.approx([1.0, 1.0])
    assert "4/123" in _texts(ax, "forest-arm_t") and "11/139" in _texts(ax, "forest-arm_c")
    assert _by_gid(ax, "forest-arrow") == []


def test_forest_plot_md_is_linear(md_res: mm.MetaAnalysisResult) -> None:
    ax = forest_plot(md_res)
    assert ax.get_xscale() == "linear"
    (null,) = _by_gid(ax, "forest-null")
    assert null.get_segments()[0][0, 0] == 0.0
    assert "Mean (SD)" in _texts(ax, "forest-header")


@pytest.mark.slow
def test_forest_plot_subgroups(sub: mm.SubgroupResult) -> None:
    fd = forest_data(sub)
    headers = fd.rows.loc[fd.rows["kind"] == "subgroup_header", "label"].tolist()
    assert headers == ["random", "alternate", "systematic"]
    assert (fd.rows["kind"] == "pooled_re").sum() == 4
    assert (fd.rows["kind"] == "heterogeneity").sum() == 4
    assert len(fd.studies) == 13
    for name, group in sub.groups.items():
        block = fd.rows[(fd.rows["group"] == name) & (fd.rows["kind"] == "pooled_re")].iloc[0]
        assert block["estimate"] == pytest.approx(math.exp(group.estimate))
        assert block["label"] == "Subtotal (random effects)"
        members = fd.studies[fd.studies["group"] == name]
        assert members["label"].tolist() == list(group.labels)
        # weights are those of the overall analysis (RevMan); the subtotal adds them up
        assert block["weight"] == pytest.approx(members["weight"].sum())
    last = fd.rows.iloc[-1]
    assert last["kind"] == "subgroup_test"
    # metafor: QE = 1.8614, p = 0.3943 (tests/test_moderators.py)
    assert last["label"] == "Test for subgroup differences: Q = 1.86, df = 2 (p = 0.394)"
    ax = forest_plot(sub)
    assert len(_by_gid(ax, "forest-diamond-re")) == 4
    assert len(_by_gid(ax, "forest-prediction")) == 1  # the overall one only
    assert _texts(ax, "forest-subgroup_test") == [last["label"]]
    assert sub.forest_plot().get_xscale() == "log"


def test_forest_plot_arrows_where_xlim_cuts_an_interval(mh: mm.BinaryPooledResult) -> None:
    fd = forest_data(mh, xlim=(0.2, 2))
    low = fd.studies[fd.studies["arrow_low"]]
    high = fd.studies[fd.studies["arrow_high"]]
    assert (low["ci_low"] < 0.2).all() and len(low) == 6
    assert high["label"].tolist() == ["Comstock & Webster 1969"]
    ax = forest_plot(mh, xlim=(0.2, 2))
    arrows = _by_gid(ax, "forest-arrow")
    assert sorted(a.get_marker() for a in arrows) == ["<", ">"]
    left = next(a for a in arrows if a.get_marker() == "<")
    assert left.get_xdata() == pytest.approx([0.2] * 6)
    segments = _by_gid(ax, "forest-ci")[0].get_segments()
    assert min(s[:, 0].min() for s in segments) == pytest.approx(0.2)
    assert max(s[:, 0].max() for s in segments) == pytest.approx(2.0)
    assert ax.get_xlim() == pytest.approx((0.2, 2.0))


@pytest.mark.slow
def test_forest_plot_favours_labels(res: mm.MetaAnalysisResult) -> None:
    ax = forest_plot(res, favours=("MSC", "control"))
    assert _texts(ax, "forest-direction") == ["← Favours MSC", "Favours control →"]
    assert ax.get_xlabel() == ""
    ax = forest_plot(res, favours=("Favours A", "B"))
    assert _texts(ax, "forest-direction") == ["← Favours A", "Favours B →"]
    assert _texts(forest_plot(res), "forest-direction") == []


def test_forest_plot_extra_columns_and_year_sort(
    res: mm.MetaAnalysisResult, bcg: pd.DataFrame
) -> None:
    ax = forest_plot(
        res, data=bcg, columns={"year": "Year", "alloc": "Allocation"}, sort_by="year"
    )
    years = _texts(ax, "forest-extra_year")
    assert years == sorted(years) and len(years) == 13
    assert "Allocation" in _texts(ax, "forest-header")


def test_forest_plot_on_given_axes_fits_in_its_place(res: mm.MetaAnalysisResult) -> None:
    fig, (_, right) = plt.subplots(1, 2, figsize=(14, 5))
    box = right.get_position()
    ax = forest_plot(res, ax=right)
    assert ax is right and len(fig.axes) == 2
    new = right.get_position()
    assert box.x0 < new.x0 and new.x1 < box.x1 and new.y1 < box.y1  # room for the columns
    # the columns fit beside the graph, inside the Axes' place (the font shrinks if need be)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    slot_x0, slot_x1 = box.x0 * fig.bbox.width, box.x1 * fig.bbox.width
    for text in ax.texts:
        if text.get_gid() in ("forest-heterogeneity", "forest-test"):
            continue
        extent = text.get_window_extent(renderer)
        assert slot_x0 - 1 <= extent.x0 and extent.x1 <= slot_x1 + 1, text.get_text()


@pytest.mark.slow
def test_forest_figure_grows_with_rows_and_font_shrinks() -> None:
    rng = np.random.default_rng(7)
    heights, sizes = [], []
    for k in (5, 40, 120):
        r = mm.meta_analysis(rng.normal(0, 0.3, k), rng.uniform(0.01, 0.1, k))
        ax = forest_plot(r)
        heights.append(ax.figure.get_figheight())
        sizes.append(_by_gid(ax, "forest-label")[0].get_fontsize())
    assert heights[0] < heights[1] < heights[2]
    assert sizes[0] == 9.0 and sizes[0] >= sizes[1] > sizes[2] >= 6.0


def test_forest_plot_leaves_rcparams_alone(res: mm.MetaAnalysisResult) -> None:
    before = dict(matplotlib.rcParams)
    forest_plot(res)
    funnel_plot(res)
    assert dict(matplotlib.rcParams) == before


def test_result_methods_delegate(res: mm.MetaAnalysisResult, mh: mm.BinaryPooledResult) -> None:
    assert res.forest_plot().get_xscale() == "log"
    assert mh.forest_plot(xlim=(0.1, 10)).get_xlim() == pytest.approx((0.1, 10))
    assert res.funnel_plot(contours=None).yaxis_inverted()
    assert mh.funnel_plot().get_xscale() == "log"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_forest_saves_cleanly(sub: mm.SubgroupResult, tmp_path: Path, fmt: str) -> None:
    ax = forest_plot(sub, favours=("vaccine", "control"))
    fig = ax.figure
    out = tmp_path / f"forest.{fmt}"
    fig.savefig(out, dpi=300, bbox_inches="tight")
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}[fmt]
    assert out.read_bytes().startswith(magic)
    # nothing is cut off: every text lies inside the figure drawn without a tight box
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    fig_box = fig.bbox
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        assert fig_box.x0 - 0.5 <= box.x0 and box.x1 <= fig_box.x1 + 0.5, text.get_text()
        assert fig_box.y0 - 0.5 <= box.y0 and box.y1 <= fig_box.y1 + 0.5, text.get_text()


def test_forest_text_columns_do_not_overlap(sub: mm.SubgroupResult) -> None:
    ax = forest_plot(sub, favours=("vaccine", "control"))
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    graph = ax.get_window_extent(renderer)
    by_row: dict[float, list[Any]] = {}
    for text in ax.texts:
        if text.get_gid() in SPANNING or text.get_gid() == "forest-direction":
            continue  # text lines spanning the columns, and the labels under the axis
        box = text.get_window_extent(renderer)
        by_row.setdefault(round(box.y0 + box.y1), []).append(box)
        # no column text runs into the graph
        assert box.x1 <= graph.x0 + 0.5 or box.x0 >= graph.x1 - 0.5, text.get_text()
    for boxes in by_row.values():
        boxes.sort(key=lambda b: b.x0)
        for a, b in itertools.pairwise(boxes):
            assert a.x1 < b.x0, "texts of one row overlap"


# --------------------------------------------------------------------------- forest: review fixes


def test_forest_of_many_studies_warns_quickly_and_max_rows_shortens_it() -> None:
    rng = np.random.default_rng(11)
    k = 1000
    r = mm.meta_analysis(
        rng.normal(0, 0.3, k), rng.uniform(0.01, 0.1, k), labels=[f"S{i + 1}" for i in range(k)]
    )
    start = time.perf_counter()
    with pytest.warns(mm.LargePlotWarning, match=r"1000 study rows.*max_rows=.*funnel_plot"):
        fd = forest_data(r)
    assert time.perf_counter() - start < 5.0
    assert len(fd.studies) == k
    # forest_plot warns before it draws (drawing is mocked: the test stays fast)
    calls: list[ForestData] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(forest_module, "draw_forest", lambda fd, **kw: calls.append(fd))
        with pytest.warns(mm.LargePlotWarning):
            forest_plot(r)
        with pytest.warns(mm.LargePlotWarning):
            forest_plot(fd)
    assert len(calls) == 2
    # max_rows: the first and last studies and a row saying how many are not shown
    short = forest_data(r, max_rows=20)  # no warning (filterwarnings = error)
    assert short.studies["label"].tolist() == [
        f"S{i + 1}" for i in [*range(10), *range(990, 1000)]
    ]
    (gap,) = short.rows[short.rows["kind"] == "omitted"]["label"].tolist()
    assert gap == "… 980 more studies (not shown; all are pooled)"
    pooled = short.rows[short.rows["kind"] == "pooled_re"].iloc[0]
    assert pooled["estimate"] == pytest.approx(r.estimate)
    assert pooled["weight"] == pytest.approx(100.0)
    with pytest.raises(mm.MetaAnalysisError, match="max_rows"):
        forest_data(r, max_rows=0)
    assert issubclass(mm.LargePlotWarning, mm.MetaAnalysisWarning)
    assert "LargePlotWarning" in mm.__all__


def test_forest_left_and_right_columns_use_one_digits_setting(
    md_res: mm.MetaAnalysisResult,
) -> None:
    row = forest_data(md_res).studies.iloc[0]
    assert (row["arm_t"], row["arm_c"], row["estimate_text"]) == (
        "10.70 (3.70)", "13.20 (2.60)", "\u22122.50",
    )  # fmt: skip
    row = forest_data(md_res, digits=1).studies.iloc[0]
    assert (row["arm_t"], row["estimate_text"], row["ci_text"]) == (
        "10.7 (3.7)", "\u22122.5", "[\u22123.7; \u22121.3]",
    )  # fmt: skip


def test_forest_draws_the_prediction_interval_from_two_studies(es: mm.EffectSizes) -> None:
    two = mm.meta_analysis(es["effect"][:2], es["variance"][:2], measure="RR", test="knha")
    fd = forest_data(two)
    pi = fd.rows[fd.rows["kind"] == "prediction"].iloc[0]
    assert (pi["ci_low"], pi["ci_high"]) == pytest.approx(tuple(np.exp([two.pi_low, two.pi_high])))
    assert "prediction" in set(two.to_frame()["kind"])  # the table has it too
    assert "prediction" not in set(forest_data(two, prediction=False).rows["kind"])
    assert len(_by_gid(forest_plot(two), "forest-prediction")) == 1


def test_forest_one_study_is_described_as_in_the_summary() -> None:
    with pytest.warns(mm.FewStudiesWarning):
        one = mm.meta_analysis([0.3], [0.04], labels=["Solo 2020"])
    fd = forest_data(one)
    (label,) = fd.rows.loc[fd.rows["kind"] == "pooled_re", "label"].tolist()
    assert label == mm.results.SINGLE_STUDY == one.to_frame()["study"].iloc[-1]
    assert fd.rows.loc[fd.rows["kind"] == "heterogeneity", "label"].item() == (
        "Heterogeneity: not applicable (k = 1)"
    )
    assert "prediction" not in set(fd.rows["kind"])


def test_forest_shows_studies_not_estimable_as_rows() -> None:
    es = mm.effect_sizes(
        "RR",
        events_t=[4, 6, np.nan, 10],
        n_t=[123, 306, 50, 200],
        events_c=[11, 29, 7, np.nan],
        n_c=[139, 303, 50, 210],
        labels=["A 1990", "B 1991", "C 1992", "D 1993"],
    )
    with pytest.warns(mm.DroppedStudiesWarning):
        r = mm.meta_analysis(es)
    assert r.not_estimable == ("C 1992", "D 1993")
    fd = forest_data(r)
    ne = fd.rows[fd.rows["kind"] == "not_estimable"]
    assert ne["label"].tolist() == ["C 1992", "D 1993"]
    assert set(ne["ci_text"]) == {"not estimable"} and set(ne["effect_text"]) == {"not estimable"}
    assert ne["y"].max() < fd.rows.loc[fd.rows["kind"] == "pooled_re", "y"].item()
    assert len(fd.studies) == 2
    ax = forest_plot(r)
    assert _texts(ax, "forest-label")[:4] == ["A 1990", "B 1991", "C 1992", "D 1993"]
    assert _texts(ax, "forest-ci_text").count("not estimable") == 2
    assert len(_by_gid(ax, "forest-squares")[0].get_offsets()) == 2
    with pytest.warns(mm.DroppedStudiesWarning):
        mh = mm.mantel_haenszel(
            "OR", events_t=[4, np.nan, 9], n_t=[50, 60, 70], events_c=[8, 5, 12], n_c=[50, 60, 70]
        )
    assert forest_data(mh).rows["kind"].tolist().count("not_estimable") == 1
    # a subgroup analysis lists them before the overall estimate
    with pytest.warns(mm.DroppedStudiesWarning):
        sub = mm.subgroup_analysis(es, groups=["x", "x", "y", "y"])
    rows = forest_data(sub).rows
    ne = rows[rows["kind"] == "not_estimable"]
    assert ne["label"].tolist() == ["C 1992", "D 1993"]
    overall = rows[(rows["kind"] == "pooled_re") & (rows["group"] == "")]
    assert ne["y"].max() < overall["y"].item()


def _two_wide_studies(test: str = "knha") -> mm.MetaAnalysisResult:
    # two studies whose risk-ratio intervals span about 0.11 to 1.98, with almost equal
    # estimates: the Hartung-Knapp interval of the pooled estimate is narrow
    se = (math.log(1.98) - math.log(0.11)) / (2 * 1.959963984540054)
    centre = (math.log(1.98) + math.log(0.11)) / 2
    return mm.meta_analysis(
        [centre, centre + 0.002], [se**2, (0.98 * se) ** 2], measure="RR", test=test,
        labels=["One", "Two"],
    )  # fmt: skip


def test_forest_axis_covers_the_study_intervals() -> None:
    r = _two_wide_studies()
    # the pooled interval is narrow: the old rule gave a 0.2-1 axis that cut both intervals
    assert r.transform(r.ci_high) / r.transform(r.ci_low) < 1.05
    fd = forest_data(r)
    st = fd.studies
    assert st["ci_low"].min() == pytest.approx(0.11, rel=1e-3)
    assert st["ci_high"].max() == pytest.approx(1.98, rel=1e-3)
    assert fd.xlim[0] <= st["ci_low"].min() and fd.xlim[1] >= st["ci_high"].max()
    assert not fd.rows["arrow_low"].any() and not fd.rows["arrow_high"].any()
    assert _by_gid(forest_plot(r), "forest-arrow") == []
    # an interval extreme relative to the others and the pooled interval still ends in an arrow
    rng = np.random.default_rng(5)
    y = np.append(rng.normal(-0.5, 0.1, 6), -0.4)
    v = np.append(rng.uniform(0.01, 0.03, 6), 25.0)  # CI of the last: 0.0000 to 12000
    fd = forest_data(mm.meta_analysis(y, v, measure="RR"))
    assert fd.studies["arrow_low"].tolist() == [False] * 6 + [True]
    assert fd.studies["arrow_high"].tolist() == [False] * 6 + [True]
    assert fd.xlim[0] <= fd.studies["ci_low"].iloc[:6].min()
    assert fd.xlim[1] >= fd.studies["ci_high"].iloc[:6].max()


@pytest.mark.slow
def test_forest_left_and_right_labels(res: mm.MetaAnalysisResult) -> None:
    left, right = "higher response with control", "higher with MSC"
    fd = forest_data(res, label_left=left, label_right=right)
    assert (fd.label_left, fd.label_right) == (left, right)
    ax = forest_plot(fd)
    assert _texts(ax, "forest-direction") == [f"← {left}", f"{right} →"]
    # the labels meet at the null line
    a, b = _by_gid(ax, "forest-direction")
    assert a.xy[0] == b.xy[0] == 1.0 and (a.get_ha(), b.get_ha()) == ("right", "left")
    # favours= is a shorthand for "Favours ..." labels
    fav = forest_data(res, favours=("MSC", "control"))
    assert (fav.label_left, fav.label_right) == ("Favours MSC", "Favours control")
    with pytest.raises(mm.MetaAnalysisError, match="favours= or label_left="):
        forest_data(res, favours=("A", "B"), label_left="x")
    # without a null line the labels sit at the ends of the axis
    es1 = mm.effect_sizes("PLO", events=[3, 10, 25, 7], n=[20, 40, 60, 30])
    ax = forest_plot(mm.meta_analysis(es1), label_left="fewer", label_right="more")
    a, b = _by_gid(ax, "forest-direction")
    assert (a.xy[0], b.xy[0]) == pytest.approx(ax.get_xlim())
    assert (a.get_ha(), b.get_ha()) == ("left", "right")
    assert a.xyann[1] == b.xyann[1]  # side by side
    # labels too long to sit side by side at the ends: the right one goes on a line below
    long_left, long_right = "lower proportion with ACR20 response", "higher proportion with it"
    ax = forest_plot(mm.meta_analysis(es1), label_left=long_left, label_right=long_right)
    a, b = _by_gid(ax, "forest-direction")
    assert b.xyann[1] < a.xyann[1]
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for t in (a, b):  # both inside the figure
        box = t.get_window_extent(renderer)
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0
    # one label alone is drawn alone
    assert _texts(forest_plot(res, label_right="more events with MSC"), "forest-direction") == [
        "more events with MSC →"
    ]


def test_forest_null_line_for_a_mean_change() -> None:
    es1 = mm.effect_sizes("MN", mean=[-0.7, -1.6], sd=[0.6, 1.6], n=[30, 9])
    r = mm.meta_analysis(es1, test="knha")
    assert forest_data(r).null_value is None  # a plain mean has no natural null
    fd = forest_data(r, null=True)  # a mean change: 0
    assert fd.null_value == 0.0
    (line,) = _by_gid(forest_plot(fd), "forest-null")
    assert line.get_segments()[0][0, 0] == 0.0


# --------------------------------------------------------------------------- funnel

# metafor 3.8-1:
#   dat <- escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
#   res <- rma(yi, vi, data=dat, method="REML"); f <- funnel(res); f$x; f$y
METAFOR_FUNNEL_X = [
    -0.8893113339202, -1.5853886572014, -1.3480731482997, -1.4415511900213, -0.2175473222113,
    -0.7861155858189, -1.6208982235984, 0.0119523335238, -0.4694176487381, -1.3713448034728,
    -0.3393588283384, 0.4459134005714, -0.0173139482169,
]  # fmt: skip
METAFOR_FUNNEL_Y = [
    0.5706003548930, 0.4411135017183, 0.6444904695711, 0.1414568199213, 0.2262966463950,
    0.0831000508779, 0.4722470196542, 0.0629410779842, 0.2375588568403, 0.2702310004663,
    0.1114101161096, 0.7297299810205, 0.2672165033900,
]  # fmt: skip


def test_funnel_points_match_metafor(res: mm.MetaAnalysisResult) -> None:
    pts = funnel_data(res)
    assert pts["effect"].to_numpy() == pytest.approx(METAFOR_FUNNEL_X, rel=TOL_CLOSED)
    assert pts["se"].to_numpy() == pytest.approx(METAFOR_FUNNEL_Y, rel=TOL_CLOSED)
    ax = funnel_plot(res)
    assert ax.get_xscale() == "log" and ax.yaxis_inverted()
    drawn = np.asarray(_by_gid(ax, "funnel-points")[0].get_offsets())
    assert drawn[:, 0] == pytest.approx(np.exp(METAFOR_FUNNEL_X), rel=TOL_DRAWN)
    assert drawn[:, 1] == pytest.approx(METAFOR_FUNNEL_Y, rel=TOL_DRAWN)
    assert len(_by_gid(ax, "funnel-contour")) == 3
    # pseudo 95% limits through the pooled estimate at SE = 0
    lines = _by_gid(ax, "funnel-pseudo-ci")
    assert len(lines) == 2
    for line in lines:
        assert line.get_xdata()[0] == pytest.approx(math.exp(res.estimate))
    # contours are centred on the null: the p = 0.05 boundary at SE s is exp(1.96 s)
    tri = sorted(_by_gid(ax, "funnel-contour"), key=lambda p: p.get_xy()[0, 0])[1].get_xy()
    assert tri[1] == pytest.approx([1.0, 0.0])
    assert math.log(tri[2, 0]) / tri[2, 1] == pytest.approx(1.959963984540054)


def test_funnel_options_and_linear_axis(md_res: mm.MetaAnalysisResult) -> None:
    ax = funnel_plot(md_res, contours=None, pseudo_ci=False)
    assert ax.get_xscale() == "linear"
    assert _by_gid(ax, "funnel-contour") == [] and _by_gid(ax, "funnel-pseudo-ci") == []
    with pytest.raises(mm.MetaAnalysisError, match="contours contains 95"):
        funnel_plot(md_res, contours=(95,))
    # one-group measures: no contours around an arbitrary null unless one is given
    es = mm.effect_sizes("PLO", events=[3, 10, 25, 7], n=[20, 40, 60, 30])
    r = mm.meta_analysis(es)
    assert _by_gid(funnel_plot(r), "funnel-contour") == []
    assert len(_by_gid(funnel_plot(r, null=0.0), "funnel-contour")) == 3


# --------------------------------------------------------------------------- Galbraith

# metafor 3.8-1: r <- radial(rma(yi, vi, data=dat, method="EE")); r$x; r$y
METAFOR_RADIAL_EE_X = [
    1.75254009470, 2.26699023291, 1.55161332435, 7.06929507221, 4.41897843353, 12.03368697655,
    2.11753586234, 15.88787532763, 4.20948312894, 3.70053768174, 8.97584559571, 1.37036989847,
    3.74228383095,
]  # fmt: skip
METAFOR_RADIAL_EE_Z = [
    -1.558553769366, -3.594060601242, -2.091688259094, -10.190750723954, -0.961336925124,
    -9.459868887132, -3.432310117669, 0.189897184901, -1.976005672791, -5.074713119910,
    -3.046032444706, 0.611066301466, -0.064793708462,
]  # fmt: skip
# metafor 3.8-1: r <- radial(res)  # REML: x = 1/sqrt(vi + tau2), z = yi/sqrt(vi + tau2)
METAFOR_RADIAL_REML_X = [
    1.25114601650, 1.40327632344, 1.17152632348, 1.73225862728, 1.65645231605, 1.76735569176,
    1.36556402125, 1.77553833189, 1.64470672925, 1.60899823354, 1.75234964396, 1.08737466379,
    1.61238321611,
]  # fmt: skip
METAFOR_RADIAL_REML_Z = [
    -1.1126583328606, -2.2247383661084, -1.5793031792038, -2.4971394855806, -0.3603567657282,
    -1.3893458549756, -2.2134402962606, 0.0212218263271, -0.7720543657084, -2.2064913663677,
    -0.5946753220147, 0.4848749340258, -0.0279167195094,
]  # fmt: skip


def test_galbraith_points_match_metafor_radial(
    res: mm.MetaAnalysisResult, es: mm.EffectSizes
) -> None:
    ee = galbraith_data(mm.meta_analysis(es, method="EE"))
    assert ee["x"].to_numpy() == pytest.approx(METAFOR_RADIAL_EE_X, rel=TOL_CLOSED)
    assert ee["z"].to_numpy() == pytest.approx(METAFOR_RADIAL_EE_Z, rel=TOL_CLOSED)
    # Galbraith's plot of a random-effects result uses the within-study SEs by default
    assert galbraith_data(res)["x"].to_numpy() == pytest.approx(METAFOR_RADIAL_EE_X)
    rr = galbraith_data(res, model="random")
    assert rr["x"].to_numpy() == pytest.approx(METAFOR_RADIAL_REML_X, rel=TOL_REML)
    assert rr["z"].to_numpy() == pytest.approx(METAFOR_RADIAL_REML_Z, rel=TOL_REML)
    ax = galbraith_plot(res)
    drawn = np.asarray(_by_gid(ax, "galbraith-points")[0].get_offsets())
    assert drawn[:, 0] == pytest.approx(METAFOR_RADIAL_EE_X, rel=TOL_DRAWN)
    (line,) = _by_gid(ax, "galbraith-line")
    x, y = line.get_data()
    assert y[1] / x[1] == pytest.approx(res.ce_estimate)  # slope: the common-effect estimate
    with pytest.raises(mm.MetaAnalysisError, match="model='random' needs a random-effects"):
        galbraith_data(mm.meta_analysis(es, method="EE"), model="random")


# --------------------------------------------------------------------------- L'Abbé

# metafor 3.8-1:
#   res2 <- rma(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
#   l <- labbe(res2, transf=exp); l$x; l$y
METAFOR_LABBE_X = [
    0.07913669064748, 0.09570957095710, 0.05000000000000, 0.01927411206964, 0.00809228650138,
    0.25637491385252, 0.01589825119237, 0.00564537113507, 0.00618386697815, 0.03903903903904,
    0.00515765600995, 0.00128150363093, 0.00162428587431,
]  # fmt: skip
METAFOR_LABBE_Y = [
    0.03252032520325, 0.01960784313725, 0.01298701298701, 0.00455949404324, 0.00651015979483,
    0.11680726800779, 0.00314341846758, 0.00571325134912, 0.00386718229097, 0.00990675990676,
    0.00367342102145, 0.00200160128102, 0.00159640513215,
]  # fmt: skip


def test_labbe_rates_match_metafor(res: mm.MetaAnalysisResult, mh: mm.BinaryPooledResult) -> None:
    pts = labbe_data(res)
    assert pts["rate_c"].to_numpy() == pytest.approx(METAFOR_LABBE_X, rel=1e-12)
    assert pts["rate_t"].to_numpy() == pytest.approx(METAFOR_LABBE_Y, rel=1e-12)
    ax = labbe_plot(res)
    drawn = _by_gid(ax, "labbe-points")[0]
    assert sorted(drawn.get_offsets()[:, 0]) == pytest.approx(sorted(METAFOR_LABBE_X))
    # circle areas proportional to the weights
    assert sorted(drawn.get_sizes() / drawn.get_sizes().max()) == pytest.approx(
        sorted(res.weights / res.weights.max())
    )
    (curve,) = _by_gid(ax, "labbe-pooled")
    pc, pt = curve.get_data()
    assert pt[10] / pc[10] == pytest.approx(math.exp(res.estimate))  # p_t = RR * p_c
    (curve_or,) = _by_gid(labbe_plot(mh), "labbe-pooled")
    pc, pt = curve_or.get_data()
    odds = (pt[10] / (1 - pt[10])) / (pc[10] / (1 - pc[10]))
    assert odds == pytest.approx(math.exp(mh.estimate))


def test_labbe_needs_two_arm_binary_data(
    md_res: mm.MetaAnalysisResult, res: mm.MetaAnalysisResult
) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"two-arm binary data.*measure 'MD'"):
        labbe_plot(md_res)
    plain = mm.meta_analysis(res.effect, res.variance, measure="RR")
    with pytest.raises(mm.MetaAnalysisError, match="no arm data"):
        labbe_data(plain)


# --------------------------------------------------------------------------- Baujat

# metafor 3.8-1: b <- baujat(res); b$x; b$y   (REML)
METAFOR_BAUJAT_REML_X = [
    0.0478183320721, 1.4934111867875, 0.5508752745771, 1.5860497234914, 0.6777109218995,
    0.0160055498336, 1.5319028477970, 1.6638456222975, 0.1625233076132, 1.1168475452701,
    0.4322210214811, 1.5922384344099, 1.2637879713967,
]  # fmt: skip
METAFOR_BAUJAT_REML_Y = [
    0.001537501940577, 0.112107095545737, 0.024349037368339, 0.237773320050604,
    0.066985818131785, 0.000333271536546, 0.107909507966588, 0.198964614242499,
    0.018381613230846, 0.111389571758925, 0.048970625778590, 0.061834543543001,
    0.115312850558173,
]  # fmt: skip
# metafor 3.8-1: b <- baujat(rma(yi, vi, data=dat, method="EE"))
METAFOR_BAUJAT_EE_X = [
    0.6471587360257, 6.8571096271727, 2.0279242863942, 51.1073136255054, 0.8837578017084,
    18.3351122200536, 6.3562772563152, 49.3676862704565, 0.0271351610359, 12.1272954277502,
    0.6660857178975, 1.4417192428418, 2.3884327092162,
]  # fmt: skip
METAFOR_BAUJAT_EE_Y = [
    0.00327659923900, 0.05829078499175, 0.00803933802646, 4.56309948547637, 0.02924134954406,
    5.71123117941320, 0.04709268099282, 34.87951031283187, 0.00081223590621, 0.27863933782141,
    0.10141785652880, 0.00445429838936, 0.05615154772269,
]  # fmt: skip
# metafor 3.8-1: b <- baujat(rma(yi, vi, data=dat, method="DL", test="knha"))
METAFOR_BAUJAT_DL_KNHA_Y = [
    0.002162523770709, 0.107755687993254, 0.024144190463506, 0.281733902968023,
    0.067656186036901, 0.000048257459251, 0.104224049124612, 0.177996450161183,
    0.016378520926516, 0.108772128113836, 0.056357194012331, 0.065810264026734,
    0.121604244740860,
]  # fmt: skip
# metafor 3.8-1:
#   mh <- rma.mh(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg); baujat(mh)
METAFOR_BAUJAT_MH_X = [
    6.06197944493e-01, 6.83566591763e00, 1.92277550961e00, 4.75698223282e01, 1.24448453479e00,
    2.37191828874e01, 5.93122995053e00, 5.88086005561e01, 4.86522800621e-05, 1.14133063039e01,
    1.40297977259e00, 1.58469483562e00, 2.90359037601e00,
]  # fmt: skip
METAFOR_BAUJAT_MH_Y = [
    3.56794235418e-03, 1.03061137229e-01, 1.14423111142e-02, 7.37499247568e00, 4.21554471312e-02,
    5.31037050957e00, 3.11353250676e-02, 4.24867853541e01, 1.52178239731e-06, 4.13750764507e-01,
    1.95109602063e-01, 5.60715349390e-03, 6.96655221979e-02,
]  # fmt: skip
# metafor 3.8-1: baujat(rma.peto(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))$y
METAFOR_BAUJAT_PETO_Y = [
    3.09616407664e-03, 9.85242193462e-02, 1.08876850960e-02, 7.03527147509e00, 4.43495911255e-02,
    5.26925577962e00, 4.29168813853e-02, 4.14843859391e01, 5.28256217685e-05, 3.91252626544e-01,
    1.46783755568e-01, 5.47440580585e-03, 6.89835536145e-02,
]  # fmt: skip
#: metafor prints 12 significant digits for the MH and Peto coordinates.
TOL_PRINTED = 1e-10


def test_baujat_matches_metafor(
    res: mm.MetaAnalysisResult, es: mm.EffectSizes, mh: mm.BinaryPooledResult, bcg: pd.DataFrame
) -> None:
    b = baujat_data(res)
    assert b["x"].to_numpy() == pytest.approx(METAFOR_BAUJAT_REML_X, rel=TOL_REML)
    assert b["y"].to_numpy() == pytest.approx(METAFOR_BAUJAT_REML_Y, rel=TOL_REML)
    ee = baujat_data(mm.meta_analysis(es, method="EE"))
    assert ee["x"].to_numpy() == pytest.approx(METAFOR_BAUJAT_EE_X, rel=TOL_CLOSED)
    assert ee["y"].to_numpy() == pytest.approx(METAFOR_BAUJAT_EE_Y, rel=TOL_CLOSED)
    assert ee["x"].sum() == pytest.approx(mm.meta_analysis(es, method="EE").q)
    knha = baujat_data(mm.meta_analysis(es, method="DL", test="knha"))
    assert knha["y"].to_numpy() == pytest.approx(METAFOR_BAUJAT_DL_KNHA_Y, rel=TOL_CLOSED)
    bm = baujat_data(mh)
    assert bm["x"].to_numpy() == pytest.approx(METAFOR_BAUJAT_MH_X, rel=TOL_PRINTED)
    assert bm["y"].to_numpy() == pytest.approx(METAFOR_BAUJAT_MH_Y, rel=TOL_PRINTED)
    pe = mm.peto(data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c")
    assert baujat_data(pe)["y"].to_numpy() == pytest.approx(METAFOR_BAUJAT_PETO_Y, rel=TOL_PRINTED)
    ax = baujat_plot(res)
    drawn = np.asarray(_by_gid(ax, "baujat-points")[0].get_offsets())
    assert drawn[:, 0] == pytest.approx(b["x"].to_numpy(), rel=TOL_DRAWN)
    assert drawn[:, 1] == pytest.approx(b["y"].to_numpy(), rel=TOL_DRAWN)
    assert sorted(_texts(ax, "baujat-label")) == sorted(res.labels)
    with pytest.raises(mm.MetaAnalysisError, match="at least 2 studies"):
        with pytest.warns(mm.FewStudiesWarning):
            one = mm.meta_analysis([0.1], [0.04])
        baujat_plot(one)


def test_diagnostics_take_subgroup_results_overall(sub: mm.SubgroupResult) -> None:
    assert len(funnel_data(sub)) == len(galbraith_data(sub)) == len(baujat_data(sub)) == 13
    assert labbe_plot(sub).get_xlim()[0] == 0.0


# --------------------------------------------------------------------------- images


def _check_image(fig: Any, name: str, tmp_path: Path) -> None:
    expected = BASELINE_DIR / f"{name}.png"
    if UPDATE_BASELINES:
        BASELINE_DIR.mkdir(exist_ok=True)
        fig.savefig(expected, dpi=100, bbox_inches="tight")
        return
    if not expected.exists():
        pytest.fail(
            f"no baseline {expected}; create it with MSC_META_UPDATE_BASELINES=1 and look at it"
        )
    actual = tmp_path / f"{name}.png"
    fig.savefig(actual, dpi=100, bbox_inches="tight")
    diff = compare_images(str(expected), str(actual), tol=IMAGE_TOL)
    assert diff is None, diff


def _bcg_sub_plot(sub: mm.SubgroupResult, bcg: pd.DataFrame) -> Any:
    return forest_plot(
        sub, favours=("vaccine", "control"), arm_labels=("Vaccinated", "Control"), data=bcg,
        columns={"year": "Year"}, sort_by="year",
    )  # fmt: skip


IMAGES = {
    "forest_bcg": lambda f: forest_plot(
        f["res"], favours=("vaccine", "control"), arm_labels=("Vaccinated", "Control")
    ),
    "forest_bcg_subgroups": lambda f: _bcg_sub_plot(f["sub"], f["bcg"]),
    "forest_mh_xlim_sorted": lambda f: forest_plot(f["mh"], xlim=(0.2, 2), sort_by="effect"),
    "forest_md_common": lambda f: forest_plot(
        f["md"],
        common=True,
        arm_labels=("MSC", "Placebo"),
        label_left="lower mean with MSC",
        label_right="lower mean with placebo",
    ),
    "funnel_bcg": lambda f: funnel_plot(f["res"]),
    "galbraith_bcg": lambda f: galbraith_plot(f["res"]),
    "labbe_bcg": lambda f: labbe_plot(f["res"]),
    "baujat_bcg": lambda f: baujat_plot(f["res"]),
    "leave_one_out_bcg": lambda f: leave_one_out_plot(f["res"]),
    "cumulative_bcg": lambda f: cumulative_forest_plot(f["res"], f["bcg"]["year"].to_numpy()),
    "influence_bcg": lambda f: influence_plot(f["res"].influence())[0],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_images_match_baselines(
    name: str,
    tmp_path: Path,
    res: mm.MetaAnalysisResult,
    sub: mm.SubgroupResult,
    mh: mm.BinaryPooledResult,
    md_res: mm.MetaAnalysisResult,
    bcg: pd.DataFrame,
) -> None:
    fixtures = {"res": res, "sub": sub, "mh": mh, "md": md_res, "bcg": bcg}
    with plt.rc_context(RC):
        ax = IMAGES[name](fixtures)
        _check_image(ax.figure, name, tmp_path)


def test_baseline_set_is_complete() -> None:
    """Every image test has its committed baseline, and no baseline is orphaned."""
    if UPDATE_BASELINES:
        pytest.skip("baselines are being regenerated")
    assert {p.stem for p in BASELINE_DIR.glob("*.png")} == set(IMAGES)
