"""Leave-one-out refits and Baujat coordinates (msc_meta.sensitivity)."""

from __future__ import annotations

import dataclasses
import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import msc_meta as mm
from msc_meta.plots import baujat_data, influence_data, influence_plot, refit_forest_data
from msc_meta.sensitivity import _leave_one_out, baujat
from tests.test_metafor_reference import (
    CLOSED_FORM_ATOL,
    CLOSED_FORM_RTOL,
    ITERATIVE_ATOL,
    ITERATIVE_METHODS,
    ITERATIVE_RTOL,
)

BCG = mm.datasets.load_bcg()
ARMS = {"events_t": "tpos", "n_t": "n_t", "events_c": "cpos", "n_c": "n_c"}


def _quiet(fit: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
        return fit()


#: Refits of inverse-variance results go through the batch engine, which gives each row what
#: meta_analysis gives to rounding (the issue's per-row target, 1e-8); MH and Peto refits go
#: through result.subset and are compared exactly.
BATCH_RTOL = 1e-8


def _without(i: int, k: int) -> np.ndarray[Any, Any]:
    return np.arange(k) != i


def test_baujat_of_reml_uses_tol_and_max_iter() -> None:
    es = mm.effect_sizes("RR", data=BCG, labels="study", **ARMS)
    # a loose tolerance, so that the refits differ from the default ones by far more than
    # BATCH_RTOL (about 7e-3 in y)
    res = mm.meta_analysis(es, method="REML", tol=1e-2, max_iter=7)
    explicit = [
        _quiet(
            lambda i=i: mm.meta_analysis(
                es[_without(i, res.k)], method="REML", tol=1e-2, max_iter=7
            )
        )
        for i in range(res.k)
    ]
    est = np.array([f.estimate for f in explicit])
    var = np.array([f.se**2 for f in explicit])
    fits = _leave_one_out(res)
    assert not fits.failed.any()
    np.testing.assert_allclose(fits.columns["estimate"], est, rtol=BATCH_RTOL)
    bj = baujat_data(res)
    np.testing.assert_allclose(
        bj["y"].to_numpy(), (est - res.estimate) ** 2 / var, rtol=BATCH_RTOL
    )
    # the default tolerance gives different refits: the options were used
    default = baujat(mm.meta_analysis(es))["y"].to_numpy()
    assert not np.allclose(bj["y"].to_numpy(), default, rtol=1e-4, atol=0.0)


def test_baujat_of_mantel_haenszel_uses_the_zero_cell_options() -> None:
    cells = {
        "events_t": [0, 3, 1, 7, 2],
        "n_t": [20, 25, 18, 30, 22],
        "events_c": [2, 6, 0, 9, 5],
        "n_c": [21, 24, 19, 31, 20],
    }
    res = _quiet(lambda: mm.mantel_haenszel("OR", add=0.25, to="all", **cells))
    fits = _leave_one_out(res)
    assert not fits.failed.any()
    for i in range(res.k):
        fit = {c: fits.columns[c][i] for c in ("estimate", "se", "q")}
        keep = _without(i, res.k)
        explicit = _quiet(
            lambda keep=keep: mm.mantel_haenszel(
                "OR", add=0.25, to="all", **{k: np.asarray(v)[keep] for k, v in cells.items()}
            )
        )
        # Q comes from the study-level effects, which depend on add and to
        assert (fit["estimate"], fit["se"], fit["q"]) == (
            explicit.estimate,
            explicit.se,
            explicit.q,
        )
        default = _quiet(
            lambda keep=keep: mm.mantel_haenszel(
                "OR", **{k: np.asarray(v)[keep] for k, v in cells.items()}
            )
        )
        assert fit["q"] != default.q
    bj = baujat_data(res)
    est = fits.columns["estimate"]
    var = fits.columns["se"] ** 2
    assert np.array_equal(bj["y"].to_numpy(), (est - res.estimate) ** 2 / var)
    assert np.array_equal(bj["x"].to_numpy(), (res.effect - res.estimate) ** 2 / res.variance)


def test_baujat_data_is_the_sensitivity_function() -> None:
    res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="DL")
    pd.testing.assert_frame_equal(baujat_data(res), baujat(res))
    sub = mm.subgroup_analysis(
        [0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], groups=list("abab"), method="DL"
    )
    pd.testing.assert_frame_equal(baujat_data(sub), baujat(sub.overall))


