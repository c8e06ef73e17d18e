"""The permutation test of meta_regression with stacked fits (issue 10).

``permutation_test`` estimates τ² of each arrangement as before and computes the tests of a
block of arrangements in one stacked fit (``_metareg.wls_tests``). Its p-values must be those
of the one-fit-per-arrangement loop it replaced (``_metareg.fit_design`` on each
arrangement), for the same ``rng``: the same arrangements in the same order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta import _metareg, moderators
from msc_meta.tau2 import ITERATIVE_METHODS, TAU2_METHODS, Tau2Control

#: The stacked fit gives each arrangement's statistics to rounding (one LAPACK call per
#: design either way); the p-values, counts of statistics beyond the observed one with
#: metafor's tolerance sqrt(eps), must be identical.
STAT_RTOL = 1e-9


def _loop(res: Any, n: int, rng: Any) -> tuple[pd.Series, float, np.ndarray[Any, Any]]:
    """The permutation test as it was: fit_design on each arrangement, one at a time."""
    design = res.design.to_numpy(dtype=float)
    total = _metareg.n_distinct_permutations(design)
    if total <= n:
        arrangements: Any = list(_metareg.distinct_permutations(design))
    else:
        gen = np.random.default_rng(rng)
        arrangements = [np.arange(res.k) if i == 0 else gen.permutation(res.k) for i in range(n)]
    stats = np.full((len(arrangements), len(res.coef)), np.nan)
    qms = np.full(len(arrangements), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, rows in enumerate(arrangements):
            try:
                fit = _metareg.fit_design(
                    res.effect, res.variance, design[rows], res.intercept, res.method,
                    res.test, res.level, res.control, with_r2=False,
                )  # fmt: skip
            except (mm.MetaAnalysisError, np.linalg.LinAlgError):
                continue
            stats[i] = fit.statistic
            qms[i] = fit.qm
    tol = math.sqrt(np.finfo(float).eps)
    obs = np.abs(res.statistic.to_numpy())
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(stats)
        pvals = ((np.abs(stats) >= obs - tol) & ok).sum(axis=0) / ok.sum(axis=0)
        qm_ok = ~np.isnan(qms)
        qm_p = float(((qms >= res.qm - tol) & qm_ok).sum() / qm_ok.sum())
    return pd.Series(np.minimum(pvals, 1.0), index=list(res.terms), name="pvalue"), qm_p, stats


def _case(k: int, p: int, seed: int) -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(k, p))
    v = rng.uniform(0.01, 0.2, k)
    y = 0.2 + X @ rng.normal(0.0, 0.15, p) + rng.normal(0.0, np.sqrt(v + 0.02))
    return y, v, X


@pytest.mark.parametrize(
    ("method", "test", "k", "p", "n"),
    [
        ("REML", "z", 30, 1, 300),
        ("REML", "knha", 12, 2, 200),
        ("ML", "t", 20, 1, 150),
        ("DL", "adhoc", 15, 3, 200),
        ("EE", "z", 10, 1, 100),
        ("PM", "knha", 25, 1, 120),
        ("SJ", "t", 6, 1, 1000),  # 720 arrangements: the exact test
        ("HE", "z", 5, 2, 200),  # 120 arrangements: exact
    ],
)
def test_permutation_p_values_are_those_of_the_one_at_a_time_loop(
    method: str, test: str, k: int, p: int, n: int
) -> None:
    for seed in range(3):
        y, v, X = _case(k, p, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
            res = mm.meta_regression(y, v, X, method=method, test=test)
        got = res.permutation_test(n=n, rng=seed)
        want, want_qm, _ = _loop(res, n, seed)
        pd.testing.assert_series_equal(got.pvalue, want, check_exact=True)
        assert got.qm_pvalue == want_qm
        assert got.exact == (math.factorial(k) <= n)


def test_block_statistics_equal_fit_design(monkeypatch: pytest.MonkeyPatch) -> None:
    # blocks of 7 arrangements (the last one short), each statistic against fit_design's
    y, v, X = _case(14, 2, 11)
    res = mm.meta_regression(y, v, X, method="REML", test="knha")
    seen: list[np.ndarray[Any, Any]] = []
    real = res._permutation_block

    def spy(designs: Any, taus: Any, stats: Any, qms: Any, start: int) -> None:
        real(designs, taus, stats, qms, start)
        seen.append(stats[start : start + len(designs)].copy())

    monkeypatch.setattr(moderators, "PERMUTATION_BLOCK_CELLS", 7 * res.design.size)
    object.__setattr__(res, "_permutation_block", spy)
    got = res.permutation_test(n=40, rng=5)
    _, _, want = _loop(res, 40, 5)
    assert [len(s) for s in seen] == [7] * 5 + [5]
    np.testing.assert_allclose(np.concatenate(seen), want, rtol=STAT_RTOL)
    assert got.n == 40


def test_a_perfect_fit_with_knha_gives_an_infinite_qm_and_the_same_p_values() -> None:
    # the observed arrangement fits exactly: Hartung-Knapp factor 0, a singular covariance
    # matrix (the stacked solve fails and the block is fitted row by row), QM = inf
    x = np.array([0.1, 0.5, 0.9, 1.3, 2.0, 2.2, 3.1, 3.3])
    y = 1.0 + 2.0 * x
    v = np.full(8, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
        res = mm.meta_regression(y, v, x, method="DL", test="knha")
    assert res.qm == math.inf
    got = res.permutation_test(n=200, rng=2)
    want, want_qm, _ = _loop(res, 200, 2)
    pd.testing.assert_series_equal(got.pvalue, want, check_exact=True)
    assert got.qm_pvalue == want_qm


def test_wls_tests_of_one_design_is_fit_design() -> None:
    y, v, X = _case(9, 3, 4)
    design = np.column_stack([np.ones(9), X])
    for test in ("z", "t", "knha", "adhoc"):
        fit = _metareg.fit_design(
            y, v, design, True, "REML", test, 0.95, Tau2Control(), with_r2=False
        )
        one = _metareg.wls_tests(y, v, design[None], np.array([fit.tau2]), True, test)
        assert np.array_equal(one.coef[0], fit.coef) and one.qm[0] == fit.qm
        assert one.df_resid == fit.df_resid and one.qm_df == fit.qm_df == 3


#: τ² of the stacked ML/REML against the one-design fit: the same steps, so the same
#: iterates up to the rounding of stacked sums (seen: below 1e-15).
TAU2_RTOL = 1e-10


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_stacked_likelihood_fits_are_those_of_each_design(method: str) -> None:
    rng = np.random.default_rng(3)
    at_zero = 0
    for k, p, spread in ((6, 1, 0.0), (12, 2, 0.1), (30, 3, 0.4), (9, 1, 0.02)):
        y, v, X = _case(k, p, int(rng.integers(1000)))
        y = y + rng.normal(0.0, spread, k)
        design = np.column_stack([np.ones(k), X])
        Xs = np.stack([design[rng.permutation(k)] for _ in range(60)])
        got = _metareg.estimate_designs(y, v, method, Xs, Tau2Control())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
            want = np.array([_metareg.estimate(y, v, method, X_, Tau2Control())[0] for X_ in Xs])
        np.testing.assert_allclose(got, want, rtol=TAU2_RTOL, atol=1e-300)
        at_zero += int((want == 0.0).sum())
    assert at_zero > 0  # the boundary is among the cases


def test_other_methods_estimate_one_design_at_a_time() -> None:
    y, v, X = _case(10, 1, 8)
    design = np.column_stack([np.ones(10), X])
    Xs = np.stack([design, design[::-1]])
    for method in ("PM", "EB", "PMM"):
        got = _metareg.estimate_designs(y, v, method, Xs, Tau2Control())
        want = [_metareg.estimate(y, v, method, X_, Tau2Control())[0] for X_ in Xs]
        assert got.tolist() == want


@pytest.mark.parametrize("method", sorted(set(TAU2_METHODS) - ITERATIVE_METHODS))
def test_stacked_closed_forms_are_those_of_each_design(method: str) -> None:
    rng = np.random.default_rng(4)
    positive = 0
    cases = ((5, 1, 0.0), (12, 2, 0.1), (30, 3, 0.4), (9, 1, 0.02), (4, 2, 1.0), (15, 2, 0.5))
    for case, (k, p, spread) in enumerate(cases):
        y, v, X = _case(k, p, int(rng.integers(1000)))
        y = y + rng.normal(0.0, spread, k)
        if case % 2:
            v = v * 10.0 ** rng.uniform(-3, 3, k)  # variances over six decades
        design = np.column_stack([np.ones(k), X])
        Xs = np.stack([design[rng.permutation(k)] for _ in range(40)])
        got = _metareg.estimate_designs(y, v, method, Xs, Tau2Control())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.MetaAnalysisWarning)
            want = np.array([_metareg.estimate(y, v, method, X_, Tau2Control())[0] for X_ in Xs])
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)
        positive += int((want > 0.0).sum())
    assert method == "EE" or positive > 0  # not all on the boundary


def test_closed_form_designs_are_fitted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """DL on 50 arrangements: one stacked fit, no one-design fit."""
    y, v, X = _case(10, 1, 8)
    design = np.column_stack([np.ones(10), X])
    rng = np.random.default_rng(1)
    Xs = np.stack([design[rng.permutation(10)] for _ in range(50)])
    calls: list[int] = []
    real = _metareg.estimate
    monkeypatch.setattr(
        _metareg, "estimate", lambda *a, **kw: (calls.append(1), real(*a, **kw))[1]
    )
    _metareg.estimate_designs(y, v, "DL", Xs, Tau2Control())
    assert calls == []
    _metareg.estimate_designs(y, v, "PM", Xs, Tau2Control())
    assert len(calls) == 50  # the iterative PM: one design at a time
