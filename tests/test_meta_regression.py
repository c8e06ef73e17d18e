"""Mixed-effects meta-regression, its permutation test and common-τ² subgroups, against metafor.

The reference values come from ``tests/reference/metafor_regression.json``, written by
``tests/reference/generate_metafor_regression.R`` (``rma(yi, vi, mods = ...)``,
``predict``, ``permutest`` and ``mods = ~ factor(group)``).
"""

from __future__ import annotations

import json
import math
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import msc_meta as mm
from msc_meta import MetaAnalysisError
from msc_meta._errors import DroppedStudiesWarning
from msc_meta.moderators import meta_regression, subgroup_analysis
from msc_meta.tau2 import ITERATIVE_METHODS, Tau2Control
from tests.test_metafor_reference import (
    CLOSED_FORM_ATOL,
    CLOSED_FORM_RTOL,
    ITERATIVE_ATOL,
    ITERATIVE_RTOL,
)

REFERENCE = Path(__file__).parent / "reference" / "metafor_regression.json"
#: metafor's control in the R script (tol 1e-12), as msc_meta's options.
TOL = 1e-12
MAX_ITER = 10000
#: The grid must not shrink (as generated with metafor 3.8.1).
MIN_CASES, MIN_PERMUTEST, MIN_SUBGROUPS = 123, 4, 3
MIN_DATASETS = 10
#: Where metafor is off and the math settles it. The seeded data set with one huge weight
#: (v = 1e-6 beside v ~ 0.1): metafor forms P = W - WX(X'WX)^-1X'W explicitly and loses
#: digits to the huge weight in everything built on it (QE = y'Py, tr(P) for I² and H², the
#: SE of τ²), about 1e-7 relatively. 50-digit arithmetic (mpmath) gives QE =
#: 7.7501496570923260298 (metafor 7.750152865811231) and, for SJ, I² = 42.394945862361032
#: (metafor 42.394950408026624); msc_meta agrees with those to 1e-11. So these fields are
#: compared with metafor at P_RTOL, and with the exact values at the usual tolerance.
P_DATASET = "seeded_huge_weight"
P_FIELDS = frozenset({"qe", "qe_pvalue", "i2", "h2", "tau2_se"})
P_RTOL = 1e-6
EXACT: dict[tuple[str, str], float] = {
    ("*", "qe"): 7.750149657092326029849874432,
    ("SJ", "i2"): 42.394945862361032,
}
SERIES_FIELDS = ("coef", "se", "statistic", "pvalue", "ci_low", "ci_high")
SCALAR_FIELDS = ("qm", "qm_df", "qm_pvalue", "qe", "qe_df", "qe_pvalue", "tau2", "i2", "h2")


@cache
def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _data(case: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v) for k, v in case["data"].items()})


def _fit(case: dict[str, Any], **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MultimodalLikelihoodWarning)
        return meta_regression(
            np.asarray(case["yi"], dtype=float),
            np.asarray(case["vi"], dtype=float),
            case["formula"],
            data=_data(case),
            method=case["method"],
            test=case["test"],
            tol=TOL,
            max_iter=MAX_ITER,
            **kwargs,
        )


def _tol(method: str) -> tuple[float, float]:
    if method in ITERATIVE_METHODS:
        return ITERATIVE_RTOL, ITERATIVE_ATOL
    return CLOSED_FORM_RTOL, CLOSED_FORM_ATOL


def _close(actual: Any, expected: Any, rtol: float, atol: float, what: str) -> None:
    act = np.asarray(actual, dtype=float)
    exp = np.asarray([math.nan if e is None else e for e in np.atleast_1d(expected)], dtype=float)
    np.testing.assert_allclose(act.reshape(exp.shape), exp, rtol=rtol, atol=atol, err_msg=what)


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['dataset']}:{case['formula']}:{case['method']}:{case['test']}"


