"""Leave-one-out refits and Baujat coordinates (msc_meta.sensitivity)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.plots import baujat_data
from msc_meta.sensitivity import _leave_one_out, baujat

BCG = mm.datasets.load_bcg()
ARMS = {"events_t": "tpos", "n_t": "n_t", "events_c": "cpos", "n_c": "n_c"}


def _quiet(fit: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
        return fit()


def _without(i: int, k: int) -> np.ndarray[Any, Any]:
    return np.arange(k) != i


def test_baujat_of_reml_uses_tol_and_max_iter() -> None:
    es = mm.effect_sizes("RR", data=BCG, labels="study", **ARMS)
    res = mm.meta_analysis(es, method="REML", tol=1e-6, max_iter=7)
    fits = _leave_one_out(res)
    assert all(f is not None and (f.spec.tol, f.spec.max_iter) == (1e-6, 7) for f in fits)
    explicit = [
        _quiet(
            lambda i=i: mm.meta_analysis(
                es[_without(i, res.k)], method="REML", tol=1e-6, max_iter=7
            )
        )
        for i in range(res.k)
    ]
    est = np.array([f.estimate for f in explicit])
    var = np.array([f.se**2 for f in explicit])
    bj = baujat_data(res)
    assert np.array_equal(bj["y"].to_numpy(), (est - res.estimate) ** 2 / var)
    # the default tolerance gives (slightly) different refits: the options were used
    assert not np.array_equal(bj["y"].to_numpy(), baujat(mm.meta_analysis(es))["y"].to_numpy())


def test_baujat_of_mantel_haenszel_uses_the_zero_cell_options() -> None:
    cells = {
        "events_t": [0, 3, 1, 7, 2],
        "n_t": [20, 25, 18, 30, 22],
        "events_c": [2, 6, 0, 9, 5],
        "n_c": [21, 24, 19, 31, 20],
    }
    res = _quiet(lambda: mm.mantel_haenszel("OR", add=0.25, to="all", **cells))
    fits = _leave_one_out(res)
    for i, fit in enumerate(fits):
        assert fit is not None
        assert (fit.spec.add, fit.spec.to, fit.spec.drop00) == (0.25, "all", True)
        keep = _without(i, res.k)
        explicit = _quiet(
            lambda keep=keep: mm.mantel_haenszel(
                "OR", add=0.25, to="all", **{k: np.asarray(v)[keep] for k, v in cells.items()}
            )
        )
        # Q comes from the study-level effects, which depend on add and to
        assert (fit.estimate, fit.se, fit.q) == (explicit.estimate, explicit.se, explicit.q)
        default = _quiet(
            lambda keep=keep: mm.mantel_haenszel(
                "OR", **{k: np.asarray(v)[keep] for k, v in cells.items()}
            )
        )
        assert fit.q != default.q
    bj = baujat_data(res)
    est = np.array([f.estimate for f in fits if f is not None])
    var = np.array([f.se**2 for f in fits if f is not None])
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
    assert fits[2] is None and fits[0] is not None and fits[1] is not None
    assert np.isnan(baujat(res)["y"].iloc[2])


def test_leave_one_out_of_one_study_is_empty_handed() -> None:
    res = _quiet(lambda: mm.meta_analysis([0.1], [0.1]))
    assert _leave_one_out(res) == [None]


@pytest.mark.parametrize("method", ["EE", "DL", "REML"])
def test_leave_one_out_refits_are_subsets(method: str) -> None:
    res = mm.meta_analysis(
        [0.1, 0.3, -0.2, 0.5, 0.2], [0.04, 0.09, 0.05, 0.02, 0.03], method=method
    )
    for i, fit in enumerate(_leave_one_out(res)):
        assert fit is not None
        assert fit.labels == tuple(lab for j, lab in enumerate(res.labels) if j != i)
        assert fit.estimate == res.subset(_without(i, res.k)).estimate