def test_leave_one_out_gives_none_where_a_refit_fails() -> None:
    # without the only study with events in the control group the MH odds ratio is undefined
    res = _quiet(
        lambda: mm.mantel_haenszel(
            "OR", events_t=[1, 2, 3], n_t=[10, 10, 10], events_c=[0, 0, 4], n_c=[10, 10, 10]
        )
    )
    fits = _leave_one_out(res)
    assert fits.failed.tolist() == [False, False, True]
    assert (
        np.isnan(fits.columns["estimate"][2]) and not np.isnan(fits.columns["estimate"][:2]).any()
    )
    assert np.isnan(baujat(res)["y"].iloc[2])


def test_leave_one_out_of_one_study_is_empty_handed() -> None:
    res = _quiet(lambda: mm.meta_analysis([0.1], [0.1]))
    fits = _leave_one_out(res)
    assert fits.failed.tolist() == [True] and np.isnan(fits.columns["estimate"]).all()


@pytest.mark.parametrize("method", ["EE", "DL", "REML"])
def test_leave_one_out_refits_are_subsets(method: str) -> None:
    res = mm.meta_analysis(
        [0.1, 0.3, -0.2, 0.5, 0.2], [0.04, 0.09, 0.05, 0.02, 0.03], method=method
    )
    fits = _leave_one_out(res)
    assert not fits.failed.any()
    for i in range(res.k):
        sub = res.subset(_without(i, res.k))
        assert sub.labels == tuple(lab for j, lab in enumerate(res.labels) if j != i)
        for c in ("estimate", "se", "pvalue", "q", "i2", "tau2"):
            want = sub.tau2 if c == "tau2" else getattr(sub, c)
            np.testing.assert_allclose(fits.columns[c][i], want, rtol=BATCH_RTOL, atol=1e-15)


# --------------------------------------------------------------------------- metafor reference

REFERENCE = Path(__file__).parent / "reference" / "metafor_sensitivity.json"
#: The grid must not shrink (cases as generated with metafor 3.8.1).
MIN_CASES = 72
#: metafor's control in the R script, as msc_meta's options.
CONTROL = {"tol": 1e-12, "max_iter": 10000}
REFIT_FIELDS = {
    "estimate",
    "se",
    "statistic",
    "pvalue",
    "ci_low",
    "ci_high",
    "q",
    "q_pvalue",
    "tau2",
    "i2",
    "h2",
}


@cache
def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _dataset(name: str) -> dict[str, Any]:
    (d,) = [d for d in _reference()["datasets"] if d["name"] == name]
    return d


def _case_ids(kind: str) -> list[str]:
    return [c["id"] for c in _reference()["cases"] if (c["kind"] == "uni") == (kind == "uni")]


def _case(case_id: str) -> dict[str, Any]:
    (c,) = [c for c in _reference()["cases"] if c["id"] == case_id]
    return c


def _tol(case: dict[str, Any]) -> dict[str, float]:
    if case.get("method") in ITERATIVE_METHODS:
        return {"rtol": ITERATIVE_RTOL, "atol": ITERATIVE_ATOL}
    return {"rtol": CLOSED_FORM_RTOL, "atol": CLOSED_FORM_ATOL}


def _fit(case: dict[str, Any]) -> Any:
    d = _dataset(case["dataset"])
    if case["kind"] == "uni":
        return mm.meta_analysis(
            np.asarray(d["yi"], dtype=float),
            np.asarray(d["vi"], dtype=float),
            labels=d["slab"],
            method=case["method"],
            test=case["test"],
            **CONTROL,
        )
    counts = {
        "events_t": d["ai"],
        "n_t": d["n1i"],
        "events_c": d["ci"],
        "n_c": d["n2i"],
        "labels": d["slab"],
    }
    if case["kind"] == "peto":
        return _quiet(lambda: mm.peto(**counts))
    return _quiet(lambda: mm.mantel_haenszel(case["measure"], **counts))


def _compare(frame: pd.DataFrame, expected: dict[str, Any], tol: dict[str, float]) -> None:
    assert list(frame.index) == expected["slab"]
    fields = [f for f in expected if f != "slab"]
    assert set(frame.columns) == set(fields)
    for name in fields:
        want = np.array([np.nan if x is None else x for x in expected[name]], dtype=float)
        np.testing.assert_allclose(frame[name].to_numpy(), want, err_msg=name, **tol)


