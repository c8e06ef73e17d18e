"""Subgroup analysis, checked against metafor's separate-subgroup fits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm

#: Closed-form Q on converged REML estimates (metafor run with threshold 1e-12).
TOL = 1e-8


def test_bcg_by_allocation_matches_metafor(bcg_sub: mm.SubgroupResult) -> None:
    """metafor 3.8-1:
    dat <- escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    r <- lapply(split(dat, dat$alloc), function(d) rma(yi, vi, data=d, control=list(threshold=1e-12)))
    rma(sapply(r, coef), sei=sapply(r, function(x) x$se), method="FE")  # QE, QEp
    """
    est = {g: r.estimate for g, r in bcg_sub.groups.items()}
    se = {g: r.se for g, r in bcg_sub.groups.items()}
    assert est == pytest.approx(
        {"alternate": -0.540792961849, "random": -0.970964704263, "systematic": -0.424207391511},
        rel=TOL,
    )
    assert se == pytest.approx(
        {"alternate": 0.281601613104, "random": 0.275956102973, "systematic": 0.359745232433},
        rel=TOL,
    )
    assert bcg_sub.q_between == pytest.approx(1.861444946155, rel=TOL)
    assert bcg_sub.q_between_pvalue == pytest.approx(0.394268758886, rel=TOL)
    assert bcg_sub.q_between_df == 2
    assert list(bcg_sub.groups) == ["random", "alternate", "systematic"]  # order of appearance
    assert bcg_sub.overall.k == 13 and len(bcg_sub.group_of) == 13


def test_summary_and_frame(bcg_sub: mm.SubgroupResult) -> None:
    frame = bcg_sub.to_frame()
    assert list(frame["subgroup"]) == ["random", "alternate", "systematic", "Overall"]
    assert frame["k"].tolist() == [7, 2, 4, 13]
    text = str(bcg_sub.summary())
    assert "Test for subgroup differences" in text and "df = 2" in text
    assert 0 <= bcg_sub.i2_between <= 100


def test_single_group_has_no_test(bcg_sub: mm.SubgroupResult) -> None:
    y, v = bcg_sub.overall.effect, bcg_sub.overall.variance
    one = mm.subgroup_analysis(y, v, ["a"] * len(y))
    assert (one.q_between, one.q_between_df, one.q_between_pvalue) == (0.0, 0, 1.0)
    assert one.groups["a"].estimate == pytest.approx(one.overall.estimate)


def test_bad_groups() -> None:
    y, v = np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.1, 0.1])
    with pytest.raises(mm.MetaAnalysisError, match="groups is missing"):
        mm.subgroup_analysis(y, v)
    with pytest.raises(mm.MetaAnalysisError, match="groups has 2 values but there are 3"):
        mm.subgroup_analysis(y, v, ["a", "b"])
    with pytest.raises(mm.MetaAnalysisError, match=r"groups\[1\] is missing"):
        mm.subgroup_analysis(y, v, ["a", None, "b"])


def test_single_study_subgroup_warns() -> None:
    y, v = np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.1, 0.1])
    with pytest.warns(mm.FewStudiesWarning, match="k = 1"):
        sub = mm.subgroup_analysis(y, v, ["a", "a", "b"])
    assert sub.groups["b"].estimate == pytest.approx(0.3)


def test_subtotals_with_a_common_tau2_are_the_mixed_effects_model(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    # with a common tau^2 the subgroup estimates are the coefficients of mods = ~ 0 + factor(g)
    # (validated against metafor in test_meta_regression); forest plots draw those, not the
    # separate fits
    sub = mm.subgroup_analysis(bcg_rr, groups=bcg["alloc"], common_tau2=True)
    model = sub.common_tau2_model
    assert model is not None
    frame = sub.to_frame().set_index("subgroup")
    rows = mm.plots.forest_data(sub).rows
    diamonds = rows[rows["kind"] == "pooled_re"]["estimate"].to_numpy()[:-1]
    for i, name in enumerate(sub.groups):
        total = sub.subtotal(name)
        assert total.estimate == pytest.approx(model.coef[name], rel=1e-12)
        assert total.se == pytest.approx(model.se[name], rel=1e-12)
        assert total.tau2 == model.tau2
        assert total.k == sub.groups[name].k  # the subgroup's own studies
        assert frame.loc[name, "estimate"] == total.estimate
        assert diamonds[i] == pytest.approx(math.exp(model.coef[name]), rel=1e-12)
        assert sub.groups[name].estimate != pytest.approx(total.estimate)  # separate fit differs


def test_subtotals_with_separate_tau2_are_the_subgroup_fits(bcg_sub: mm.SubgroupResult) -> None:
    for name, fit in bcg_sub.groups.items():
        assert bcg_sub.subtotal(name) is fit
    with pytest.raises(mm.MetaAnalysisError, match="name='nothing' is not a subgroup"):
        bcg_sub.subtotal("nothing")


def test_forest_names_the_f_test_of_a_common_tau2_model_under_hartung_knapp(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    texts = {}
    for test in ("z", "knha"):
        sub = mm.subgroup_analysis(bcg_rr, groups=bcg["alloc"], common_tau2=True, test=test)
        rows = mm.plots.forest_data(sub).rows
        texts[test] = rows[rows["kind"] == "subgroup_test"]["label"].iloc[0]
    assert texts["z"].startswith("Test for subgroup differences: Q = 1.77, df = 2 ")
    assert texts["knha"].startswith("Test for subgroup differences: F = 0.97, df = (2, 10) ")