def test_reference_grid_did_not_shrink() -> None:
    ref = _reference()
    assert ref["r_version"] and ref["metafor_version"]
    assert len(ref["cases"]) >= MIN_CASES
    assert len(ref["permutest"]) >= MIN_PERMUTEST
    assert len(ref["subgroups"]) >= MIN_SUBGROUPS
    assert len({c["dataset"] for c in ref["cases"]}) >= MIN_DATASETS
    assert {c["test"] for c in ref["cases"]} == {"z", "t", "knha", "adhoc"}
    assert set(mm.TAU2_METHODS) - {"FE"} <= {c["method"] for c in ref["cases"]}
    ks = [len(c["yi"]) for c in ref["cases"]]
    assert min(ks) == 3 and max(ks) >= 50


@pytest.mark.parametrize("case", _reference()["cases"], ids=_case_id)
def test_meta_regression_matches_metafor(case: dict[str, Any]) -> None:
    res = _fit(case)
    ref = case["fit"]
    rtol, atol = _tol(case["method"])
    assert list(res.terms) == ref["term"]
    for name in SERIES_FIELDS:
        _close(getattr(res, name).to_numpy(), ref[name], rtol, atol, name)
    _close(res.vcov.to_numpy(), ref["vcov"], rtol, atol, "vcov")

    def tol(name: str) -> tuple[float, float]:
        return (
            (P_RTOL, atol) if case["dataset"] == P_DATASET and name in P_FIELDS else (rtol, atol)
        )

    for name in SCALAR_FIELDS:
        _close(getattr(res, name), ref[name], *tol(name), name)
    if case["dataset"] == P_DATASET:
        for (method, name), exact in EXACT.items():
            if method in ("*", case["method"]):
                assert getattr(res, name) == pytest.approx(exact, rel=1e-10)
    assert res.qm_df2 == ref["qm_df2"]
    if ref["tau2_se"] is None:
        assert math.isnan(res.tau2_se)
    else:
        _close(res.tau2_se, ref["tau2_se"], *tol("tau2_se"), "tau2_se")
    if ref["r2"] is None:
        assert math.isnan(res.r2)
    else:
        # R² divides by the intercept-only τ²: its convergence error is relative to that
        _close(res.r2, ref["r2"], rtol, 1e3 * atol, "r2")
    if "predict" in case:
        pred = res.predict(case["newdata"])
        for name, values in case["predict"].items():
            if not values:  # metafor gives no prediction interval for a common-effect model
                assert case["method"] == "EE"
                continue
            _close(pred[name].to_numpy(), values, rtol, atol, f"predict {name}")


@pytest.mark.parametrize("case", _reference()["permutest"], ids=_case_id)
def test_exact_permutation_test_matches_permutest(case: dict[str, Any]) -> None:
    res = _fit(case)
    perm = res.permutation_test(n=1000)
    assert perm.exact
    assert perm.n == case["n"]
    np.testing.assert_allclose(perm.pvalue.to_numpy(), case["pvalue"], rtol=1e-12)
    assert perm.qm_pvalue == pytest.approx(case["qm_pvalue"], rel=1e-12)


@pytest.mark.parametrize("case", _reference()["subgroups"], ids=lambda c: c["dataset"])
def test_common_tau2_subgroups_match_metafor(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.FewStudiesWarning)
        sub = subgroup_analysis(
            case["yi"],
            case["vi"],
            groups=case["groups"],
            method=case["method"],
            test=case["test"],
            common_tau2=True,
        )
    rtol, atol = _tol(case["method"])
    model = sub.common_tau2_model
    assert model is not None
    order = [list(model.terms).index(g) for g in case["levels"]]
    for name, field in (
        ("coef", "estimate"),
        ("se", "se"),
        ("ci_low", "ci_low"),
        ("ci_high", "ci_high"),
    ):
        _close(getattr(model, name).to_numpy()[order], case[field], rtol, atol, name)
    _close(model.tau2, case["tau2"], rtol, atol, "tau2")
    _close(sub.q_between, case["qm"], rtol, atol, "qm")
    assert sub.q_between_df == case["qm_df"]
    _close(sub.q_between_pvalue, case["qm_pvalue"], rtol, atol, "qm_pvalue")
    frame = sub.to_frame().set_index("subgroup")
    for g, est in zip(case["levels"], case["estimate"], strict=True):
        assert frame.loc[g, "estimate"] == pytest.approx(est, rel=rtol, abs=atol)
        assert frame.loc[g, "tau2"] == pytest.approx(case["tau2"], rel=rtol, abs=atol)


