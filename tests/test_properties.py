"""Properties that hold for every input, checked with hypothesis (STYLE 16).

Each test states a mathematical fact about the model in a one-line comment and
checks it on random inputs: effects in [-5, 5], variances in [1e-3, 10] and
k in [2, 30] studies, for every τ² estimator of :data:`mm.TAU2_METHODS` and
the tests where it matters.

One documented convention raises a :class:`mm.BoundaryWarning` on a small set
of inputs, and those examples are rejected rather than silenced: the
Hartung-Knapp factor being exactly 0 when all effects coincide. ML and REML
likelihoods with several local maxima raise a
:class:`mm.MultimodalLikelihoodWarning` and are kept: the properties hold for
the global maximum. Any other warning fails the test.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import msc_meta as mm
from msc_meta.effects import back_transform, hedges_correction
from msc_meta.pooling import TESTS
from msc_meta.tau2 import ITERATIVE_METHODS

#: Hundreds of examples per estimator: outside `make test-fast`.
pytestmark = pytest.mark.slow

METHODS = sorted(mm.TAU2_METHODS)

#: Closed-form estimators recomputed from reordered or shifted sums agree to rounding.
CLOSED_REL = 1e-9
#: Iterative estimators (ML, REML, EB, PM, PMM) agree to well inside their tol of 1e-10.
ITERATIVE_REL = 1e-7
#: Absolute floor for quantities of order one (effects up to 5, k up to 30): rounding noise.
ABS = 1e-9
#: Effect sizes recomputed from mirrored inputs: a few rounding errors.
EXACT = 1e-12

EFFECT = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
VARIANCE = st.floats(1e-3, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def studies(draw: st.DrawFn, min_k: int = 2, max_k: int = 30) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(min_k, max_k))
    y = draw(hnp.arrays(np.float64, k, elements=EFFECT))
    v = draw(hnp.arrays(np.float64, k, elements=VARIANCE))
    return y, v


def _rel(method: str) -> float:
    return ITERATIVE_REL if method in ITERATIVE_METHODS else CLOSED_REL


def _fit(y: Any, v: Any, **kwargs: Any) -> mm.MetaAnalysisResult:
    """``meta_analysis``, rejecting the examples that hit a documented BoundaryWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mm.meta_analysis(y, v, **kwargs)
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, mm.BoundaryWarning) and "variance factor is 0" in text:
            reject()
        if issubclass(w.category, mm.MultimodalLikelihoodWarning):
            continue
        pytest.fail(f"unexpected {w.category.__name__}: {text}")
    return res


def _close(a: float, b: float, rel: float, abs_: float = ABS) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _assert_fields(
    a: mm.MetaAnalysisResult, b: mm.MetaAnalysisResult, names: tuple[str, ...], rel: float
) -> None:
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, tuple):
            assert all(_close(p, q, rel) for p, q in zip(x, y, strict=True)), (name, x, y)
        else:
            assert _close(x, y, rel), (name, x, y)


# --------------------------------------------------------------------------- pooling


@given(data=studies(), perm=st.data(), test=st.sampled_from(list(TESTS)))
@pytest.mark.parametrize("method", METHODS)
def test_study_order_does_not_matter(
    method: str, data: tuple[np.ndarray, np.ndarray], perm: st.DataObject, test: str
) -> None:
    # every estimator and statistic is a symmetric function of the (y_i, v_i) pairs
    y, v = data
    p = np.array(perm.draw(st.permutations(range(len(y)))))
    a = _fit(y, v, method=method, test=test)
    b = _fit(y[p], v[p], method=method, test=test)
    names = ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "q", "i2", "h2")
    _assert_fields(a, b, (*names, "tau2_ci", "i2_ci"), _rel(method))
    np.testing.assert_allclose(a.weights[p], b.weights, rtol=_rel(method), atol=ABS)


@given(data=studies(), shift=st.floats(-5.0, 5.0))
@pytest.mark.parametrize("method", METHODS)
def test_shifting_effects_shifts_only_the_estimate(
    method: str, data: tuple[np.ndarray, np.ndarray], shift: float
) -> None:
    # tau^2, Q and the weights depend on y only through differences y_i - y_j
    y, v = data
    a = _fit(y, v, method=method)
    b = _fit(y + shift, v, method=method)
    for name in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert _close(getattr(b, name), getattr(a, name) + shift, _rel(method)), name
    _assert_fields(a, b, ("se", "tau2", "q", "i2", "h2", "tau2_ci"), _rel(method))