def test_sensitivity_reference_records_its_provenance() -> None:
    ref = _reference()
    for key in ("r_version", "metafor_version", "generated", "control", "rng_kind"):
        assert ref[key], key
    assert ref["not_generated"] == []
    assert len(ref["cases"]) >= MIN_CASES
    sizes = {len(d["slab"]) for d in ref["datasets"]}
    assert min(sizes) == 3 and max(sizes) >= 37
    assert len([d for d in ref["datasets"] if not d["name"].startswith("seeded")]) >= 6


@pytest.mark.parametrize("case_id", _case_ids("uni"))
def test_leave_one_out_and_cumulative_match_metafor(case_id: str) -> None:
    case = _case(case_id)
    res = _fit(case)
    tol = _tol(case)
    _compare(_quiet(res.leave_one_out), case["leave1out"], tol)
    _compare(_quiet(res.cumulative), case["cumul"], tol)
    _compare(_quiet(lambda: res.cumulative("precision")), case["cumul_precision"], tol)
    keys = np.asarray(_dataset(case["dataset"])["vi"], dtype=float)
    _compare(_quiet(lambda: res.cumulative(keys)), case["cumul_precision"], tol)


@pytest.mark.parametrize("case_id", _case_ids("uni"))
def test_influence_matches_metafor(case_id: str) -> None:
    case = _case(case_id)
    res = _fit(case)
    inf = _quiet(res.influence).to_frame()
    expected = case["influence"]
    tol = _tol(case)
    for name in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "q_del", "hat", "weight"):
        want = np.array([np.nan if x is None else x for x in expected[name]], dtype=float)
        np.testing.assert_allclose(inf[name].to_numpy(), want, err_msg=name, **tol)
    want = np.array(expected["dfbetas"], dtype=float)
    np.testing.assert_allclose(inf["dfbetas"].to_numpy(), want, err_msg="dfbetas", **tol)
    assert list(inf["influential"]) == list(expected["influential"])


@pytest.mark.parametrize("case_id", _case_ids("binary"))
def test_binary_leave_one_out_and_cumulative_match_metafor(case_id: str) -> None:
    case = _case(case_id)
    res = _fit(case)
    tol = {"rtol": CLOSED_FORM_RTOL, "atol": CLOSED_FORM_ATOL}
    _compare(_quiet(res.leave_one_out), case["leave1out"], tol)
    _compare(_quiet(res.cumulative), case["cumul"], tol)


# --------------------------------------------------------------------------- behaviour

Y5 = [0.1, 0.3, -0.2, 0.5, 0.2]
V5 = [0.04, 0.09, 0.05, 0.02, 0.03]


def test_leave_one_out_with_two_studies_warns_at_the_users_line() -> None:
    res = mm.meta_analysis([0.1, 0.4], [0.04, 0.05], method="DL")
    with pytest.warns(mm.FewStudiesWarning, match=r"k >= 3") as rec:
        loo = res.leave_one_out()
    assert rec[0].filename == __file__
    assert any("k >= 3" in n for n in loo.attrs["notes"])
    assert loo.shape == (2, 11)
    with pytest.warns(mm.FewStudiesWarning) as rec:
        mm.sensitivity.leave_one_out(res)
    assert rec[0].filename == __file__
    with pytest.warns(mm.FewStudiesWarning) as rec:
        inf = res.influence()
    assert rec[0].filename == __file__
    assert "k >= 3" in str(inf.summary())


def test_leave_one_out_of_one_study_is_a_nan_row_with_a_note() -> None:
    res = _quiet(lambda: mm.meta_analysis([0.1], [0.1]))
    with pytest.warns(mm.FewStudiesWarning):
        loo = res.leave_one_out()
    assert loo.shape == (1, 11) and bool(loo.isna().all(axis=None))
    assert any("not possible" in n for n in loo.attrs["notes"])


def test_leave_one_out_of_mantel_haenszel_gives_a_nan_row_where_the_refit_fails() -> None:
    res = _quiet(
        lambda: mm.mantel_haenszel(
            "OR", events_t=[1, 2, 3], n_t=[10, 10, 10], events_c=[0, 0, 4], n_c=[10, 10, 10]
        )
    )
    loo = res.leave_one_out()
    assert "tau2" not in loo.columns
    assert bool(loo.iloc[2].isna().all()) and not bool(loo.iloc[0].isna().any())
    assert "'Study 3'" in loo.attrs["notes"][0]


