"""The evidence map: the classification of the cells (msc_meta.coverage), the drawing data,
the figure, and a baseline image of the bundled records.

The baseline is ``tests/baseline/evidence_map/msc_ra.png`` (100 dpi, DejaVu Sans, as the
others in ``tests/baseline``). It shows the bundled records, so it changes whenever they do;
regenerate it with

    MSC_META_UPDATE_BASELINES=1 python -m pytest tests/test_evidence_map.py -k image

and look at it before committing.
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
from msc_meta.analyses import ANALYSES, analysis_input
from msc_meta.coverage import COVERAGE_STATES, DESIGN_GROUPS, outcome_coverage
from msc_meta.plots import STATE_STYLES, evidence_map, evidence_map_data
from msc_meta.records import TrialRecords, load_records

from .test_plots import IMAGE_TOL, RC, UPDATE_BASELINES
from .test_records import ARMS, SOURCES, STUDIES_HEADER

BASELINE_DIR = Path(__file__).parent / "baseline" / "evidence_map"

#: Four studies, one per situation: trial1 (randomised, placebo) with read and derived
#: ACR20 at two time points, an adverse-event count derived from a statement and a p-value
#: without a time point; trial2 (single arm) with only a p-value; trial3 (non-randomised,
#: no n_enrolled) with only derived numbers and a baseline row; trial4 with no outcome.
STUDIES = STUDIES_HEADER + (
    'trial1,Trial 2020,"A. One. J 2020;1:1",2020,,,,not_found,randomised_controlled,yes,yes,'
    "placebo,open,1,Nowhere,,UC,allogeneic,intravenous,1e6,1,,12 weeks,12,40,,X-S1: abstract,"
    ",,,X-S1: abstract,\n"
    'trial2,Trial 2021,"B. Two. J 2021;2:2",2021,,,,not_found,single_arm,no,no,none,open,1,'
    "Nowhere,,BM,autologous,intra-articular,4e7,,,,,10,,X-S2: header,,,,,\n"
    'trial3,Trial 2019,"C. Three. J 2019;3:3",2019,,,,not_found,nonrandomised_controlled,no,'
    "yes,dmards,open,1,Nowhere,,UC,allogeneic,intravenous,4e7,,,,,,,X-S2: header,,,,,\n"
    'trial4,Trial 2018,"D. Four. J 2018;4:4",2018,,,,not_found,single_arm,no,no,none,open,1,'
    "Nowhere,,BM,autologous,intravenous,1e6,,,,,5,,X-S2: header,,,,,\n"
)
EXTRA_ARMS = (
    "t3_msc,trial3,MSC,msc,true,MSC,4e7,40000000,cells,X-S2: header,12,,X-S2: header,\n"
    "t3_ctl,trial3,DMARDs,dmards_control,false,DMARDs,,,,,13,,X-S2: header,\n"
    "t4_msc,trial4,MSC,msc,true,MSC,1e6,1000000,cells/kg,X-S2: header,5,,X-S2: header,\n"
)
OUTCOMES = """row_id,study_id,arm_id,outcome,timepoint_weeks,timepoint_label,statistic,qualifier,value,denominator,unit,source_id,location,derived,derivation_method,derived_from,derivation,notes
t1_acr20_msc_pct,trial1,t1_msc,ACR20,12,month 3,percent,=,55.0,20,%,X-S2,Table 2,false,,,,
t1_acr20_msc_n,trial1,t1_msc,ACR20,12,month 3,count,=,11,20,patients,X-S2,Table 2,true,count_from_percent,t1_acr20_msc_pct,55.0% × 20 = 11,
t1_acr20_pbo_pct,trial1,t1_pbo,ACR20,12,month 3,percent,=,20.0,20,%,X-S2,Table 2,false,,,,
t1_acr20_p,trial1,,ACR20,12,month 3,p_value,<,0.05,,,X-S2,Table 2,false,,,,
t1_acr20_msc_w4,trial1,t1_msc,ACR20,4,month 1,percent,=,30.0,20,%,X-S2,Table 2,false,,,,
t1_ae_msc,trial1,t1_msc,any_AE,12,12 weeks,count,=,0,20,patients,X-S1,abstract,true,statement,,'no adverse events' -> 0,
t1_treg_p,trial1,t1_msc,Treg,,not stated,p_value,<,0.05,,,X-S1,abstract,false,,,,
t2_das_p,trial2,t2_msc,DAS28_ESR,4,4 weeks,p_value,<,0.05,10,,X-S2,Table 2,false,,,,
t2_das_n,trial2,t2_msc,DAS28_ESR,4,4 weeks,n,=,10,,patients,X-S2,Table 2,false,,,,
t3_age,trial3,t3_msc,age,0,baseline,mean,=,50,12,years,X-S2,Table 1,false,,,,
t3_acr20_pct,trial3,t3_msc,ACR20,12,month 3,percent,=,50.0,12,%,X-S2,Table 2,false,,,,
t3_acr20_n,trial3,t3_msc,ACR20,12,month 3,count,=,6,12,patients,X-S2,Table 2,true,count_from_percent,t3_acr20_pct,50.0% × 12 = 6,
"""


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> TrialRecords:
    folder = tmp_path_factory.mktemp("records")
    files = {"sources": SOURCES, "studies": STUDIES, "arms": ARMS + EXTRA_ARMS}
    files["outcomes"] = OUTCOMES
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return load_records(folder)


def _cell(frame: pd.DataFrame, study: str, outcome: str, timepoint: str) -> pd.Series:
    sel = frame[
        (frame["study_id"] == study)
        & (frame["outcome"] == outcome)
        & (frame["timepoint"] == timepoint)
    ]
    assert len(sel) == 1, (study, outcome, timepoint)
    return sel.iloc[0]


# --------------------------------------------------------------------------- classification


def test_each_state_on_constructed_records(small: TrialRecords) -> None:
    cov = outcome_coverage(small)
    # one row per study x (outcome, time point); age (baseline only) is left out
    columns = cov[["outcome", "timepoint"]].drop_duplicates()
    assert list(map(tuple, columns.to_numpy())) == [
        ("ACR20", "week 4"),
        ("ACR20", "week 12"),
        ("any_AE", "week 12"),
        ("Treg", "time not stated"),
        ("DAS28_ESR", "week 4"),
    ]
    assert len(cov) == 4 * len(columns)
    acr = _cell(cov, "trial1", "ACR20", "week 12")
    assert acr["state"] == "reported"  # read percents beside a derived count
    assert (acr["n_rows"], acr["n_read"], acr["n_derived"], acr["n_pvalues"]) == (4, 3, 1, 1)
    assert (acr["arms_covered"], acr["pooled_rows"], acr["n_arms"]) == (2, 1, 2)
    assert _cell(cov, "trial1", "any_AE", "week 12")["state"] == "derived"  # a statement
    assert _cell(cov, "trial1", "Treg", "time not stated")["state"] == "p-value only"
    assert _cell(cov, "trial1", "DAS28_ESR", "week 4")["state"] == "not reported"
    # a p-value and the number measured, but no value of the outcome
    das = _cell(cov, "trial2", "DAS28_ESR", "week 4")
    assert (das["state"], das["n_rows"], das["n_pvalues"]) == ("p-value only", 2, 1)
    # only a count derived from a read percent is still "reported" (the percent is read)
    assert _cell(cov, "trial3", "ACR20", "week 12")["state"] == "reported"
    assert _cell(cov, "trial3", "ACR20", "week 4")["state"] == "not reported"
    # the study with no outcome row has a row per column, all "not reported"
    assert set(cov.loc[cov["study_id"] == "trial4", "state"]) == {"not reported"}
    assert set(cov["state"]) <= set(COVERAGE_STATES)


def test_derived_only_cell_and_unknown_size(tmp_path: Path) -> None:
    text = OUTCOMES.replace(
        "t3_acr20_pct,trial3,t3_msc,ACR20,12,month 3,percent,=,50.0,12,%,X-S2,Table 2,false,,,,\n",
        "",
    ).replace(
        ",true,count_from_percent,t3_acr20_pct,50.0% × 12 = 6,",
        ",true,statement,,'half of the patients responded' -> 6,",
    )
    folder = tmp_path / "r"
    folder.mkdir()
    for name, body in {
        "sources": SOURCES,
        "studies": STUDIES,
        # and one arm of trial3 without its size: the study's N is unknown
        "arms": ARMS + EXTRA_ARMS.replace("DMARDs,,,,,13,", "DMARDs,,,,,,"),
        "outcomes": text,
    }.items():
        (folder / f"{name}.csv").write_text(body, encoding="utf-8")
    cells = evidence_map_data(load_records(folder))
    cell = _cell(cells, "trial3", "ACR20", "week 12")
    assert (cell["state"], cell["n_read"], cell["n_derived"]) == ("derived", 0, 1)
    assert pd.isna(cell["n_patients"]) and pd.isna(cell["n_patients_from"])
    assert cell["n_label"] == "?"


def test_studies_grouped_by_design_with_their_size(small: TrialRecords) -> None:
    cov = outcome_coverage(small).drop_duplicates("study_id")
    assert cov["study_id"].tolist() == ["trial1", "trial3", "trial4", "trial2"]
    assert cov["design_group"].tolist() == [
        "randomised controlled",
        "non-randomised controlled",
        "single group",
        "single group",
    ]
    sizes = {
        sid: (n, source)
        for sid, n, source in cov[["study_id", "n_patients", "n_patients_from"]].itertuples(
            index=False
        )
    }
    assert sizes["trial1"] == (40, "n_enrolled")
    assert sizes["trial3"] == (25, "sum of arms")  # no n_enrolled: 12 + 13 randomised


def test_outcomes_chosen_ordered_and_labelled(small: TrialRecords) -> None:
    cov = outcome_coverage(
        small, outcomes={"any_AE": "Any adverse event", "WOMAC": "WOMAC"}, by_timepoint=False
    )
    assert cov["outcome"].drop_duplicates().tolist() == ["any_AE", "WOMAC"]
    assert cov["outcome_label"].drop_duplicates().tolist() == ["Any adverse event", "WOMAC"]
    assert set(cov["timepoint"]) == {"any time"}
    # an outcome that no study reports is a column of "not reported"
    assert set(cov.loc[cov["outcome"] == "WOMAC", "state"]) == {"not reported"}
    # over all time points, trial1's ACR20 is one cell holding both time points' rows
    acr = outcome_coverage(small, outcomes=["ACR20"], by_timepoint=False)
    assert _cell(acr, "trial1", "ACR20", "any time")["n_rows"] == 5
    assert acr["outcome_label"].iloc[0] == "ACR20"


def test_default_order_puts_outcomes_of_more_studies_first(small: TrialRecords) -> None:
    order = outcome_coverage(small, by_timepoint=False)["outcome"].drop_duplicates().tolist()
    assert order == ["ACR20", "any_AE", "Treg", "DAS28_ESR"]  # 2 studies, then 1 each


def test_row_order_of_the_records_does_not_matter(msc_ra: TrialRecords) -> None:
    names = list(dict.fromkeys(msc_ra.outcomes["outcome"]))
    shuffled = TrialRecords(
        msc_ra.studies.sample(frac=1.0, random_state=1),
        msc_ra.arms,
        msc_ra.outcomes.sample(frac=1.0, random_state=2),
        msc_ra.sources,
        path=None,
    )
    pd.testing.assert_frame_equal(
        outcome_coverage(shuffled, outcomes=names), outcome_coverage(msc_ra, outcomes=names)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcomes": "ACR20"}, "not a list of outcome names"),
        ({"outcomes": []}, r"outcomes=\[\] is empty"),
        ({"outcomes": ["ACR20", ""]}, r"outcomes\[1\] = '' is not an outcome name"),
        ({"outcomes": ["ACR20", "ACR20"]}, "'ACR20' more than once"),
        ({"outcomes": {"ACR20": 3}}, r"outcomes\['ACR20'\] = 3 is not a label"),
        ({"by_timepoint": "yes"}, "by_timepoint='yes' is not allowed"),
    ],
)
def test_bad_arguments(small: TrialRecords, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=message):
        outcome_coverage(small, **kwargs)
    with pytest.raises(mm.MetaAnalysisError, match=message):
        evidence_map(small, **kwargs)


def test_bad_records(small: TrialRecords) -> None:
    with pytest.raises(mm.MetaAnalysisError, match="records is a DataFrame; give TrialRecords"):
        evidence_map_data(small.outcomes)  # type: ignore[arg-type]
    no_rows = TrialRecords(
        small.studies, small.arms, small.outcomes.iloc[0:0], small.sources, path=None
    )
    with pytest.raises(mm.MetaAnalysisError, match="no outcome rows after baseline"):
        outcome_coverage(no_rows)
    assert set(outcome_coverage(no_rows, outcomes=["ACR20"])["state"]) == {"not reported"}
    no_studies = TrialRecords(
        small.studies.iloc[0:0], small.arms, small.outcomes, small.sources, path=None
    )
    with pytest.raises(mm.MetaAnalysisError, match="records hold no study"):
        outcome_coverage(no_studies)


# --------------------------------------------------------------------------- bundled records


@pytest.fixture(scope="module")
def msc_ra() -> TrialRecords:
    return mm.datasets.load_msc_ra()


def test_bundled_map_counts_match_the_records(msc_ra: TrialRecords) -> None:
    cov = outcome_coverage(msc_ra, by_timepoint=False)
    after_baseline = msc_ra.outcomes[~(msc_ra.outcomes["timepoint_weeks"] == 0).fillna(False)]
    assert len(cov) == len(msc_ra.studies) * after_baseline["outcome"].nunique()
    assert cov["n_rows"].sum() == len(after_baseline)
    held = after_baseline.groupby(["study_id", "outcome"]).size()
    assert (cov["state"] != "not reported").sum() == len(held)
    # a cell is reported exactly when one of its rows is a read value of the outcome
    values = after_baseline[~after_baseline["statistic"].isin(["p_value", "n"])]
    read = values[~values["derived"].astype(bool)].groupby(["study_id", "outcome"]).size()
    assert (cov["state"] == "reported").sum() == len(read)
    with_values = values.groupby(["study_id", "outcome"]).size()
    assert (cov["state"] == "derived").sum() == len(with_values) - len(read)
    assert (cov["state"] == "p-value only").sum() == len(held) - len(with_values)


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysed_study_holds_numbers_in_the_map(msc_ra: TrialRecords, name: str) -> None:
    spec = ANALYSES[name]
    contributing = analysis_input(msc_ra, spec).frame["study_id"].tolist()
    assert contributing, name
    cov = outcome_coverage(msc_ra, outcomes=[spec.outcome])
    for study in contributing:
        mine = cov[cov["study_id"] == study]
        if spec.timepoint_weeks is not None:
            mine = mine[mine["timepoint_weeks"] == spec.timepoint_weeks]
        assert set(mine["state"]) & {"reported", "derived"}, (name, study)


def test_map_data_places_studies_and_columns(msc_ra: TrialRecords) -> None:
    cells = evidence_map_data(msc_ra)
    n_groups = cells["design_group"].nunique()
    n_studies = cells["study_id"].nunique()
    assert cells["row"].nunique() == n_studies
    assert cells["row"].max() == n_studies + n_groups - 1  # one heading row per group
    assert cells.groupby("study_id")["row"].nunique().eq(1).all()
    per_column = cells.groupby("column")[["outcome", "timepoint"]].nunique()
    assert (per_column == 1).all().all()
    assert cells["column"].nunique() == len(cells) // n_studies
    # studies are in design-group order, top to bottom
    firsts = cells.sort_values("row").drop_duplicates("study_id")["design_group"]
    ranks = [DESIGN_GROUPS.index(g) for g in firsts]
    assert ranks == sorted(ranks)
    assert set(cells["n_label"]) >= {str(n) for n in msc_ra.studies["n_enrolled"].dropna()}


# --------------------------------------------------------------------------- figure


def test_figure_draws_each_cell_once_with_its_state(msc_ra: TrialRecords) -> None:
    cells = evidence_map_data(msc_ra)
    ax = evidence_map(msc_ra)
    for state in COVERAGE_STATES:
        (coll,) = [c for c in ax.collections if c.get_gid() == f"evidence-map-{state}"]
        expected = cells.loc[cells["state"] == state, ["column", "row"]].to_numpy(float)
        assert sorted(map(tuple, coll.get_offsets())) == sorted(map(tuple, expected))
    studies = [t.get_text() for t in ax.texts if t.get_gid() == "evidence-map-study"]
    for label in msc_ra.studies["label"]:
        assert label in studies
    headings = [t.get_text() for t in ax.texts if t.get_gid() == "evidence-map-group"]
    assert {g.capitalize() for g in cells["design_group"]} <= set(headings)
    outcomes = [t.get_text() for t in ax.texts if t.get_gid() == "evidence-map-outcome"]
    assert len(outcomes) == cells["outcome"].nunique()
    assert ax.get_title() == ""
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(COVERAGE_STATES)


def test_states_differ_in_shape_and_colour() -> None:
    assert set(STATE_STYLES) == set(COVERAGE_STATES)
    assert len({s.marker for s in STATE_STYLES.values()}) == len(STATE_STYLES)
    assert len({s.edgecolor for s in STATE_STYLES.values()}) == len(STATE_STYLES)


def test_figure_grows_with_the_cells(small: TrialRecords) -> None:
    wide = evidence_map(small).figure.get_size_inches()
    narrow = evidence_map(small, outcomes=["ACR20"], by_timepoint=False).figure.get_size_inches()
    assert wide[0] > narrow[0] + 4 * 0.2
    assert wide[1] == pytest.approx(narrow[1], abs=1.0)


def test_figure_on_given_axes_and_saves(small: TrialRecords, tmp_path: Path) -> None:
    fig, given = plt.subplots(figsize=(8, 4))
    before = dict(plt.rcParams)
    ax = evidence_map(small, ax=given, legend=False)
    assert ax is given and ax.get_legend() is None
    assert dict(plt.rcParams) == before
    for fmt in ("png", "svg", "pdf"):
        path = tmp_path / f"map.{fmt}"
        fig.savefig(path, bbox_inches="tight")
        assert path.stat().st_size > 1000


def test_long_outcome_labels_are_wrapped(small: TrialRecords) -> None:
    label = "serious adverse events leading to discontinuation of the treatment"
    ax = evidence_map(small, outcomes={"ACR20": label})
    (text,) = [t.get_text() for t in ax.texts if t.get_gid() == "evidence-map-outcome"]
    lines = text.split("\n")
    assert len(lines) == 2 and lines[1].endswith("…")
    assert all(len(line) <= 18 for line in lines)


@pytest.mark.slow
def test_image_matches_baseline(msc_ra: TrialRecords, tmp_path: Path) -> None:
    expected = BASELINE_DIR / "msc_ra.png"
    with plt.rc_context(RC):
        fig = evidence_map(msc_ra).figure
        if UPDATE_BASELINES:
            BASELINE_DIR.mkdir(parents=True, exist_ok=True)
            fig.savefig(expected, dpi=100, bbox_inches="tight")
            return
        actual = tmp_path / "msc_ra.png"
        fig.savefig(actual, dpi=100, bbox_inches="tight")
    assert expected.exists(), f"no baseline {expected}; see this module's docstring"
    diff = compare_images(str(expected), str(actual), tol=IMAGE_TOL)
    assert diff is None, diff


def test_baseline_folder_holds_only_this_module_s_images() -> None:
    assert {p.name for p in BASELINE_DIR.glob("*.png")} <= {"msc_ra.png"}