# --------------------------------------------------------------------------- inputs


@pytest.fixture
def bcg_es() -> tuple[Any, pd.DataFrame]:
    bcg = mm.datasets.load_bcg()
    es = mm.effect_sizes(
        "RR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c", labels="study"
    )
    return es, bcg


def test_formula_dataframe_and_array_agree(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    by_formula = meta_regression(es, moderators="~ ablat", data=bcg)
    by_frame = meta_regression(es, moderators=bcg[["ablat"]])
    by_array = meta_regression(es, moderators=bcg["ablat"].to_numpy())
    assert by_frame.terms == ("intrcpt", "ablat")
    assert by_array.terms == ("intrcpt", "x1")
    for other in (by_frame, by_array):
        np.testing.assert_allclose(other.coef.to_numpy(), by_formula.coef.to_numpy())
    cat = meta_regression(es, moderators=bcg[["ablat", "alloc"]])
    assert cat.terms == ("intrcpt", "ablat", "allocrandom", "allocsystematic")
    pred = by_array.predict([10.0, 50.0])
    np.testing.assert_allclose(pred["pred"], by_formula.predict({"ablat": [10, 50]})["pred"])
    fitted = by_formula.predict()
    assert len(fitted) == by_formula.k


def test_summary_html_frame_and_repr(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    res = meta_regression(es, moderators="~ ablat + alloc", data=bcg, test="knha")
    text = str(res.summary())
    assert "F(3, 9)" in text and "allocrandom" in text and "R^2" in text
    assert "<table>" in res._repr_html_()
    assert list(res.to_frame()["term"]) == list(res.terms)
    assert "MetaRegressionResult k=13" in repr(res)


def test_bad_moderators_are_named(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    data = bcg.assign(const=1.0, twice=2.0 * bcg["ablat"])
    with pytest.raises(MetaAnalysisError, match="'const' is constant"):
        meta_regression(es, moderators="~ ablat + const", data=data)
    with pytest.raises(MetaAnalysisError, match="'twice' is a linear combination"):
        meta_regression(es, moderators="~ ablat + twice", data=data)
    with pytest.raises(MetaAnalysisError, match="k = 3 studies but the model has 3"):
        meta_regression([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], np.array([[1, 2], [3, 1], [2, 2.0]]))
    with pytest.raises(MetaAnalysisError, match="give data="):
        meta_regression(es, moderators="~ ablat")
    with pytest.raises(MetaAnalysisError, match="moderators is missing"):
        meta_regression(es)
    res = meta_regression(es, moderators="~ ablat", data=bcg)
    with pytest.raises(MetaAnalysisError, match="lacks the moderator"):
        res.predict({"year": [1950]})


def test_missing_moderators_drop_studies_with_a_warning(
    bcg_es: tuple[Any, pd.DataFrame],
) -> None:
    es, bcg = bcg_es
    data = bcg.assign(ablat=bcg["ablat"].astype(float).where(bcg.index != 2))
    with pytest.warns(DroppedStudiesWarning, match="moderator"):
        res = meta_regression(es, moderators="~ ablat", data=data)
    assert res.k == 12
    full = meta_regression(
        es.iloc[[i for i in range(13) if i != 2]],
        moderators="~ ablat",
        data=bcg.drop(index=2).reset_index(drop=True),
    )
    np.testing.assert_allclose(res.coef.to_numpy(), full.coef.to_numpy())


def test_random_permutation_test_is_reproducible(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    res = meta_regression(es, moderators="~ ablat", data=bcg, method="DL")
    a = res.permutation_test(n=50, rng=1)
    b = res.permutation_test(n=50, rng=np.random.default_rng(1))
    assert not a.exact and a.n == 50
    pd.testing.assert_series_equal(a.pvalue, b.pvalue)
    assert 1 / 50 <= a.qm_pvalue <= 1
    assert "approximate" in repr(a)


def test_common_tau2_false_keeps_the_separate_fits(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    before = subgroup_analysis(es, groups=bcg["alloc"])
    assert before.common_tau2_model is None
    common = subgroup_analysis(es, groups=bcg["alloc"], common_tau2=True)
    assert common.common_tau2_model is not None
    assert "common tau^2" in str(common.summary())
    assert before.groups.keys() == common.groups.keys()


# --------------------------------------------------------------------------- properties


_finite = st.floats(-3, 3, allow_nan=False)


@settings(deadline=None, max_examples=25)
@given(
    y=st.lists(_finite, min_size=5, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.1, 10),
    method=st.sampled_from(["REML", "DL", "ML", "PM"]),
)
def test_order_invariance_and_scale_equivariance(
    y: list[float], seed: int, scale: float, method: str
) -> None:
    rng = np.random.default_rng(seed)
    k = len(y)
    yy = np.asarray(y)
    v = rng.uniform(0.05, 0.5, k)
    x = rng.uniform(0, 5, k)
    kwargs: dict[str, Any] = {"method": method, "tol": TOL, "max_iter": MAX_ITER}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MultimodalLikelihoodWarning)
        base = meta_regression(yy, v, x, **kwargs)
        perm = rng.permutation(k)
        shuffled = meta_regression(yy[perm], v[perm], x[perm], **kwargs)
        scaled = meta_regression(scale * yy, scale**2 * v, x, **kwargs)
    atol = 1e-6 * (1 + float(np.max(np.abs(base.coef))))
    np.testing.assert_allclose(shuffled.coef, base.coef, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(scaled.coef, scale * base.coef, rtol=1e-6, atol=scale * atol)
    assert scaled.qm == pytest.approx(base.qm, rel=1e-6, abs=1e-8)


def test_control_is_kept_for_refits(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    es, bcg = bcg_es
    res = meta_regression(es, moderators="~ ablat", data=bcg, tol=1e-12, max_iter=50)
    assert res.control == Tau2Control(tol=1e-12, max_iter=50)


# --------------------------------------------------------------------------- bubble plot


def test_regplot_data_and_drawing(bcg_es: tuple[Any, pd.DataFrame]) -> None:
    import matplotlib.pyplot as plt  # lazy: matplotlib only for the drawing tests

    from msc_meta.plots import regplot, regplot_data

    es, bcg = bcg_es
    res = meta_regression(es, moderators="~ ablat + alloc", data=bcg)
    data = regplot_data(res, "ablat", n_points=5)
    assert data.mod == "ablat"
    assert data.line["x"].iloc[0] == bcg["ablat"].min()
    assert data.line["x"].iloc[-1] == bcg["ablat"].max()
    assert (data.line["ci_low"] <= data.line["pred"]).all()
    heaviest = int(np.argmax(res.weights))
    assert data.points["size"].iloc[heaviest] == data.points["size"].max()
    with pytest.raises(MetaAnalysisError, match="name the one to plot"):
        regplot_data(res)
    with pytest.raises(MetaAnalysisError, match="intercept"):
        regplot_data(res, "intrcpt")
    simple = meta_regression(es, moderators="~ ablat", data=bcg)
    ax = simple.regplot(pi=True)
    assert ax.get_xlabel() == "ablat"
    ax2 = regplot(res, "ablat", xlabel="Absolute latitude")
    assert ax2.get_xlabel() == "Absolute latitude"
    plt.close("all")