@given(
    data=studies(),
    scale=st.floats(0.1, 10.0),
    negative=st.booleans(),
    test=st.sampled_from(list(TESTS)),
)
@pytest.mark.parametrize("method", METHODS)
def test_rescaling_effects_and_variances(
    method: str, data: tuple[np.ndarray, np.ndarray], scale: float, negative: bool, test: str
) -> None:
    # y -> a y, v -> a^2 v (a change of units, or a sign flip) gives mu -> a mu,
    # tau^2 -> a^2 tau^2, and leaves Q, I^2, H^2, the p-value and the weights unchanged
    y, v = data
    a = -scale if negative else scale
    r = _fit(y, v, method=method, test=test)
    s = _fit(a * y, a * a * v, method=method, test=test)
    rel = _rel(method)
    assert _close(s.estimate, a * r.estimate, rel)
    assert _close(s.se, scale * r.se, rel)
    assert _close(s.tau2, a * a * r.tau2, rel, ABS * a * a)
    assert all(
        _close(x, a * a * z, rel, ABS * a * a) for x, z in zip(s.tau2_ci, r.tau2_ci, strict=True)
    )
    _assert_fields(r, s, ("q", "i2", "h2", "pvalue"), rel)
    np.testing.assert_allclose(s.weights, r.weights, rtol=rel, atol=ABS)


def _scaled_close(x: float, y: float, rel: float, unit: float) -> bool:
    """Relative comparison with an absolute floor in the units of the rescaled data."""
    return math.isclose(x, y, rel_tol=rel, abs_tol=ABS * unit)


@settings(max_examples=40)
@given(
    data=studies(),
    log10c=st.floats(-150.0, 150.0),
    negative=st.booleans(),
    test=st.sampled_from(list(TESTS)),
    level=st.sampled_from([0.9, 0.95]),
)
@pytest.mark.parametrize("method", METHODS)
def test_equivariance_over_300_orders_of_magnitude(
    method: str,
    data: tuple[np.ndarray, np.ndarray],
    log10c: float,
    negative: bool,
    test: str,
    level: float,
) -> None:
    # a change of units y -> c y, v -> c^2 v for any c from 1e-150 to 1e150 multiplies every
    # location and spread by c (|c|), every variance by c^2, and leaves Q, I^2, H^2,
    # p-values and weights unchanged: the fit works in centred, rescaled units and its
    # convergence criteria are relative
    y, v = data
    c = (-1.0 if negative else 1.0) * 10.0**log10c
    r = _fit(y, v, method=method, test=test, level=level)
    s = _fit(c * y, c * c * v, method=method, test=test, level=level)
    rel = _rel(method)
    a = abs(c)
    lows = (s.ci_high, s.ci_low) if negative else (s.ci_low, s.ci_high)
    pis = (s.pi_high, s.pi_low) if negative else (s.pi_low, s.pi_high)
    pairs = [
        (s.estimate, c * r.estimate, a),
        (s.se, a * r.se, a),
        (lows[0], c * r.ci_low, a),
        (lows[1], c * r.ci_high, a),
        (pis[0], c * r.pi_low, a),
        (pis[1], c * r.pi_high, a),
        (s.ce_estimate, c * r.ce_estimate, a),
        (s.tau2, c * c * r.tau2, c * c),
        (s.tau2_ci[0], c * c * r.tau2_ci[0], c * c),
        (s.tau2_ci[1], c * c * r.tau2_ci[1], c * c),
        (s.q, r.q, 1.0),
        (s.i2, r.i2, 1.0),
        (s.h2, r.h2, 1.0),
        (s.pvalue, r.pvalue, 1.0),
        (s.q_pvalue, r.q_pvalue, 1.0),
    ]
    if r.tau2_se is not None and s.tau2_se is not None:
        pairs.append((s.tau2_se, c * c * r.tau2_se, c * c))
    for i, (x, expected, unit) in enumerate(pairs):
        assert _scaled_close(x, expected, rel, unit), (i, x, expected)
    np.testing.assert_allclose(s.weights, r.weights, rtol=rel, atol=ABS)
    assert (s.iterations > 0) == (r.iterations > 0) or method not in ITERATIVE_METHODS


