"""Silent wrong answers, extreme inputs and large k: the cases of the correctness audit.

Each test reproduces an input that gave a wrong answer, a crash or a silent NaN before the
fit moved to centred power-of-two working units with relative convergence, ML/REML took the
global maximum of the likelihood, and the traces of P got O(k), cancellation-free forms.
Reference values are metafor 3.8.1's (with threshold 1e-12) or exact closed forms, as noted.
"""

from __future__ import annotations

import math
import tracemalloc
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.plots.diagnostics import baujat_data

METHODS = sorted(mm.TAU2_METHODS)

#: Iterative estimators converge to a relative tol of 1e-10; metafor's printed digits bound
#: the comparison with its values.
PRINTED = 5e-6
#: Agreement of two fits of the same data in other units: rounding plus convergence (1e-10).
EQUIVARIANT = 1e-8


def _fit(*args: Any, **kwargs: Any) -> tuple[mm.MetaAnalysisResult, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mm.meta_analysis(*args, **kwargs)
    return res, list(caught)


def _categories(caught: list[warnings.WarningMessage]) -> set[type[Warning]]:
    return {w.category for w in caught}


def _loglik(t: Any, y: np.ndarray, v: np.ndarray, reml: bool) -> Any:
    """The (restricted) log-likelihood at each tau2 of ``t``, independently of msc_meta."""
    t = np.atleast_1d(np.asarray(t, dtype=float))[:, None]
    w = 1.0 / (v + t)
    mu = (w * y).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    ll = -0.5 * (np.log(v + t).sum(axis=1) + (w * (y - mu) ** 2).sum(axis=1))
    return ll - 0.5 * np.log(w.sum(axis=1)) if reml else ll


# --------------------------------------------------------------------------- ML and REML


def test_ml_takes_the_interior_maximum_above_the_boundary() -> None:
    # metafor 3.8.1: tau2 = 18.6136, estimate -1.4986, logLik -8.921 (against -13.388 at 0);
    # msc_meta gave tau2 = 0 and 0.422 with no warning
    res, caught = _fit([0.5, -8.3, 3.0], [0.0462, 3.8295, 4.3455], method="ML")
    assert res.tau2 == pytest.approx(18.6136, rel=PRINTED)
    assert res.estimate == pytest.approx(-1.4986, abs=1e-4)
    messages = [str(w.message) for w in caught if w.category is mm.MultimodalLikelihoodWarning]
    assert len(messages) == 1
    assert "2 local maxima" in messages[0]
    assert (
        "(log-likelihood -8.92069)" in messages[0] and "(log-likelihood -13.3885)" in messages[0]
    )


def test_reml_takes_the_interior_maximum_above_the_boundary() -> None:
    # metafor 3.8.1: tau2 = 2.98138; msc_meta gave 0
    res, caught = _fit([1.0, -3.9, 0.2], [0.669, 3.345, 0.08], method="REML")
    assert res.tau2 == pytest.approx(2.98138, rel=PRINTED)
    assert mm.MultimodalLikelihoodWarning in _categories(caught)


def _bimodal_candidates(rng: np.random.Generator, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Small meta-analyses prone to bimodal likelihoods, of two shapes in turn.

    One precise study far from imprecise ones (ML's typical case), and a cluster of precise
    studies beside one or two less precise ones at another value (REML's, as
    y = [0, 1, 1], v = [0.125, 0.0078, 0.0078], found by the property tests).
    """
    out = []
    for i in range(n):
        if i % 2:
            k = int(rng.integers(3, 6))
            v = np.concatenate(
                ([10 ** rng.uniform(-2.5, -0.5)], 10 ** rng.uniform(-0.5, 1, k - 1))
            )
            y = np.concatenate(([0.0], rng.normal(rng.uniform(1, 6), 1.0, k - 1)))
        else:
            m, j = int(rng.integers(2, 4)), int(rng.integers(1, 3))
            v = np.concatenate((10 ** rng.uniform(-2.5, -1.5, m), 10 ** rng.uniform(-1.2, 0, j)))
            y = np.concatenate((rng.normal(1.0, 0.05, m), rng.normal(0.0, 0.1, j)))
        out.append((y, v))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ML", "REML"])
def test_search_for_bimodal_likelihoods_finds_the_global_maximum(method: str) -> None:
    # brute force: the log-likelihood on 4,000 points up to the bound beyond which the score
    # is negative; msc_meta's estimate must be at least as high as every point
    reml = method == "REML"
    rng = np.random.default_rng(20261130)
    multimodal = 0
    for y, v in _bimodal_candidates(rng, 150):
        res, caught = _fit(y, v, method=method)
        multimodal += mm.MultimodalLikelihoodWarning in _categories(caught)
        rng_y = float(y.max() - y.min())
        grid = np.concatenate(([0.0], np.geomspace(1e-6, 1.01 * max(v.max(), 4 * rng_y**2), 4000)))
        brute = float(np.max(_loglik(grid, y, v, reml)))
        assert float(_loglik(res.tau2, y, v, reml)[0]) >= brute - 1e-9, (y, v, res.tau2)
    # the search is not vacuous: many of these likelihoods have two local maxima
    assert multimodal >= 10


def test_reml_converges_for_effects_in_the_thousands() -> None:
    # ran 1,000 iterations and reported non-convergence; tau2 = 4,942,543.1183 (metafor)
    res, caught = _fit([1294, 1007, -2711], [281566, 120908, 35792], method="REML")
    assert res.converged and res.iterations < 50
    assert res.tau2 == pytest.approx(4942543.1183, rel=1e-10)
    assert not any(issubclass(c, mm.ConvergenceWarning) for c in _categories(caught))


@pytest.mark.parametrize(
    ("y", "v", "tau2", "se"),
    [
        # metafor 3.8.1 and the exact value: 44,627.39 (msc_meta reported 39,520)
        ([-0.01, -21.83, -49.64], [0.001, 99580.903, 1e5], 0.0, 44627.39159),
        # k = 2 at tau2 = 0: tr(PP) = 4 (w1 w2 / (w1 + w2))^2, so SE = (v1 + v2) / sqrt(2)
        # exactly (msc_meta raised "math domain error")
        ([0.0, 1.0], [1e-6, 1000.0], 0.0, (1e-6 + 1000.0) / math.sqrt(2.0)),
    ],
)
def test_reml_tau2_standard_error_without_cancellation(
    y: list[float], v: list[float], tau2: float, se: float
) -> None:
    res, _ = _fit(y, v, method="REML")
    assert res.tau2 == tau2
    assert res.tau2_se == pytest.approx(se, rel=1e-9)


# --------------------------------------------------------------------------- units and scale


@pytest.mark.parametrize("method", METHODS)
def test_bcg_in_other_units_gives_the_same_answer(method: str, bcg_rr: mm.EffectSizes) -> None:
    # BCG log risk ratios x 1e-5 (variances x 1e-10) gave PM tau2 0.0988 instead of 0.3181
    # and REML 0.3119 instead of 0.3132 (after rescaling), silently
    y, v = bcg_rr["effect"].to_numpy(), bcg_rr["variance"].to_numpy()
    ref, _ = _fit(y, v, method=method)
    for c in (1e-5, 1e3, 3.7e-120, 2.0**500):
        res, _ = _fit(c * y, c * c * v, method=method)
        assert res.tau2 == pytest.approx(c * c * ref.tau2, rel=EQUIVARIANT, abs=1e-300)
        assert res.estimate == pytest.approx(c * ref.estimate, rel=EQUIVARIANT)
        assert res.tau2_ci == pytest.approx(tuple(c * c * b for b in ref.tau2_ci), rel=1e-8)
    if method in ("PM", "REML"):
        expected = {"PM": 0.3181, "REML": 0.3132}[method]
        assert ref.tau2 == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize("method", METHODS)
def test_effects_with_a_large_common_offset_keep_their_digits(
    method: str, bcg_rr: mm.EffectSizes
) -> None:
    # effects near 1e8 lost six digits of tau2 (and of the Q-profile bounds) when fitted
    # uncentred; centred, only the rounding of the inputs themselves remains (ulp(1e8) = 1.5e-8)
    # deviations of order 1e-4 on an offset of 1e8 (a mean of 1e8 units, say)
    y, v = 1e-4 * bcg_rr["effect"].to_numpy(), 1e-8 * bcg_rr["variance"].to_numpy()
    offset = 1e8
    shifted = (y + offset) - offset  # the effects as the offset data can hold them
    ref, _ = _fit(shifted, v, method=method)
    res, _ = _fit(y + offset, v, method=method)
    assert res.tau2 == pytest.approx(ref.tau2, rel=1e-9, abs=0.0)
    assert res.tau2_ci == pytest.approx(ref.tau2_ci, rel=1e-9, abs=0.0)
    assert res.estimate - offset == pytest.approx(ref.estimate, abs=3e-8)


# --------------------------------------------------------------------------- extreme numbers

EXTREME = [
    # (effects, variances): every one crashed or gave NaN for some methods
    ([0.1, 0.2, 0.3], [1e300] * 3),  # ZeroDivisionError in Fisher scoring
    ([0.1, 0.2, 0.3], [1e-156, 2e-156, 3e-156]),  # ZeroDivisionError in i2_from_q
    ([0.1e85, 0.2e85, 0.35e85], [1e170, 2e170, 1e170]),  # REML and ML crashed
    ([1e100, 2e100, -1e100, 0.5e100], [1.0, 2.0, 0.5, 1.0]),  # OverflowError in SJ, ML, REML
    ([1e-162, 2e-162, 3.5e-162], [5e-324, 1e-323, 5e-324]),  # denormal variances: NaN
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", range(len(EXTREME)))
def test_extreme_but_legal_numbers_give_the_answer_of_ordinary_units(
    method: str, case: int
) -> None:
    # the same data in ordinary units, by an exact power of two where the variances are
    # denormal; the fit of the extreme data must be that fit, rescaled
    y, v = (np.asarray(a, dtype=float) for a in EXTREME[case])
    e = round(math.log2(math.sqrt(float(np.median(v)))))
    y1, v1 = np.ldexp(y, -e), np.ldexp(v, -2 * e)
    ref, _ = _fit(y1, v1, method=method)
    res, caught = _fit(y, v, method=method)
    bad = [w for w in caught if not issubclass(w.category, mm.MetaAnalysisWarning)]
    assert not bad, [str(w.message) for w in bad]
    for name in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert getattr(res, name) == pytest.approx(math.ldexp(getattr(ref, name), e), rel=1e-8)
    assert res.tau2 == pytest.approx(math.ldexp(ref.tau2, 2 * e), rel=1e-8, abs=0.0)
    for name in ("q", "i2", "h2", "pvalue"):
        assert getattr(res, name) == pytest.approx(getattr(ref, name), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_an_unrepresentable_q_is_an_error_naming_it(method: str) -> None:
    # effects 1e155 apart with unit variances: Q ~ 1e310 and tau2 ~ 1e310 exceed the largest
    # double; DL, HE and HS crashed with ZeroDivisionError
    with pytest.raises(mm.MetaAnalysisError, match=r"Q cannot be represented|tau2 .* too large"):
        mm.meta_analysis([1e155, 2e155, -1e155], [1.0, 1.0, 1.0], method=method)


@pytest.mark.parametrize("method", METHODS)
def test_an_unrepresentable_typical_variance_is_an_error_naming_it(method: str) -> None:
    # effects near the largest double and variances 1.7e308: in working units the weights
    # overflow and the typical variance is 0; DL raised ZeroDivisionError in i2_from_tau2
    # (found by the batch engine, which flags such rows)
    with pytest.raises(
        mm.MetaAnalysisError, match=r"cannot be represented|too large|too far apart"
    ):
        mm.meta_analysis([1e308, -1e308, -1e308], [1.7e308] * 3, method=method)


def test_variances_too_far_apart_for_one_scale_is_an_error_naming_the_study() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"variance\[0\] = 4.94066e-324"):
        mm.meta_analysis([0.1, 0.2, 0.3], [5e-324, 1e300, 1e300])


def test_standard_errors_whose_square_underflows_are_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"se\[1\] = 1e-170: its square"):
        mm.meta_analysis([0.1, 0.2, 0.3], se=[0.1, 1e-170, 0.2])


# --------------------------------------------------------------------------- large k


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_memory_is_linear_in_k(method: str) -> None:
    # DL, HE and SJ built a k x k matrix: k = 15,000 took 3.5 GB. With k = 20,000 a k x k
    # matrix is 3.2 GB; the fit (with Q-profile intervals) must stay below 40 MB
    rng = np.random.default_rng(7)
    k = 20_000
    v = 10 ** rng.uniform(-3, 0, k)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    tracemalloc.start()
    try:
        res = mm.meta_analysis(y, v, method=method)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.k == k and math.isfinite(res.tau2)
    assert peak < 40e6, peak


@pytest.mark.parametrize("method", METHODS)
def test_large_k_agrees_with_the_matrix_formulas(method: str) -> None:
    # the O(k) traces of P equal the k x k matrix computation (meta-regression's path with
    # an intercept-only design)
    from msc_meta.tau2 import Tau2Control, fit_working, working_units

    rng = np.random.default_rng(3)
    k = 300
    v = 10 ** rng.uniform(-4, 2, k)
    y = rng.normal(0.0, np.sqrt(v + 0.3))
    y_w, v_w, _ = working_units(y, v)
    a = fit_working(y_w, v_w, method, None, Tau2Control())
    b = fit_working(y_w, v_w, method, np.ones((k, 1)), Tau2Control())
    assert a.tau2 == pytest.approx(b.tau2, rel=1e-9, abs=1e-15)
    if a.se is not None and b.se is not None:
        assert a.se == pytest.approx(b.se, rel=1e-8)


# --------------------------------------------------------------------------- pandas inputs


def test_series_are_aligned_by_index_not_position() -> None:
    # Series([.1, .2, .9], index=[0, 1, 2]) with Series([.01, .02, .5], index=[2, 1, 0]) were
    # paired by position: the variance of study 0 is 0.5, not 0.01
    effect = pd.Series([0.1, 0.2, 0.9], index=[0, 1, 2])
    variance = pd.Series([0.01, 0.02, 0.5], index=[2, 1, 0])
    res = mm.meta_analysis(effect, variance)
    ref = mm.meta_analysis([0.1, 0.2, 0.9], [0.5, 0.02, 0.01])
    assert (res.estimate, res.tau2) == (ref.estimate, ref.tau2)
    np.testing.assert_array_equal(res.variance, [0.5, 0.02, 0.01])


def test_series_with_other_labels_are_refused() -> None:
    effect = pd.Series([0.1, 0.2, 0.9], index=["a", "b", "c"])
    variance = pd.Series([0.01, 0.02, 0.5], index=["a", "b", "d"])
    with pytest.raises(mm.MetaAnalysisError, match=r"different index labels \('c', 'd'\)"):
        mm.meta_analysis(effect, variance)
    with pytest.raises(mm.MetaAnalysisError, match="se and effect"):
        mm.meta_analysis(effect, se=variance)


def test_frame_with_disagreeing_variance_and_se_is_refused() -> None:
    frame = pd.DataFrame(
        {"study": ["A", "B"], "effect": [0.1, 0.3], "variance": [0.04, 0.09], "se": [0.2, 0.5]}
    )
    with pytest.raises(mm.MetaAnalysisError, match=r"disagree in 1 row.*\[1\] \('B'\)"):
        mm.meta_analysis(frame)
    frame["se"] = [0.2, 0.3]
    assert mm.meta_analysis(frame).k == 2
    # a row with only one of the two uses it
    frame = pd.DataFrame(
        {"effect": [0.1, 0.3, 0.2], "variance": [0.04, np.nan, 0.01], "se": [np.nan, 0.3, 0.1]}
    )
    res = mm.meta_analysis(frame)
    np.testing.assert_allclose(res.variance, [0.04, 0.09, 0.01], rtol=1e-15)


def test_dir_shows_the_public_api_only() -> None:
    names = dir(mm)
    for helper in ("Any", "TYPE_CHECKING", "annotations", "importlib"):
        assert helper not in names
    assert set(mm.__all__) <= set(names)
    assert {"tau2", "pooling", "plots", "datasets"} <= set(names)


# --------------------------------------------------------------------------- silent NaN


def test_subgroup_test_with_a_zero_se_subgroup_warns_and_is_nan() -> None:
    # test="knha" and a subgroup of identical effects: Q-between was NaN with a numpy warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sub = mm.subgroup_analysis(
            [0.1, 0.1, 0.1, 0.5, 0.9, 0.2],
            [0.1, 0.2, 0.1, 0.1, 0.2, 0.3],
            ["a", "a", "a", "b", "b", "b"],
            test="knha",
        )
    assert math.isnan(sub.q_between) and math.isnan(sub.q_between_pvalue)
    assert math.isnan(sub.i2_between)
    texts = [str(w.message) for w in caught if w.category is mm.BoundaryWarning]
    assert any("subgroup differences is undefined" in t and "'a'" in t for t in texts)
    assert all(issubclass(w.category, mm.MetaAnalysisWarning) for w in caught)


def test_baujat_with_zero_se_refits_warns_and_is_nan() -> None:
    res, _ = _fit([0.3, 0.3, 0.5], [0.1, 0.2, 0.3], test="knha")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bj = baujat_data(res)
    assert np.isnan(bj["y"].iloc[2]) and np.isfinite(bj["y"].iloc[:2]).all()
    assert [w.category for w in caught] == [mm.BoundaryWarning]
    assert "'Study 3'" in str(caught[0].message)


def test_correlation_variance_is_undefined_for_n_of_three() -> None:
    # metafor's escalc: "Cannot estimate the sampling variance when ni <= 3" (vi = NA)
    with pytest.warns(mm.MetaAnalysisWarning, match=r"cannot be estimated when n <= 3"):
        es = mm.effect_sizes("COR", r=[0.5, 0.3], n=[3, 4])
    assert np.isnan(es["variance"].iloc[0])
    assert es["variance"].iloc[1] == pytest.approx((1 - 0.09) ** 2 / 3, rel=1e-15)


def test_a_score_positive_at_the_bound_is_reported_not_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the score is negative above the scan's bound in exact arithmetic; should rounding ever
    # say otherwise, the fit says it did not converge instead of failing or guessing silently
    from msc_meta import tau2

    monkeypatch.setattr(tau2, "_score_grid", lambda ts, *args: np.ones_like(ts))
    with pytest.warns(mm.ConvergenceWarning, match="REML: the iteration did not converge"):
        res = mm.meta_analysis([0.1, 0.5, 0.9], [0.1, 0.1, 0.1], method="REML")
    assert not res.converged
