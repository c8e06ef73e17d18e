"""Risk-of-bias figures (msc_meta.plots.rob): the data behind them, bad input, images.

The test table is constructed, after robvis' example data ``data_rob2`` and
``data_robins`` (McGuinness & Higgins 2021): three RoB 2 trials using every RoB 2
word, one ROBINS-I study with every ROBINS-I word, one NIH case series with Yes, No,
Not reported, Cannot determine, Not applicable and a Fair rating, and one RoB 2 trial
assessed for two comparisons. Image baselines are in ``tests/baseline/rob/`` (made and
compared as in ``tests/test_plots.py``; regenerate with ``MSC_META_UPDATE_BASELINES=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.testing.compare import compare_images

import msc_meta as mm
from msc_meta.plots import (
    LEVEL_STYLES,
    forest_data,
    forest_plot,
    rob_forest_data,
    rob_summary,
    rob_summary_data,
    rob_traffic_light,
    rob_traffic_light_data,
)
from msc_meta.risk_of_bias import LEVEL_RANK, ROB_TOOLS, RobError
from tests.test_plots import BASELINE_DIR, IMAGE_TOL, RC, UPDATE_BASELINES

ROB_BASELINES = BASELINE_DIR / "rob"

R2 = ["D1", "D2", "D3", "D4", "D5", "overall"]
RI = ["D1", "D2", "D3", "D4", "D5", "D6", "D7", "overall"]
NIH = [f"Q{i}" for i in range(1, 10)] + ["overall"]


def _rows(
    study: str, tool: str, domains: list[str], words: list[str], comp: str = ""
) -> list[dict[str, str]]:
    return [
        {"study_id": study, "tool": tool, "comparison": comp, "domain": d, "judgement": w}
        for d, w in zip(domains, words, strict=True)
    ]


def _table() -> pd.DataFrame:
    rows = (
        _rows("Trial A", "RoB 2", R2, ["Low"] * 6)
        + _rows(
            "Trial B",
            "RoB 2",
            R2,
            ["Some concerns", "Low", "High", "Low", "No information", "High"],
        )
        + _rows(
            "Trial C",
            "RoB 2",
            R2,
            ["No information", "Some concerns", "Low", "Some concerns", "Low", "Some concerns"],
        )
        + _rows(
            "Study D",
            "ROBINS-I",
            RI,
            [
                "Serious",
                "Moderate",
                "Low",
                "No information",
                "Low",
                "Critical",
                "Moderate",
                "Critical",
            ],
        )
        + _rows(
            "Series E",
            "NIH case series",
            NIH,
            [
                "Yes",
                "Yes",
                "Not reported",
                "No",
                "Yes",
                "Yes",
                "Cannot determine",
                "Not applicable",
                "Yes",
                "Fair",
            ],
        )
    )
    return pd.DataFrame(rows)


def _two_comparisons() -> pd.DataFrame:
    return pd.DataFrame(
        _rows("Trial F", "RoB 2", R2, ["Low"] * 6, "dose 1 vs placebo")
        + _rows("Trial F", "RoB 2", R2, ["High"] + ["Low"] * 4 + ["High"], "dose 2 vs placebo")
    )


@pytest.fixture
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def md_res() -> mm.MetaAnalysisResult:
    """The five MD trials of tests/test_plots.py (baseline forest_md_common)."""
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


# --------------------------------------------------------------------------- traffic light data


def test_traffic_light_data_orders_tools_studies_and_domains(table: pd.DataFrame) -> None:
    # shuffled rows: the order comes from the registry and from first appearance of studies
    shuffled = table.sample(frac=1.0, random_state=1)
    cells = rob_traffic_light_data(shuffled)
    assert len(cells) == len(table)
    assert list(dict.fromkeys(cells["tool"])) == ["RoB 2", "ROBINS-I", "NIH case series"]
    for tool, panel in cells.groupby("tool"):
        domains = list(ROB_TOOLS[str(tool)].domains)
        for _, study in panel.groupby("study_id"):
            assert list(study["domain"]) == domains  # the tool's order, overall last
            assert list(study["column"]) == list(range(len(domains)))
            assert study["header"].iloc[-1] == "Overall"
        assert sorted(set(panel["row"])) == list(range(panel["study_id"].nunique()))
    rob2 = cells[cells["tool"] == "RoB 2"].drop_duplicates("study_id")
    first_seen = list(dict.fromkeys(shuffled.loc[shuffled["tool"] == "RoB 2", "study_id"]))
    assert list(rob2["study_id"]) == first_seen
    assert list(rob2["row"]) == [0, 1, 2]


def test_traffic_light_data_levels_and_labels(table: pd.DataFrame) -> None:
    cells = rob_traffic_light_data(table, labels={"Trial B": "Trial B 2018"})
    b = cells[cells["study_id"] == "Trial B"]
    assert set(b["label"]) == {"Trial B 2018"}
    assert list(b["level"]) == ["some_concerns", "low", "high", "low", "no_information", "high"]
    d = cells[cells["study_id"] == "Study D"]
    assert list(d["level"]) == [
        "high",
        "some_concerns",
        "low",
        "no_information",
        "low",
        "critical",
        "some_concerns",
        "critical",
    ]
    e = cells[cells["study_id"] == "Series E"].set_index("domain")
    assert e.loc["Q3", "level"] == "no_information"
    assert e.loc["Q7", "level"] == "no_information"  # Cannot determine
    assert e.loc["Q8", "level"] == "not_applicable"
    assert e.loc["overall", "level"] == "some_concerns"  # Fair
    assert e.loc["Q1", "domain_name"] == ROB_TOOLS["NIH case series"].domains["Q1"]
    assert set(cells.loc[cells["study_id"] == "Trial A", "label"]) == {"Trial A"}


def test_traffic_light_data_two_comparisons_of_one_study_get_two_rows() -> None:
    cells = rob_traffic_light_data(_two_comparisons())
    assert sorted(set(cells["label"])) == [
        "Trial F (dose 1 vs placebo)",
        "Trial F (dose 2 vs placebo)",
    ]
    assert sorted(set(cells["row"])) == [0, 1]


def test_traffic_light_draws_one_panel_per_tool_and_every_cell(table: pd.DataFrame) -> None:
    fig = rob_traffic_light(table)
    assert len(fig.axes) == 3
    circles = [a for a in fig.findobj() if a.get_gid() == "rob-circles"]
    assert sum(len(c.get_offsets()) for c in circles) == len(table)
    symbols = [a.get_text() for a in fig.findobj() if a.get_gid() == "rob-symbol"]
    # every cell but the one "Not applicable" has its symbol
    assert len(symbols) == len(table) - 1
    assert symbols.count(LEVEL_STYLES["critical"].symbol) == 2
    keys = [a.get_text() for a in fig.findobj() if a.get_gid() == "rob-key"]
    assert "D1: Bias due to confounding" in keys
    assert any(k.startswith("Judgement:") and "Yes / Good" in k for k in keys)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "Trial A",
        "Trial B",
        "Trial C",
    ]


# --------------------------------------------------------------------------- summary data


def test_summary_data_counts_and_proportions(table: pd.DataFrame) -> None:
    bars = rob_summary_data(table)
    d1 = bars[(bars["tool"] == "RoB 2") & (bars["domain"] == "D1")].set_index("level")
    # RoB 2 words: low, some concerns, high, no information, zeros kept
    assert list(d1.index) == ["low", "some_concerns", "high", "no_information"]
    assert list(d1["n"]) == [1, 1, 0, 1]
    assert d1["proportion"].to_numpy() == pytest.approx([1 / 3, 1 / 3, 0, 1 / 3])
    assert list(d1["weight"]) == [1.0, 1.0, 0.0, 1.0]
    for _, dom in bars.groupby(["tool", "domain"]):
        assert dom["proportion"].sum() == pytest.approx(1.0)
    # ROBINS-I has a critical level; NIH's overall takes Good/Fair/Poor only
    robins = bars[bars["tool"] == "ROBINS-I"]
    assert "critical" in set(robins["level"])
    nih_overall = bars[(bars["tool"] == "NIH case series") & (bars["domain"] == "overall")]
    assert list(nih_overall["level"]) == ["low", "some_concerns", "high"]
    assert list(nih_overall["words"]) == ["Good", "Fair", "Poor"]
    nih_q1 = bars[(bars["tool"] == "NIH case series") & (bars["domain"] == "Q1")]
    assert list(nih_q1["words"]) == [
        "Yes",
        "No",
        "Cannot determine / Not reported",
        "Not applicable",
    ]
    # tools in the registry's order, domains in each tool's order
    assert list(dict.fromkeys(bars["tool"])) == list(ROB_TOOLS)
    assert list(dict.fromkeys(bars.loc[bars["tool"] == "ROBINS-I", "domain"])) == RI


def test_summary_data_weights(table: pd.DataFrame) -> None:
    w = {"Trial A": 50.0, "Trial B": 20.0, "Trial C": 30.0, "Study D": 7.0, "Series E": 5.0}
    bars = rob_summary_data(table, weights=w)
    overall = bars[(bars["tool"] == "RoB 2") & (bars["domain"] == "overall")].set_index("level")
    assert overall.loc["low", "proportion"] == pytest.approx(0.5)
    assert overall.loc["some_concerns", "proportion"] == pytest.approx(0.3)
    assert overall.loc["high", "proportion"] == pytest.approx(0.2)
    assert overall.loc["high", "weight"] == 20.0
    assert overall.loc["high", "n"] == 1
    # the weight does not matter for a tool with one study
    robins = bars[(bars["tool"] == "ROBINS-I") & (bars["n"] > 0)]
    assert set(robins["proportion"]) == {1.0}


def test_summary_draws_bars_of_the_proportions(table: pd.DataFrame) -> None:
    ax = rob_summary(table)
    bars = [a for a in ax.figure.findobj() if a.get_gid() == "rob-summary-bar"]
    data = rob_summary_data(table)
    assert len(bars) == int((data["n"] > 0).sum())
    assert sorted(round(b.get_width(), 9) for b in bars) == sorted(
        round(p, 9) for p in data.loc[data["n"] > 0, "proportion"]
    )
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels.count("Overall risk of bias") == 2 and "Quality rating" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "+ Low / Yes" in legend and "! Critical" in legend
    assert any("Fair" in s for s in legend)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: t.drop(columns="judgement"), "table lacks the column.*judgement"),
        (
            lambda t: t.assign(tool=t["tool"].replace("ROBINS-I", "ROBINS-E")),
            r"row 18 .*'ROBINS-E'.*allowed: RoB 2, ROBINS-I, NIH case series",
        ),
        (
            lambda t: t.assign(domain=t["domain"].replace("D5", "D6")),
            r"row 4 \(study_id='Trial A'\).*domain='D6' is not a domain of RoB 2.*allowed: D1",
        ),
        (
            lambda t: t.assign(judgement=t["judgement"].replace("Fair", "Moderate")),
            r"row 35 .*judgement='Moderate'.*allowed: Good, Fair, Poor",
        ),
        (
            lambda t: t.assign(judgement=t["judgement"].replace("Serious", "High")),
            r"row 18 .*'High' is not a ROBINS-I judgement",
        ),
        (lambda t: pd.concat([t, t.iloc[[2]]]), r"row 36 .*'D3' of RoB 2 is assessed twice"),
        (lambda t: t.iloc[:0], "table has no rows"),
        (lambda t: t.to_dict("list"), "table is a dict; give a risk-of-bias DataFrame"),
    ],
)
def test_bad_tables_are_rejected_with_row_and_rule(
    table: pd.DataFrame, change: Any, match: str
) -> None:
    bad = change(table)
    for fn in (rob_traffic_light_data, rob_summary_data):
        with pytest.raises(RobError, match=match):
            fn(bad)
    assert issubclass(RobError, mm.MetaAnalysisError)


def test_bad_weights_and_labels(table: pd.DataFrame) -> None:
    w = {"Trial A": 1.0, "Trial B": 1.0, "Trial C": 1.0, "Study D": 1.0}
    with pytest.raises(RobError, match="weights has no weight for study_id 'Series E'"):
        rob_summary_data(table, weights=w)
    with pytest.raises(RobError, match=r"weights\['Series E'\] = -2.0; .*positive and finite"):
        rob_summary_data(table, weights={**w, "Series E": -2.0})
    with pytest.raises(RobError, match="weights is a list"):
        rob_summary_data(table, weights=[1.0] * 5)  # type: ignore[arg-type]
    with pytest.raises(RobError, match="labels is a list; give a mapping"):
        rob_traffic_light_data(table, labels=["a"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- forest plot


def test_forest_rob_cells_match_rows_by_label_or_study_id(
    md_res: mm.MetaAnalysisResult, table: pd.DataFrame
) -> None:
    rob2 = table[table["tool"] == "RoB 2"]
    # "Trial C" is renamed in the table: matched through rob_labels
    rob2 = rob2.assign(study_id=rob2["study_id"].replace("Trial C", "trialc"))
    fd = forest_data(md_res, rob=rob2, rob_labels={"trialc": "Trial C"})
    assert fd.rob_tool is ROB_TOOLS["RoB 2"]
    assert fd.rob is not None
    study_y = fd.studies.set_index("label")["y"]
    assert sorted(set(fd.rob["label"])) == ["Trial A", "Trial B", "Trial C"]
    for label, cells in fd.rob.groupby("label"):
        assert set(cells["y"]) == {study_y[label]}
        assert list(cells["domain"]) == R2
    c = fd.rob[fd.rob["label"] == "Trial C"]
    assert set(c["study_id"]) == {"trialc"}
    assert list(c["level"]) == [
        "no_information",
        "some_concerns",
        "low",
        "some_concerns",
        "low",
        "some_concerns",
    ]
    # Trial D and Trial E have no RoB 2 assessment: no cells; a table study not plotted is fine
    extra = pd.DataFrame(_rows("Not plotted", "RoB 2", R2, ["Low"] * 6))
    fd2 = forest_data(md_res, rob=pd.concat([rob2, extra]), rob_labels={"trialc": "Trial C"})
    assert fd2.rob is not None
    assert fd2.rob.equals(fd.rob)
    # sorting moves the cells with their rows
    fd3 = forest_data(md_res, rob=rob2, rob_labels={"trialc": "Trial C"}, sort_by="effect")
    assert fd3.rob is not None
    y3 = fd3.studies.set_index("label")["y"]
    assert all(fd3.rob["y"] == fd3.rob["label"].map(y3))


def test_forest_plot_draws_the_rob_columns(
    md_res: mm.MetaAnalysisResult, table: pd.DataFrame
) -> None:
    rob2 = table[table["tool"] == "RoB 2"]
    ax = md_res.forest_plot(rob=rob2)
    fig = ax.figure
    heads = [a.get_text() for a in fig.findobj() if a.get_gid() == "forest-rob-header"]
    assert heads == ["D1", "D2", "D3", "D4", "D5", "Overall"]
    circles = [a for a in fig.findobj() if a.get_gid() == "forest-rob-circles"]
    assert sum(len(c.get_offsets()) for c in circles) == 18
    keys = [a.get_text() for a in fig.findobj() if a.get_gid() == "forest-rob-key"]
    assert keys[0] == "Risk of bias (RoB 2):"
    assert "D1: Bias arising from the randomisation process" in keys
    assert keys[-1] == "+ Low   \u2212 Some concerns   \u00d7 High   ? No information"
    # wider and taller than without the columns
    plain = forest_plot(md_res).figure
    assert fig.get_figwidth() > plain.get_figwidth()
    assert fig.get_figheight() > plain.get_figheight()
    # drawn into a given Axes as well
    _, given = plt.subplots(figsize=(12, 4))
    forest_plot(md_res, ax=given, rob=rob2)


def test_forest_rob_errors(md_res: mm.MetaAnalysisResult, table: pd.DataFrame) -> None:
    renamed = table.assign(study_id=table["study_id"].replace("Study D", "Trial D"))
    with pytest.raises(RobError, match=r"rob: .*assessed with RoB 2, ROBINS-I.*one tool"):
        forest_data(md_res, rob=renamed)
    two = _two_comparisons().assign(study_id="Trial A")
    with pytest.raises(RobError, match=r"study 'Trial A' has 2 assessments.*dose 1 vs placebo"):
        forest_plot(md_res, rob=two)
    with pytest.raises(RobError, match="both match the forest row 'Trial A'"):
        forest_data(md_res, rob=table[table["tool"] == "RoB 2"], rob_labels={"Trial B": "Trial A"})
    with pytest.raises(
        RobError, match=r"rob row 0 \(study_id='Trial A'\): judgement='Unclear'.*allowed: Low"
    ):
        forest_data(md_res, rob=table.assign(judgement="Unclear"))
    with pytest.raises(mm.MetaAnalysisError, match="rob_labels is given without rob="):
        forest_data(md_res, rob_labels={"a": "b"})
    with pytest.raises(RobError, match="rob_labels is a str"):
        forest_data(md_res, rob=table[table["tool"] == "RoB 2"], rob_labels="Trial A")  # type: ignore[arg-type]


def test_forest_without_rob_is_unchanged(md_res: mm.MetaAnalysisResult, tmp_path: Path) -> None:
    fd = forest_data(md_res, rob=None)
    assert fd.rob is None and fd.rob_tool is None
    # the committed baseline of tests/test_plots.py, drawn with rob=None
    with plt.rc_context(RC):
        ax = forest_plot(
            md_res,
            common=True,
            arm_labels=("MSC", "Placebo"),
            label_left="lower mean with MSC",
            label_right="lower mean with placebo",
            rob=None,
        )
        actual = tmp_path / "forest_md_common.png"
        ax.figure.savefig(actual, dpi=100, bbox_inches="tight")
    expected = BASELINE_DIR / "forest_md_common.png"
    assert compare_images(str(expected), str(actual), tol=0) is None
    assert not [a for a in ax.figure.findobj() if str(a.get_gid()).startswith("forest-rob")]


def test_rob_forest_data_directly(table: pd.DataFrame, md_res: mm.MetaAnalysisResult) -> None:
    rows = forest_data(md_res).rows
    cells, tool = rob_forest_data(table[table["tool"] == "ROBINS-I"], rows)
    # "Study D" is not a row label: no cells, and the columns are the table's tool
    assert cells.empty and tool.name == "ROBINS-I"


def test_level_styles_cover_the_scale() -> None:
    assert set(LEVEL_STYLES) == set(LEVEL_RANK)
    symbols = [s.symbol for s in LEVEL_STYLES.values() if s.symbol]
    assert len(symbols) == len(set(symbols)) == 5  # distinct, for greyscale readers
    assert len({s.color for s in LEVEL_STYLES.values()}) == 6


# --------------------------------------------------------------------------- images


def _check_image(fig: Any, name: str, tmp_path: Path) -> None:
    expected = ROB_BASELINES / f"{name}.png"
    if UPDATE_BASELINES:
        ROB_BASELINES.mkdir(exist_ok=True)
        fig.savefig(expected, dpi=100, bbox_inches="tight")
        return
    if not expected.exists():
        pytest.fail(f"no baseline {expected}; create it with MSC_META_UPDATE_BASELINES=1")
    actual = tmp_path / f"{name}.png"
    fig.savefig(actual, dpi=100, bbox_inches="tight")
    diff = compare_images(str(expected), str(actual), tol=IMAGE_TOL)
    assert diff is None, diff


W = {"Trial A": 106.0, "Trial B": 49.0, "Trial C": 78.0, "Study D": 67.0, "Series E": 42.0}

IMAGES = {
    "rob_traffic_light": lambda f: rob_traffic_light(
        f["table"], labels={"Trial A": "Trial A 2019", "Series E": "Series E 2020"}
    ),
    "rob_summary_weighted": lambda f: rob_summary(f["table"], weights=W).figure,
    "forest_md_rob": lambda f: (
        forest_plot(
            f["md"],
            arm_labels=("MSC", "Placebo"),
            label_left="lower mean with MSC",
            label_right="lower mean with placebo",
            rob=f["table"][f["table"]["tool"] == "RoB 2"],
        ).figure
    ),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_images_match_baselines(
    name: str, tmp_path: Path, table: pd.DataFrame, md_res: mm.MetaAnalysisResult
) -> None:
    with plt.rc_context(RC):
        fig = IMAGES[name]({"table": table, "md": md_res})
        _check_image(fig, name, tmp_path)


def test_baseline_set_is_complete() -> None:
    if UPDATE_BASELINES:
        pytest.skip("baselines are being regenerated")
    assert {p.stem for p in ROB_BASELINES.glob("*.png")} == set(IMAGES)


def test_a_table_read_from_csv_with_empty_cells(table: pd.DataFrame, tmp_path: Path) -> None:
    """Empty comparison cells (NaN or pandas' NA) read as no comparison."""
    path = tmp_path / "risk_of_bias.csv"
    table.assign(comparison="").to_csv(path, index=False)
    for frame in (pd.read_csv(path), pd.read_csv(path, dtype="string")):
        cells = rob_traffic_light_data(frame)
        assert set(cells["comparison"]) == {""}
        assert list(cells["label"].drop_duplicates()) == list(table["study_id"].drop_duplicates())
    with pytest.raises(RobError, match="table has no rows"):
        rob_summary_data(mm.datasets.load_msc_ra().risk_of_bias.iloc[:0])


def test_forest_rob_columns_on_a_subgroup_analysis(
    md_res: mm.MetaAnalysisResult, table: pd.DataFrame
) -> None:
    sub = mm.subgroup_analysis(
        md_res.effect, md_res.variance, groups=["x", "y", "x", "y", "x"], labels=md_res.labels
    )
    fd = forest_data(sub, rob=table[table["tool"] == "RoB 2"])
    assert fd.rob is not None
    study_y = fd.studies.set_index("label")["y"]
    assert all(fd.rob["y"] == fd.rob["label"].map(study_y))
    assert sorted(set(fd.rob["label"])) == ["Trial A", "Trial B", "Trial C"]
    sub.forest_plot(rob=table[table["tool"] == "RoB 2"])


def test_traffic_light_draws_on_a_given_figure(table: pd.DataFrame) -> None:
    fig = plt.figure()
    out = rob_traffic_light(table[table["tool"] == "RoB 2"], fig=fig)
    assert out is fig and len(fig.axes) == 1
    assert fig.get_figheight() > 1.0