@given(
    data=studies(),
    level=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]),
    test=st.sampled_from(list(TESTS)),
)
@pytest.mark.parametrize("method", METHODS)
def test_bounds_and_interval_nesting(
    method: str, data: tuple[np.ndarray, np.ndarray], level: float, test: str
) -> None:
    y, v = data
    res = _fit(y, v, method=method, test=test, level=level)
    # tau^2 is a variance: every estimator is floored at 0 (STYLE 9)
    assert res.tau2 >= 0.0
    # I^2 is a percentage, clipped to [0, 100]
    assert 0.0 <= res.i2 <= 100.0
    if res.is_random:
        # H^2 = tau^2 / v~ + 1 >= 1 for random-effects models
        assert res.h2 >= 1.0
    else:
        # the common-effect model reports H^2 = Q / df, which is < 1 when Q < df (as metafor)
        assert res.h2 == pytest.approx(res.q / res.q_df, rel=EXACT)
        assert res.tau2 == 0.0
    # Q is a weighted sum of squares; its p-value and the test's are probabilities
    assert res.q >= 0.0 and 0.0 <= res.q_pvalue <= 1.0 and 0.0 <= res.pvalue <= 1.0
    # the CI is estimate +/- crit * se with crit > 0
    assert res.ci_low <= res.estimate <= res.ci_high
    if res.is_random:
        # the PI half-width crit * sqrt(se^2 + tau^2) is at least the CI half-width crit * se
        assert res.pi_low <= res.ci_low + ABS and res.ci_high <= res.pi_high + ABS
    # the Q-profile bounds solve Q(tau^2) = upper and lower chi^2 quantiles; Q decreases
    lo, hi = res.tau2_ci
    assert 0.0 <= lo <= hi
    assert 0.0 <= res.i2_ci[0] <= res.i2_ci[1] <= 100.0
    assert 1.0 <= res.h2_ci[0] <= res.h2_ci[1]
    # weights 1 / (v_i + tau^2) are positive and reported as percentages
    assert np.all(res.weights > 0.0)
    assert res.weights.sum() == pytest.approx(100.0, rel=EXACT)


@given(data=studies())
@pytest.mark.parametrize("method", METHODS)
def test_random_effects_equals_common_effect_when_tau2_is_zero(
    method: str, data: tuple[np.ndarray, np.ndarray]
) -> None:
    # with tau^2 = 0 the random-effects weights 1/(v_i + tau^2) are the common-effect ones
    y, v = data
    res = _fit(y, v, method=method)
    if res.tau2 == 0.0:
        assert res.estimate == pytest.approx(res.ce_estimate, rel=EXACT, abs=EXACT)
        assert res.se == pytest.approx(res.ce_se, rel=EXACT)
        assert (res.ci_low, res.ci_high) == pytest.approx(
            (res.ce_ci_low, res.ce_ci_high), rel=EXACT, abs=EXACT
        )
        assert (res.pi_low, res.pi_high) == pytest.approx(
            (res.ci_low, res.ci_high), rel=EXACT, abs=EXACT
        )
        if res.is_random:
            assert res.i2 == 0.0 and res.h2 == 1.0


@given(
    k=st.integers(2, 30),
    effect=EFFECT,
    v=hnp.arrays(np.float64, 30, elements=VARIANCE),
)
@pytest.mark.parametrize("test", ["z", "t"])
@pytest.mark.parametrize("method", METHODS)
def test_identical_effects_give_no_heterogeneity(
    method: str, test: str, k: int, effect: float, v: np.ndarray
) -> None:
    # Q = 0 when all effects coincide, so every estimator gives tau^2 = 0 and the
    # pooled estimate is the common value
    y = np.full(k, effect)
    res = _fit(y, v[:k], method=method, test=test)
    assert res.q == pytest.approx(0.0, abs=1e-20)
    assert res.tau2 == pytest.approx(0.0, abs=1e-20)
    assert res.i2 == pytest.approx(0.0, abs=1e-15)
    assert res.estimate == pytest.approx(effect, rel=EXACT, abs=EXACT)
    assert res.estimate == pytest.approx(res.ce_estimate, rel=EXACT, abs=EXACT)
    assert res.tau2_ci == (0.0, 0.0)


