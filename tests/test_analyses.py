"""The pre-specified MSC-RA analyses: each runs, and its effect sizes match a hand calculation.

Expected numbers are written out from the records (He 2020 Table 2; Álvaro-Gracia 2017
abstract; Park 2018 abstract), with the arithmetic in the test.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.analyses import (
    ANALYSES,
    AnalysisSpec,
    ConflictingSourcesWarning,
    analysis_input,
    run_analysis,
)

EXACT = 1e-12


@pytest.fixture(scope="module")
def records() -> mm.records.TrialRecords:
    return mm.datasets.load_msc_ra()


def _run(name: str) -> mm.analyses.AnalysisResult:
    # every pre-specified analysis has k < 5, so it warns; k = 1 also warns from meta_analysis
    with pytest.warns(mm.FewStudiesWarning):
        return run_analysis(name)


def _row(res: mm.analyses.AnalysisResult, study: str) -> tuple[float, float]:
    es = res.effect_sizes
    i = list(es["study"]).index(study)
    return float(es["effect"].iloc[i]), float(es["variance"].iloc[i])


@pytest.mark.parametrize("name", list(ANALYSES))
def test_every_analysis_runs_and_says_its_k(name: str) -> None:
    res = _run(name)
    assert res.k == len(res.input.frame) >= 1
    assert math.isfinite(res.result.estimate) and math.isfinite(res.result.se)
    text = str(res.summary())
    assert res.spec.title in text and "Comparison" in text
    if res.k < 5:
        assert any("k = " in n or "single study" in n for n in res.notes)
    assert set(res.input.frame.columns) >= {"msc_source", "route", "design", "conversions"}


def test_ifng_addon_acr20_hand_calculation() -> None:
    """He 2020, month 3: ACR20 93.3% (28/30) with IFN-γ vs 53.3% (16/30) without."""
    res = _run("acr20_ifng_addon_w12")
    y, v = _row(res, "He 2020")
    assert y == pytest.approx(math.log((28 / 30) / (16 / 30)), rel=EXACT)
    assert v == pytest.approx(1 / 28 - 1 / 30 + 1 / 16 - 1 / 30, rel=EXACT)
    assert res.k == 1 and res.result.transform(res.result.estimate) == pytest.approx(1.75)
    conv = res.input.frame["conversions"].iloc[0]
    assert "93.3%" in conv and "53.3%" in conv  # counts were derived from percentages


def test_msc_vs_placebo_acr20_merges_dose_cohorts() -> None:
    """Álvaro-Gracia 2017, month 1: 9/20 + 4/20 + 2/6 = 15/46 on MSC vs 2/7 on placebo."""
    res = _run("acr20_msc_vs_control_w4")
    assert list(res.input.frame["study_id"]) == ["alvarogracia2017"]
    row = res.input.frame.iloc[0]
    assert (row["events_t"], row["n_t"], row["events_c"], row["n_c"]) == (15, 46, 2, 7)
    assert "merged arms" in row["conversions"]
    y, v = _row(res, "Álvaro-Gracia 2017")
    assert y == pytest.approx(math.log((15 / 46) / (2 / 7)), rel=EXACT)
    assert v == pytest.approx(1 / 15 - 1 / 46 + 1 / 2 - 1 / 7, rel=EXACT)


def test_single_group_acr20_logit_hand_calculation() -> None:
    """ACR20 at month 1 among MSC-only arms: He 2020 7/30 and Álvaro-Gracia 2017 15/46."""
    res = _run("acr20_msc_single_group_w4")
    assert sorted(res.input.frame["study_id"]) == ["alvarogracia2017", "he2020"]
    y, v = _row(res, "He 2020")
    assert (y, v) == pytest.approx((math.log(7 / 23), 1 / 7 + 1 / 23), rel=EXACT)
    y, v = _row(res, "Álvaro-Gracia 2017")
    assert (y, v) == pytest.approx((math.log(15 / 31), 1 / 15 + 1 / 31), rel=EXACT)
    # IFN-gamma arms are kept out of the MSC single-group analysis
    assert int(res.input.frame.set_index("study_id").loc["he2020", "n"]) == 30
    assert any("Single-group estimate" in n for n in res.notes)


def test_single_group_das28_change_hand_calculation() -> None:
    """DAS28-ESR change at 4 weeks: He 2020 MSC arm −0.69 (SD 0.64, n 30); Park 2018 −1.60 (1.57, 9)."""
    res = _run("das28_change_msc_single_group_w4")
    y, v = _row(res, "He 2020")
    assert (y, v) == pytest.approx((-0.69, 0.64**2 / 30), rel=EXACT)
    y, v = _row(res, "Park 2018")
    assert (y, v) == pytest.approx((-1.60, 1.57**2 / 9), rel=EXACT)
    # Park reports one number over its three dose cohorts
    park = res.input.frame.set_index("study_id").loc["park2018"]
    assert "pooled over 3 arms" in park["conversions"]
    # pooled estimate: REML with Hartung-Knapp, by hand for tau2 = REML solution
    r = res.result
    w = 1 / (np.array([0.64**2 / 30, 1.57**2 / 9]) + r.tau2)
    assert r.estimate == pytest.approx(float(w @ np.array([-0.69, -1.60]) / w.sum()), rel=1e-12)


def test_ifng_addon_das28_mean_difference() -> None:
    res = _run("das28_change_ifng_addon_w12")
    y, v = _row(res, "He 2020")
    assert (y, v) == pytest.approx((-2.51 - -1.05, 0.58**2 / 30 + 0.95**2 / 30), rel=EXACT)


def test_adverse_events_msc_vs_placebo_excludes_one_armed_reports() -> None:
    res = _run("any_ae_msc_vs_control")
    row = res.input.frame.iloc[0]
    assert (row["events_t"], row["n_t"], row["events_c"], row["n_c"]) == (38, 46, 4, 7)
    excluded = res.input.excluded.set_index("study_id")["reason"]
    assert "shadmanfar2018" in excluded.index
    assert "control" in excluded["shadmanfar2018"]


def test_a_number_another_source_contradicts_warns_when_an_analysis_uses_it(
    records: mm.records.TrialRecords,
) -> None:
    # bundled: Shadmanfar 2018's contested 0/15 does not enter the comparison (no placebo count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.FewStudiesWarning)
        warnings.simplefilter("error", ConflictingSourcesWarning)
        res = run_analysis("any_ae_msc_vs_control", records)
    assert not any("contradicted" in n for n in res.notes)
    # a constructed placebo count lets it in: the analysis runs, warns and notes the conflict
    out = records.outcomes
    msc = out[out["row_id"] == "shadmanfar2018_any_ae_msc_count"]
    pbo = msc.assign(
        row_id="test_shadmanfar_pbo",
        arm_id="shadmanfar2018_placebo",
        value=1.0,
        value_text="1",
        conflicts=None,
    )
    recs = dataclasses.replace(records, outcomes=pd.concat([out, pbo], ignore_index=True))
    with (
        pytest.warns(mm.FewStudiesWarning),
        pytest.warns(mm.ZeroCellWarning),  # 0/15 against 1/15
        pytest.warns(
            ConflictingSourcesWarning,
            match=r"row shadmanfar2018_any_ae_msc_count of shadmanfar2018 \(any_AE = 0\) is "
            r"contradicted by another source: EC-R1: 'pain /articular swelling",
        ),
    ):
        res = run_analysis("any_ae_msc_vs_control", recs)
    assert "shadmanfar2018" in set(res.input.frame["study_id"])
    assert any("EC-R1" in n for n in res.notes)


def test_analysis_input_of_a_custom_spec(records: mm.records.TrialRecords) -> None:
    spec = AnalysisSpec(
        name="acr50_ifng_w4",
        title="ACR50 at month 1, IFN-γ add-on",
        kind="two_group_binary",
        outcome="ACR50",
        timepoint_weeks=4,
        experimental=("msc_plus_ifng",),
        control=("msc",),
        measure="OR",
        comparison="MSC + IFN-γ vs MSC",
        rationale="test",
    )
    inp = analysis_input(records, spec)
    row = inp.frame.iloc[0]
    # 33.3% and 6.7% of 30
    assert (row["events_t"], row["n_t"], row["events_c"], row["n_c"]) == (10, 30, 2, 30)
    assert inp.k == 1 and len(inp.excluded) == 7


def test_unknown_analysis_and_empty_analysis_are_errors(records: mm.records.TrialRecords) -> None:
    with pytest.raises(mm.MetaAnalysisError, match="not pre-specified; valid: acr20"):
        run_analysis("nope")
    spec = AnalysisSpec(
        name="crp",
        title="CRP",
        kind="single_group_mean",
        outcome="CRP",
        timepoint_weeks=4,
        experimental=("msc",),
        measure="MN",
        comparison="x",
        rationale="x",
    )
    with pytest.raises(mm.MetaAnalysisError, match="no study reports CRP"):
        run_analysis(spec, records)


def test_method_and_test_can_be_overridden() -> None:
    with pytest.warns(mm.FewStudiesWarning):
        res = run_analysis("acr20_msc_single_group_w4", method="DL", test="z")
    assert res.result.method == "DL" and res.result.test == "z"


# --------------------------------------------------------------------------- direction of effects


def test_every_analysis_states_whether_higher_is_better_or_worse() -> None:
    for spec in ANALYSES.values():
        assert spec.higher_is in ("better", "worse"), spec.name
        assert spec.outcome_label, spec.name
    assert ANALYSES["acr20_msc_vs_control_w4"].higher_is == "better"
    assert ANALYSES["any_ae_msc_vs_control"].higher_is == "worse"
    assert ANALYSES["das28_change_ifng_addon_w12"].higher_is == "worse"
    with pytest.raises(mm.MetaAnalysisError, match="higher_is='more'"):
        dataclasses.replace(ANALYSES["acr20_msc_vs_control_w4"], higher_is="more")  # type: ignore[arg-type]


def test_direction_labels_derive_from_the_outcome_direction() -> None:
    labels = {name: spec.direction_labels for name, spec in ANALYSES.items()}
    assert labels["acr20_msc_vs_control_w4"] == (
        "higher ACR20 response with placebo or DMARDs",
        "higher with MSC",
    )
    assert labels["any_ae_msc_vs_control"] == (
        "lower risk of an adverse event with MSC",
        "lower with placebo or DMARDs",
    )
    assert labels["acr20_ifng_addon_w12"] == (
        "higher ACR20 response with MSC",
        "higher with MSC + IFN-γ",
    )
    assert labels["das28_change_ifng_addon_w12"] == (
        "larger decrease in DAS28-ESR with MSC + IFN-γ",
        "larger decrease with MSC",
    )
    assert labels["das28_change_msc_single_group_w4"] == (
        "decrease in DAS28-ESR after MSC",
        "increase after MSC",
    )
    assert labels["acr20_msc_single_group_w4"] == ("lower ACR20 response", "higher ACR20 response")
    # the wording follows the stated direction of the outcome
    flipped = dataclasses.replace(ANALYSES["acr20_msc_vs_control_w4"], higher_is="worse")
    assert flipped.direction_labels == (
        "lower ACR20 response with MSC",
        "lower with placebo or DMARDs",
    )
    flipped = dataclasses.replace(ANALYSES["das28_change_ifng_addon_w12"], higher_is="better")
    assert flipped.direction_labels == (
        "larger increase in DAS28-ESR with MSC",
        "larger increase with MSC + IFN-γ",
    )
    # neutral words: which side means more of the outcome in which arm, no verdict
    for left, right in labels.values():
        for text in (left, right):
            assert not any(w in text.lower() for w in ("favour", "better", "worse", "benefit"))


def test_null_value_of_each_analysis() -> None:
    nulls = {name: spec.null_value for name, spec in ANALYSES.items()}
    assert nulls == {
        "acr20_msc_single_group_w4": None,  # a single-group proportion has no natural null
        "acr20_msc_single_group_w12": None,
        "das28_change_msc_single_group_w4": 0.0,  # a mean change: no change
        "acr20_msc_vs_control_w4": 1.0,
        "any_ae_msc_vs_control": 1.0,
        "acr20_ifng_addon_w12": 1.0,
        "das28_change_ifng_addon_w12": 0.0,
    }
    assert ANALYSES["acr20_ifng_addon_w12"].arm_names == ("MSC + IFN-γ", "MSC")
    assert ANALYSES["acr20_msc_vs_control_w4"].arm_names == ("MSC", "placebo or DMARDs")