def test_common_effect_tables_have_no_tau2_column() -> None:
    res = mm.meta_analysis(Y5, V5, method="EE")
    assert "tau2" not in res.leave_one_out().columns
    assert "tau2" not in res.cumulative().columns
    assert "tau2" in res.refit(method="DL").leave_one_out().columns


def test_cumulative_orders() -> None:
    res = mm.meta_analysis(Y5, V5, method="DL", labels=list("abcde"))
    as_given = res.cumulative()
    assert list(as_given.index) == list("abcde")
    assert as_given["estimate"].iloc[-1] == pytest.approx(res.estimate, rel=1e-12)
    assert list(res.cumulative("precision").index) == list("deacb")
    by_labels = res.cumulative(np.array(list("edcba")))
    assert list(by_labels.index) == list("edcba")
    keys = res.cumulative([5, 4, 3, 2, 1])
    pd.testing.assert_frame_equal(keys, by_labels)
    es = mm.effect_sizes("RR", data=BCG, labels="study", **ARMS)
    by_column = mm.meta_analysis(es).cumulative("n_t")
    assert by_column.index[0] == BCG.loc[BCG["n_t"].idxmin(), "study"]


@pytest.mark.parametrize(
    ("order", "match"),
    [
        ("year", r"neither 'precision' nor a column.*order=data\['year'\]\.to_numpy\(\)"),
        ([1, 2, 3], "one sort key or label per study"),
        ([1.0, np.nan, 3.0, 4.0, 5.0], r"order\[1\] is missing"),
        (np.array(list("abcdx")), "must name every study once"),
    ],
)
def test_cumulative_rejects_a_bad_order(order: Any, match: str) -> None:
    res = mm.meta_analysis(Y5, V5, labels=list("abcde"))
    with pytest.raises(mm.MetaAnalysisError, match=match):
        res.cumulative(order)


def test_influence_needs_an_inverse_variance_fit_of_two_studies() -> None:
    mh = _quiet(
        lambda: mm.mantel_haenszel("OR", events_t=[1, 2], n_t=[9, 9], events_c=[2, 3], n_c=[9, 9])
    )
    assert not hasattr(mh, "influence")
    with pytest.raises(mm.MetaAnalysisError, match="inverse-variance"):
        mm.sensitivity.influence(mh)
    one = _quiet(lambda: mm.meta_analysis([0.1], [0.1]))
    with pytest.raises(mm.MetaAnalysisError, match="at least 2 studies"):
        one.influence()


def test_influence_result_displays() -> None:
    res = mm.meta_analysis([*Y5, 1.9], [*V5, 0.03])
    inf = res.influence()
    frame = inf.to_frame()
    assert list(frame.columns) == list(mm.sensitivity.INFLUENCE_COLUMNS)
    assert inf.influential == ("Study 6",)
    text = str(inf.summary())
    assert "Study 6" in text and "metafor's rule" in text
    assert "<table" in inf._repr_html_()
    frame.iloc[0, 0] = 99.0  # a copy
    assert inf.to_frame().iloc[0, 0] != 99.0


# --------------------------------------------------------------------------- properties


@settings(max_examples=25)
@given(
    y=hnp.arrays(np.float64, st.integers(3, 12), elements=st.floats(-3.0, 3.0)),
    data=st.data(),
    method=st.sampled_from(["EE", "DL", "REML"]),
)
def test_influence_does_not_depend_on_study_order(
    y: np.ndarray[Any, Any], data: st.DataObject, method: str
) -> None:
    # each study's diagnostics are a function of the set of studies, not of their order
    v = data.draw(hnp.arrays(np.float64, y.size, elements=st.floats(0.01, 2.0)))
    perm = np.asarray(data.draw(st.permutations(range(y.size))))
    labels = [f"s{i}" for i in range(y.size)]
    a = _quiet(lambda: mm.meta_analysis(y, v, labels=labels, method=method, tol=1e-12))
    b = _quiet(
        lambda: mm.meta_analysis(
            y[perm], v[perm], labels=[labels[i] for i in perm], method=method, tol=1e-12
        )
    )
    fa = _quiet(a.influence).to_frame()
    fb = _quiet(b.influence).to_frame().loc[fa.index]
    num = [c for c in fa.columns if c != "influential"]
    np.testing.assert_allclose(fb[num], fa[num], rtol=1e-6, atol=1e-8)
    loo_a, loo_b = _quiet(a.leave_one_out), _quiet(b.leave_one_out).loc[fa.index]
    np.testing.assert_allclose(loo_b, loo_a, rtol=1e-6, atol=1e-8)