def test_chi2_mean_lies_between_its_central_quantiles() -> None:
    # the claim behind the PM-in-Q-profile property: P(chi2_df <= df) is in (0.5, 0.6827]
    # (df = 1: P(Z^2 <= 1) = 0.6827, falling to 0.5 as df grows), so df lies between the
    # alpha/2 and 1 - alpha/2 quantiles whenever alpha <= 0.63
    df = np.arange(1, 5001, dtype=float)
    p = special.chdtr(df, df)
    assert np.all(p > 0.5)
    assert np.all(p <= special.chdtr(1.0, 1.0) + 1e-15)
    assert special.chdtr(1.0, 1.0) == pytest.approx(0.6826894921370859, rel=1e-12)
    assert np.all(np.diff(p) < 0)


@given(data=studies(), level=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999]))
@pytest.mark.parametrize("method", ["PM", "EB", "PMM"])
def test_q_equation_estimators_lie_in_the_q_profile_interval(
    method: str, data: tuple[np.ndarray, np.ndarray], level: float
) -> None:
    # Q(tau^2) decreases; PM/EB solve Q = df and PMM solves Q = median(chi2_df), both between
    # the chi^2 quantiles that define the Q-profile bounds (see the test above), so the
    # estimate is inside [lower, upper]. Not true for REML, ML or DL in general.
    y, v = data
    res = _fit(y, v, method=method, level=level)
    lo, hi = res.tau2_ci
    slack = 1e-9 * (1.0 + res.tau2)
    assert lo - slack <= res.tau2 <= hi + slack


@given(data=studies(), level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_q_profile_lower_bound_is_positive_exactly_when_q_is_significant(
    data: tuple[np.ndarray, np.ndarray], level: float
) -> None:
    # the lower bound solves Q(tau^2) = chi2_{df, 1 - alpha/2}; Q(0) is Cochran's Q, so the
    # bound is 0 exactly when Q <= that quantile
    y, v = data
    res = _fit(y, v, method="DL", level=level)
    critical = special.chdtri(res.q_df, (1 - level) / 2)
    assume(abs(res.q - critical) > 1e-9 * critical)
    assert (res.tau2_ci[0] > 0.0) == (res.q > critical)


@given(data=studies())
def test_orderings_between_estimators(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, v = data
    fits = {m: _fit(y, v, method=m) for m in ("DL", "HS", "HSk", "PM", "EB", "PMM")}
    tau2 = {m: f.tau2 for m, f in fits.items()}
    k = len(y)
    # HSk inflates Q by k/(k-1) >= 1 before the same (Q - k) / sum(w) formula as HS
    assert tau2["HSk"] >= tau2["HS"]
    # EB's estimating equation is PM's (Viechtbauer et al. 2015)
    assert tau2["EB"] == pytest.approx(tau2["PM"], rel=ITERATIVE_REL, abs=ABS)
    # median(chi2_df) < df and Q(tau^2) decreases, so PMM's root lies right of PM's
    assert tau2["PMM"] >= tau2["PM"] - ABS
    # DL is 0 exactly when Cochran's Q <= df
    assert (tau2["DL"] == 0.0) == (fits["DL"].q <= k - 1)


# --------------------------------------------------------------------------- effect sizes


@st.composite
def two_by_two(draw: st.DrawFn, zeros: bool = False) -> dict[str, np.ndarray]:
    """2x2 tables, 1-8 studies; without zero cells unless ``zeros``."""
    k = draw(st.integers(1, 8))
    low = 0 if zeros else 1
    n_t = draw(hnp.arrays(np.int64, k, elements=st.integers(2, 500)))
    n_c = draw(hnp.arrays(np.int64, k, elements=st.integers(2, 500)))
    ev_t = np.array([draw(st.integers(low, n - 1 + (1 - low))) for n in n_t])
    ev_c = np.array([draw(st.integers(low, n - 1 + (1 - low))) for n in n_c])
    return {"events_t": ev_t, "n_t": n_t, "events_c": ev_c, "n_c": n_c}


def _swap_arms(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"events_t": t["events_c"], "n_t": t["n_c"], "events_c": t["events_t"], "n_c": t["n_t"]}


def _swap_outcomes(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {**t, "events_t": t["n_t"] - t["events_t"], "events_c": t["n_c"] - t["events_c"]}


def _effects(measure: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    es = mm.effect_sizes(measure, **kwargs)
    return es["effect"].to_numpy(), es["variance"].to_numpy()


@given(table=two_by_two())
@pytest.mark.parametrize("measure", ["OR", "RR", "RD", "PETO", "AS"])
def test_swapping_arms_negates_binary_effects(measure: str, table: dict[str, np.ndarray]) -> None:
    # every two-group binary measure is a difference (of logs, proportions or arcsines) of
    # the arms, and its variance is symmetric in the arms
    y, v = _effects(measure, **table)
    y2, v2 = _effects(measure, **_swap_arms(table))
    np.testing.assert_allclose(y2, -y, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(v2, v, rtol=EXACT)


@given(table=two_by_two())
@pytest.mark.parametrize("measure", ["OR", "RD", "PETO", "AS"])
def test_swapping_events_and_non_events_negates(
    measure: str, table: dict[str, np.ndarray]
) -> None:
    # log(ad/bc) -> log(bc/ad); p -> 1 - p in both arms; O - E -> -(O - E) with the same
    # hypergeometric variance; asin(sqrt(1 - p)) = pi/2 - asin(sqrt(p)). Not true of RR:
    # the risk ratio of non-events is not a function of the risk ratio of events.
    y, v = _effects(measure, **table)
    y2, v2 = _effects(measure, **_swap_outcomes(table))
    np.testing.assert_allclose(y2, -y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v2, v, rtol=1e-10)


@given(table=two_by_two(zeros=True))
def test_swapping_arms_negates_the_odds_ratio_with_zero_cells(
    table: dict[str, np.ndarray],
) -> None:
    # the 0.5 correction is added to all four cells of a study, symmetric in the arms
    cells = [
        table["events_t"],
        table["n_t"] - table["events_t"],
        table["events_c"],
        table["n_c"] - table["events_c"],
    ]
    if np.any(np.array(cells) == 0, axis=None):
        with pytest.warns(mm.ZeroCellWarning, match=r"added 0.5 to every cell"):
            y, v = _effects("OR", **table)
        with pytest.warns(mm.ZeroCellWarning, match=r"added 0.5 to every cell"):
            y2, v2 = _effects("OR", **_swap_arms(table))
    else:
        y, v = _effects("OR", **table)
        y2, v2 = _effects("OR", **_swap_arms(table))
    np.testing.assert_allclose(y2, -y, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(v2, v, rtol=EXACT)


@st.composite
def two_groups(draw: st.DrawFn) -> dict[str, np.ndarray]:
    k = draw(st.integers(1, 8))
    mean = st.floats(0.1, 100.0)
    sd = st.floats(0.1, 50.0)
    n = st.integers(2, 500)
    return {
        "mean_t": draw(hnp.arrays(np.float64, k, elements=mean)),
        "sd_t": draw(hnp.arrays(np.float64, k, elements=sd)),
        "n_t": draw(hnp.arrays(np.int64, k, elements=n)),
        "mean_c": draw(hnp.arrays(np.float64, k, elements=mean)),
        "sd_c": draw(hnp.arrays(np.float64, k, elements=sd)),
        "n_c": draw(hnp.arrays(np.int64, k, elements=n)),
    }


@given(groups=two_groups())
@pytest.mark.parametrize("measure", ["MD", "SMD", "ROM"])
def test_swapping_arms_negates_mean_differences(
    measure: str, groups: dict[str, np.ndarray]
) -> None:
    # the difference (or log ratio) of means changes sign; the pooled SD, Hedges' c(m)
    # with m = n_t + n_c - 2 and the variances are symmetric in the arms
    swapped = {f"{name}_{arm}": groups[f"{name}_{other}"]
               for name in ("mean", "sd", "n") for arm, other in (("t", "c"), ("c", "t"))}  # fmt: skip
    y, v = _effects(measure, **groups)
    y2, v2 = _effects(measure, **swapped)
    np.testing.assert_allclose(y2, -y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v2, v, rtol=1e-10)


@given(groups=two_groups(), shift=st.floats(-50.0, 50.0), scale=st.floats(0.01, 100.0))
def test_smd_is_unchanged_by_a_change_of_units(
    groups: dict[str, np.ndarray], shift: float, scale: float
) -> None:
    # g = c(m) (mean_t - mean_c) / s_pooled does not depend on the origin or unit of the scale
    y, v = _effects("SMD", **groups)
    moved = {
        **groups,
        "mean_t": scale * groups["mean_t"] + shift,
        "mean_c": scale * groups["mean_c"] + shift,
        "sd_t": scale * groups["sd_t"],
        "sd_c": scale * groups["sd_c"],
    }
    y2, v2 = _effects("SMD", **moved)
    np.testing.assert_allclose(y2, y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(v2, v, rtol=1e-9)


@given(
    r=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-0.99, 0.99)),
    n=st.integers(4, 1000),
)
@pytest.mark.parametrize("measure", ["COR", "ZCOR"])
def test_negating_correlations_negates_the_effect(measure: str, r: np.ndarray, n: int) -> None:
    # r and atanh(r) are odd functions; the variances depend on r^2 (or not on r at all)
    y, v = _effects(measure, r=r, n=n)
    y2, v2 = _effects(measure, r=-r, n=n)
    np.testing.assert_allclose(y2, -y, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(v2, v, rtol=EXACT)


@given(data=st.data(), n=st.integers(2, 1000))
def test_single_group_proportions_under_swapping_events(data: st.DataObject, n: int) -> None:
    # logit(1 - p) = -logit(p); PR gives 1 - p with the same p(1 - p)/n; PAS gives pi/2 - y
    x = data.draw(st.integers(1, n - 1))
    for measure, mirror in (("PLO", lambda y: -y), ("PR", lambda y: 1 - y),
                            ("PAS", lambda y: math.pi / 2 - y)):  # fmt: skip
        y, v = _effects(measure, events=[x], n=[n])
        y2, v2 = _effects(measure, events=[n - x], n=[n])
        assert y2[0] == pytest.approx(mirror(y[0]), rel=1e-10, abs=1e-12)
        assert v2[0] == pytest.approx(v[0], rel=1e-10)


@given(data=st.data(), n=st.integers(1, 10_000))
def test_pft_back_transform_of_one_study_returns_its_proportion(
    data: st.DataObject, n: int
) -> None:
    # Miller's (1978) inverse with the study's own n inverts the double arcsine of x/n
    x = data.draw(st.integers(0, n))
    y, _ = _effects("PFT", events=[x], n=[n])
    p = back_transform("PFT", y, n=[n])
    assert p[0] == pytest.approx(x / n, abs=1e-9)


def test_pft_back_transform_through_a_single_study_meta_analysis() -> None:
    es = mm.effect_sizes("PFT", events=[7], n=[40])
    with pytest.warns(mm.FewStudiesWarning, match="k = 1"):
        res = mm.meta_analysis(es)
    assert res.transform(res.estimate) == pytest.approx(7 / 40, abs=1e-12)


# --------------------------------------------------------------------------- Hedges' c(m)


@given(m=st.floats(1.5, 1e4), ratio=st.floats(1.0001, 100.0))
def test_hedges_correction_in_unit_interval_and_increasing(m: float, ratio: float) -> None:
    # c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)) rises from c(1+) = 0 towards 1
    c1, c2 = float(hedges_correction(m)), float(hedges_correction(m * ratio))
    assert 0.0 < c1 < c2 < 1.0
    # and is close to the usual approximation 1 - 3/(4m - 1) (difference ~ 1/(32 m^2))
    assert abs(c1 - (1 - 3 / (4 * m - 1))) <= 1.0 / m**2


def test_hedges_correction_is_finite_for_huge_m() -> None:
    m = np.geomspace(2.0, 1e12, 400)
    assert np.all(np.isfinite(hedges_correction(m)))


def test_hedges_correction_stays_below_one_and_increasing_for_huge_m() -> None:
    m = np.geomspace(2.0, 1e12, 400)
    c = hedges_correction(m)
    assert np.all((c > 0.0) & (c < 1.0))
    assert np.all(np.diff(c) > 0.0)