@settings(max_examples=25)
@given(
    y=hnp.arrays(np.float64, st.integers(3, 12), elements=st.floats(-3.0, 3.0)),
    data=st.data(),
    shift=st.floats(-5.0, 5.0),
    scale=st.floats(0.2, 5.0),
)
def test_influence_is_equivariant(
    y: np.ndarray[Any, Any], data: st.DataObject, shift: float, scale: float
) -> None:
    # y -> a y + b, v -> a^2 v: the standardized diagnostics stay, tau^2 scales by a^2
    v = data.draw(hnp.arrays(np.float64, y.size, elements=st.floats(0.01, 2.0)))
    a = _quiet(lambda: mm.meta_analysis(y, v, method="DL"))
    b = _quiet(lambda: mm.meta_analysis(scale * y + shift, scale**2 * v, method="DL"))
    fa, fb = _quiet(a.influence).to_frame(), _quiet(b.influence).to_frame()
    for col in ("rstudent", "dffits", "cook_d", "cov_r", "q_del", "hat", "weight", "dfbetas"):
        np.testing.assert_allclose(fb[col], fa[col], rtol=1e-6, atol=1e-8, err_msg=col)
    np.testing.assert_allclose(fb["tau2_del"], scale**2 * fa["tau2_del"], rtol=1e-6, atol=1e-8)
    loo_a, loo_b = _quiet(a.leave_one_out), _quiet(b.leave_one_out)
    np.testing.assert_allclose(loo_b["estimate"], scale * loo_a["estimate"] + shift, atol=1e-7)


# --------------------------------------------------------------------------- plots


def test_refit_forest_data_rows() -> None:
    es = mm.effect_sizes("RR", data=BCG, labels="study", **ARMS)
    res = mm.meta_analysis(es)
    loo = res.leave_one_out()
    fd = refit_forest_data(res)
    assert fd.log_scale and fd.null_value == 1.0
    np.testing.assert_allclose(fd.studies["estimate"], np.exp(loo["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(fd.studies["ci_low"], np.exp(loo["ci_low"]), rtol=1e-12)
    assert fd.studies["label"].tolist() == list(loo.index)
    assert fd.rows["kind"].tolist()[res.k] == "pooled_re"
    cum = refit_forest_data(res, "cumulative", order="precision")
    assert cum.studies["label"].tolist() == list(res.cumulative("precision").index)
    with pytest.raises(mm.MetaAnalysisError, match="kind="):
        refit_forest_data(res, "gosh")  # type: ignore[arg-type]


def test_influence_data_and_plot() -> None:
    import matplotlib.pyplot as plt  # lazy: matplotlib only for the plot tests

    res = mm.meta_analysis([*Y5, 1.9], [*V5, 0.03])
    inf = res.influence()
    data = influence_data(inf)
    assert len(data) == 9 * inf.k
    flagged = data[data["influential"]]["study"].unique().tolist()
    assert flagged == ["Study 6"]
    axes = inf.plot()
    assert len(axes) == 9
    assert axes[2].get_title() == "Cook's distance"
    plt.close(axes[0].figure)
    fig, grid = plt.subplots(2, 2)
    with pytest.raises(mm.MetaAnalysisError, match="draws 9 panels"):
        influence_plot(inf, axes=grid)
    plt.close(fig)


def test_cumulative_refuses_a_missing_value_in_the_order_column() -> None:
    # as for an array of keys with a NaN: a study without a value cannot be placed
    res = mm.meta_analysis(Y5, V5, labels=list("abcde"))
    data = pd.DataFrame({"year": [1990.0, np.nan, 1995.0, 2001.0, 1987.0]})
    with pytest.raises(
        mm.MetaAnalysisError, match=r"study_data\['year'\]\[1\] \('b'\) is missing"
    ):
        dataclasses.replace(res, study_data=data).cumulative("year")
