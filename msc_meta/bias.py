"""Small-study effects and publication bias: Egger's and Begg's tests, trim-and-fill, fail-safe N.

Each analysis reproduces metafor's function of the same purpose (``regtest``,
``ranktest``, ``trimfill``, ``fsn``) and returns a small frozen result with
``summary()``, ``_repr_html_`` and ``to_frame()``. With fewer than
:data:`MIN_STUDIES` studies each warns (:class:`~msc_meta.FewStudiesWarning`)
and says so in its summary: the tests then have little power and an
asymmetric funnel arises by chance.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from . import _format
from ._errors import BoundaryWarning, FewStudiesWarning, MetaAnalysisError, MetaAnalysisWarning
from ._inference import TESTS, chi2_sf, critical_value, two_sided_p
from ._validation import as_1d, check_choice, check_no_inf, check_positive
from .pooling import meta_analysis
from .results import MetaAnalysisResult, Summary
from .tau2 import Tau2Control, canonical_method, estimate_tau2, loglik

__all__ = [
    "MIN_STUDIES",
    "FailSafeN",
    "RankTest",
    "RegressionTest",
    "SelectionModel",
    "TrimAndFill",
    "begg_test",
    "egger_test",
    "fail_safe_n",
    "selection_model",
    "trim_and_fill",
]

FloatArray = NDArray[np.float64]

#: Below this many studies the tests of small-study effects mean little (Sterne et al. 2011).
MIN_STUDIES = 10
#: Predictors of :func:`egger_test` (metafor's ``regtest`` codes).
PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")


def _few_note(k: int) -> str:
    return (
        f"only k = {k} studies (fewer than {MIN_STUDIES}): the test has little power and "
        "funnel asymmetry arises by chance; interpret with caution"
    )


def _few_studies(k: int, what: str, stacklevel: int) -> tuple[str, ...]:
    """Warn and return the summary note when k is below :data:`MIN_STUDIES`."""
    if k >= MIN_STUDIES:
        return ()
    warnings.warn(f"{what}: {_few_note(k)}", FewStudiesWarning, stacklevel=stacklevel + 1)
    return (_few_note(k),)


def _control(result: MetaAnalysisResult) -> Tau2Control:
    spec = result.spec
    if spec is None or spec.tol is None or spec.max_iter is None:
        return Tau2Control()
    return Tau2Control(tol=spec.tol, max_iter=spec.max_iter)


# --------------------------------------------------------------------------- the fit


@dataclass(frozen=True)
class _RegressionFit:
    """A mixed-effects meta-regression (metafor's ``rma.uni`` with ``mods``), coefficients only."""

    coef: FloatArray
    se: FloatArray
    statistic: FloatArray
    pvalue: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    df: int | None
    tau2: float


def _regression_fit(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
) -> _RegressionFit:
    """Weighted least squares with τ² of ``method`` and the variance factor of ``test``.

    The minimal fit the tests here need; ``meta_regression`` is the general one.
    """
    k, p = X.shape
    # as metafor, no τ² without residual degrees of freedom (a single study, trimmed)
    tau2 = float(estimate_tau2(y, v, method, X, control=control).tau2) if k > p else 0.0
    w = 1.0 / (v + tau2)
    xtwx = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(xtwx)
    coef = cov @ (X.T @ (w * y))
    spec = TESTS[test]
    resid = y - X @ coef
    factor = float(spec.variance_factor(float(w @ (resid * resid)), k - p))
    se = np.sqrt(factor * np.diag(cov))
    df = k - p if spec.uses_t else None
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = coef / se
    crit = critical_value(level, df)
    return _RegressionFit(
        coef=coef,
        se=se,
        statistic=stat,
        pvalue=np.array([two_sided_p(float(s), df) for s in stat]),
        ci_low=coef - crit * se,
        ci_high=coef + crit * se,
        df=df,
        tau2=tau2,
    )


def _quiet_fit(
    y: FloatArray, v: FloatArray, X: FloatArray, method: str, control: Tau2Control
) -> _RegressionFit:
    with warnings.catch_warnings():
        # inner refits, as metafor's suppressWarnings() in trimfill
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        return _regression_fit(y, v, X, method, "z", 0.95, control)


# --------------------------------------------------------------------------- Egger


@dataclass(frozen=True)
class RegressionTest:
    """Regression test for funnel-plot asymmetry (metafor's ``regtest``).

    Attributes
    ----------
    model : {"rma", "lm"}
        Mixed-effects meta-regression with the fit's τ² method and test, or
        the classical weighted regression of Egger et al. (1997).
    predictor : str
        ``sei``, ``vi``, ``ninv`` or ``sqrtninv``.
    statistic : float
        z or t statistic of the predictor's coefficient.
    df : int or None
        Degrees of freedom of a t statistic (``None`` for z).
    pvalue : float
        Two-sided p-value of the test of no asymmetry.
    slope : float
        The predictor's coefficient.
    estimate : float
        The intercept: the effect of a study with predictor 0 (an infinitely
        large study): PET with ``sei``, PEESE with ``vi``.
    ci_low, ci_high : float
        Its confidence interval at ``level``.
    tau2 : float
        Residual τ² of the meta-regression (NaN for ``model="lm"``).
    k : int
        Number of studies.
    method, test : str
        τ² estimator and test of the fit (``model="rma"``).
    level : float
        Confidence level.
    notes : tuple of str
        Caveats (few studies).
    """

    model: str
    predictor: str
    statistic: float
    df: int | None
    pvalue: float
    slope: float
    estimate: float
    ci_low: float
    ci_high: float
    tau2: float
    k: int
    method: str
    test: str
    level: float
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> Summary:
        """Text and HTML summary.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            The test, its p-value and the limit estimate.
        """
        stat = "t" if self.df is not None else "z"
        df = f" (df = {self.df})" if self.df is not None else ""
        fit = (
            "weighted regression (Egger 1997)"
            if self.model == "lm"
            else (f"mixed-effects meta-regression (method={self.method}, test={self.test})")
        )
        lines = (
            ("Model", fit),
            ("Predictor", self.predictor),
            ("Studies", str(self.k)),
            (f"Test of asymmetry ({stat})", _format.number(self.statistic, digits) + df),
            ("p-value", _format.pvalue(self.pvalue, digits)),
            (
                f"Limit estimate ({100 * self.level:g}% CI)",
                f"{_format.number(self.estimate, digits)} "
                f"{_format.interval(self.ci_low, self.ci_high, digits)}",
            ),
        )
        return Summary("Regression test for funnel plot asymmetry", lines, notes=self.notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """The test as a one-row DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns model, predictor, statistic, df, pvalue, slope, estimate,
            ci_low, ci_high, tau2, k.
        """
        names = ("model", "predictor", "statistic", "df", "pvalue", "slope", "estimate")
        cols = {n: [getattr(self, n)] for n in (*names, "ci_low", "ci_high", "tau2", "k")}
        return pd.DataFrame(cols)


def _sizes(result: MetaAnalysisResult, n: ArrayLike | None, predictor: str) -> FloatArray:
    if n is not None:
        sizes = as_1d(n, "n", n=result.k, n_from="the studies of the result")
    elif result.n_total is not None:
        sizes = np.asarray(result.n_total, dtype=float)
    else:
        raise MetaAnalysisError(
            f"predictor={predictor!r} needs the study sizes: the result has none (n_total); "
            "give n= (one total sample size per study)"
        )
    bad = np.flatnonzero(~(np.isfinite(sizes) & (sizes > 0)))
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"n (row {i}, {result.labels[i]!r}) = {sizes[i]} is not allowed for "
            f"predictor={predictor!r}: study sizes must be finite and > 0"
        )
    return sizes


def _egger(
    result: MetaAnalysisResult,
    predictor: str,
    model: str,
    n: ArrayLike | None,
    stacklevel: int,
) -> RegressionTest:
    if not isinstance(result, MetaAnalysisResult):
        raise MetaAnalysisError(
            f"result is a {type(result).__name__}; the regression test needs an "
            "inverse-variance result (meta_analysis)"
        )
    check_choice(predictor, "predictor", PREDICTORS)
    check_choice(model, "model", ("rma", "lm"))
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    k = result.k
    if k < 3:
        raise MetaAnalysisError(
            f"the regression test needs at least 3 studies (intercept and slope, and one "
            f"degree of freedom); the result has k = {k}"
        )
    if predictor == "sei":
        x = np.sqrt(v)
    elif predictor == "vi":
        x = v
    else:
        sizes = _sizes(result, n, predictor)
        x = 1.0 / sizes if predictor == "ninv" else 1.0 / np.sqrt(sizes)
    if np.ptp(x) <= 1e-12 * max(1.0, float(np.max(np.abs(x)))):
        raise MetaAnalysisError(
            f"predictor={predictor!r} is the same for every study ({x[0]:.6g}): the "
            "regression on it is not identifiable (rule: the predictor must vary)"
        )
    notes = _few_studies(k, "regression test", stacklevel + 1)
    X = np.column_stack([np.ones(k), x])
    if model == "lm":
        fit = sm.WLS(y, X, weights=1.0 / v).fit()
        df = int(fit.df_resid)
        crit = critical_value(result.level, df)
        b, se = float(fit.params[0]), float(fit.bse[0])
        return RegressionTest(
            model="lm",
            predictor=predictor,
            statistic=float(fit.tvalues[1]),
            df=df,
            pvalue=float(fit.pvalues[1]),
            slope=float(fit.params[1]),
            estimate=b,
            ci_low=b - crit * se,
            ci_high=b + crit * se,
            tau2=float("nan"),
            k=k,
            method="",
            test="t",
            level=result.level,
            notes=notes,
        )
    rf = _regression_fit(y, v, X, result.method, result.test, result.level, _control(result))
    return RegressionTest(
        model="rma",
        predictor=predictor,
        statistic=float(rf.statistic[1]),
        df=rf.df,
        pvalue=float(rf.pvalue[1]),
        slope=float(rf.coef[1]),
        estimate=float(rf.coef[0]),
        ci_low=float(rf.ci_low[0]),
        ci_high=float(rf.ci_high[0]),
        tau2=rf.tau2,
        k=k,
        method=result.method,
        test=result.test,
        level=result.level,
        notes=notes,
    )


def egger_test(
    result: MetaAnalysisResult,
    predictor: str = "sei",
    model: str = "rma",
    *,
    n: ArrayLike | None = None,
) -> RegressionTest:
    """Regression test for funnel-plot asymmetry (Egger's test), as metafor's ``regtest``.

    Parameters
    ----------
    result : MetaAnalysisResult
        An intercept-only meta-analysis (:func:`~msc_meta.meta_analysis`).
    predictor : {"sei", "vi", "ninv", "sqrtninv"}, default "sei"
        The regressor: standard error (Egger), variance (PEESE), inverse
        sample size (Peters' test) or its square root.
    model : {"rma", "lm"}, default "rma"
        ``"rma"``: mixed-effects meta-regression of the effects on the
        predictor with the τ² method, test and level of ``result``;
        ``"lm"``: weighted least squares with weights :math:`1/v_i` and a
        free residual variance (Egger et al. 1997; statsmodels' WLS).
    n : array-like, optional
        Total sample size of each study for ``ninv``/``sqrtninv``; by default
        ``result.n_total``.

    Returns
    -------
    RegressionTest
        Statistic, df, p-value of the slope, and the intercept (the limit
        estimate: PET with ``sei``, PEESE with ``vi``) with its CI.

    Raises
    ------
    MetaAnalysisError
        Fewer than 3 studies, an unknown predictor or model, no sample sizes
        for ``ninv``/``sqrtninv``, or a predictor that does not vary.

    Warns
    -----
    FewStudiesWarning
        Fewer than 10 studies.

    References
    ----------
    .. [1] Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in
       meta-analysis detected by a simple, graphical test. BMJ 315:629-634.
    .. [2] Sterne JAC, Egger M (2005). Regression methods to detect
       publication and other bias in meta-analysis. In: Rothstein HR et al.
       (eds), Publication Bias in Meta-Analysis. Wiley.
    .. [3] Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2006).
       Comparison of two methods to detect publication bias in
       meta-analysis. JAMA 295(6):676-680.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> eg = egger_test(mm.meta_analysis(es))
    >>> round(eg.statistic, 4), round(eg.pvalue, 4)
    (-0.8033, 0.4218)
    """
    return _egger(result, predictor, model, n, stacklevel=2)


# --------------------------------------------------------------------------- Begg


@dataclass(frozen=True)
class RankTest:
    """Rank correlation test for funnel-plot asymmetry (metafor's ``ranktest``).

    Attributes
    ----------
    tau : float
        Kendall's τ between the standardized effects and the variances.
    pvalue : float
        Two-sided p-value (exact without ties, normal approximation with ties).
    exact : bool
        Whether the p-value is exact.
    k : int
        Number of studies.
    notes : tuple of str
        Caveats (few studies, ties).
    """

    tau: float
    pvalue: float
    exact: bool
    k: int
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> Summary:
        """Text and HTML summary.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            Kendall's τ and its p-value.
        """
        lines = (
            ("Studies", str(self.k)),
            ("Kendall's tau", _format.number(self.tau, digits)),
            ("p-value", _format.pvalue(self.pvalue, digits) + (" (exact)" if self.exact else "")),
        )
        return Summary("Rank correlation test for funnel plot asymmetry", lines, notes=self.notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """The test as a one-row DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns tau, pvalue, exact, k.
        """
        return pd.DataFrame(
            {"tau": [self.tau], "pvalue": [self.pvalue], "exact": [self.exact], "k": [self.k]}
        )


def _begg(result: MetaAnalysisResult, stacklevel: int) -> RankTest:
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    # studies without a study-level effect (double-zero tables of MH and Peto) are left out,
    # as they are of Q
    finite = np.isfinite(y) & np.isfinite(v)
    y, v = y[finite], v[finite]
    k = y.shape[0]
    if k < 3:
        raise MetaAnalysisError(f"the rank correlation test needs at least 3 studies; k = {k}")
    notes = _few_studies(k, "rank correlation test", stacklevel + 1)
    w = 1.0 / v
    theta = float(w @ y / w.sum())
    ystar = (y - theta) / np.sqrt(v - 1.0 / w.sum())
    ties = len(np.unique(ystar)) < k or len(np.unique(v)) < k
    res = stats.kendalltau(ystar, v, method="asymptotic" if ties else "exact")
    if ties:
        notes += ("tied values: the p-value is the normal approximation (as R's cor.test)",)
    return RankTest(float(res.statistic), float(res.pvalue), not ties, k, notes)


def begg_test(result: MetaAnalysisResult) -> RankTest:
    """Rank correlation test for funnel-plot asymmetry (Begg's test), as metafor's ``ranktest``.

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis (only its effects and variances are used).

    Returns
    -------
    RankTest
        Kendall's τ between :math:`(y_i - \\hat\\theta)/\\sqrt{v_i - v_\\theta}`
        (common-effect :math:`\\hat\\theta`, its variance :math:`v_\\theta`) and
        :math:`v_i`, with the exact p-value when there are no ties (as R's
        ``cor.test(exact = TRUE)``).

    Raises
    ------
    MetaAnalysisError
        Fewer than 3 studies.

    Warns
    -----
    FewStudiesWarning
        Fewer than 10 studies.

    References
    ----------
    .. [1] Begg CB, Mazumdar M (1994). Operating characteristics of a rank
       correlation test for publication bias. Biometrics 50(4):1088-1101.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> rt = begg_test(mm.meta_analysis(es))
    >>> round(rt.tau, 4), round(rt.pvalue, 4)
    (0.0256, 0.9524)
    """
    return _begg(result, stacklevel=2)


# --------------------------------------------------------------------------- trim and fill


@dataclass(frozen=True)
class TrimAndFill:
    """Trim-and-fill analysis (metafor's ``trimfill``).

    Attributes
    ----------
    estimator : {"L0", "R0", "Q0"}
        Estimator of the number of missing studies.
    side : {"left", "right"}
        Side of the funnel where studies are missing.
    k0 : int
        Estimated number of missing studies.
    se_k0 : float
        Its standard error.
    p_k0 : float
        For ``R0``, the p-value of the test that no study is missing (NaN otherwise).
    filled : pandas.DataFrame
        The filled studies: columns ``study``, ``effect``, ``variance``.
    result : MetaAnalysisResult
        The meta-analysis of the observed and filled studies (the original
        result when ``k0 = 0``), with every option of the original fit.
    original : MetaAnalysisResult
        The result analysed.
    notes : tuple of str
        Caveats (few studies; trim-and-fill is a sensitivity analysis).
    """

    estimator: str
    side: str
    k0: int
    se_k0: float
    p_k0: float
    filled: pd.DataFrame = field(repr=False)
    result: MetaAnalysisResult = field(repr=False)
    original: MetaAnalysisResult = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def is_filled(self) -> NDArray[np.bool_]:
        """Which rows of ``result`` are filled studies."""
        k = self.original.k
        return np.arange(self.result.k) >= k

    def summary(self, digits: int = 4) -> Summary:
        """Text and HTML summary.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            k0, side and the estimate before and after filling.
        """
        res, orig = self.result, self.original
        lines: tuple[tuple[str, str], ...] = (
            ("Estimator", self.estimator),
            ("Missing studies (k0)", f"{self.k0} (SE = {_format.number(self.se_k0, digits)})"),
            ("Side", self.side),
            (
                "Original estimate",
                f"{_format.number(orig.estimate, digits)} "
                f"{_format.interval(orig.ci_low, orig.ci_high, digits)}",
            ),
            (
                "Adjusted estimate",
                f"{_format.number(res.estimate, digits)} "
                f"{_format.interval(res.ci_low, res.ci_high, digits)}",
            ),
        )
        if self.estimator == "R0":
            lines += (("p-value (k0 = 0)", _format.pvalue(self.p_k0, digits)),)
        caveat = (
            "trim-and-fill is a sensitivity analysis: the filled studies are imputed, not found"
        )
        notes = (*self.notes, caveat)
        table = self.filled.round(digits) if self.k0 else None
        return Summary("Trim-and-fill analysis", lines, table=table, notes=notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """Observed and filled studies, with a ``filled`` column.

        Returns
        -------
        pandas.DataFrame
            Columns study, effect, variance, filled.
        """
        return pd.DataFrame(
            {
                "study": list(self.result.labels),
                "effect": self.result.effect,
                "variance": self.result.variance,
                "filled": self.is_filled,
            }
        )

    def funnel_plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Funnel plot of the observed and (open markers) filled studies.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Options of :func:`msc_meta.plots.funnel_plot`.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        # lazy: plots load matplotlib, and plots import this module
        from .plots import funnel_plot

        return funnel_plot(self, ax=ax, **kwargs)


def _k0(estimator: str, signed_ranks: NDArray[np.float64], k: int) -> tuple[float, float]:
    """Estimated number of missing studies and its SE (Duval and Tweedie 2000)."""
    if estimator == "R0":
        neg = -signed_ranks[signed_ranks < 0]
        k0 = (k - (float(neg.max()) if neg.size else 0.0)) - 1
        return k0, math.sqrt(2 * max(0.0, k0) + 2)
    sr = float(signed_ranks[signed_ranks > 0].sum())
    if estimator == "L0":
        k0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
    else:
        disc = 2 * k**2 - 4 * sr + 0.25
        if disc < 0:
            raise MetaAnalysisError(
                f"estimator='Q0' is undefined here (2k^2 - 4 S_rank + 1/4 = {disc:g} < 0); "
                "use estimator='L0' or 'R0'"
            )
        k0 = k - 0.5 - math.sqrt(disc)
    var_sr = (
        k * (k + 1) * (2 * k + 1)
        + 10 * k0**3
        + 27 * k0**2
        + 17 * k0
        - 18 * k * k0**2
        - 18 * k * k0
        + 6 * k**2 * k0
    ) / 24
    if estimator == "L0":
        se = 4 * math.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else math.nan
    else:
        denom = (k - 0.5) ** 2 - k0 * (2 * k - k0 - 1)
        # metafor: NaN when the variance formula goes negative
        se = 2 * math.sqrt(var_sr) / math.sqrt(denom) if denom > 0 and var_sr >= 0 else math.nan
    return k0, se


def _trim_and_fill(
    result: MetaAnalysisResult,
    estimator: str,
    side: str | None,
    max_iter: int,
    stacklevel: int,
) -> TrimAndFill:
    if not isinstance(result, MetaAnalysisResult):
        raise MetaAnalysisError(
            f"result is a {type(result).__name__}; trim-and-fill needs an inverse-variance "
            "result (meta_analysis)"
        )
    check_choice(estimator, "estimator", ("L0", "R0", "Q0"))
    if side is not None:
        check_choice(side, "side", ("left", "right"))
    y0 = np.asarray(result.effect, dtype=float)
    v0 = np.asarray(result.variance, dtype=float)
    k = y0.shape[0]
    if k < 3:
        raise MetaAnalysisError(f"trim-and-fill needs at least 3 studies; k = {k}")
    notes = _few_studies(k, "trim-and-fill", stacklevel + 1)
    method = canonical_method(result.method)
    control = _control(result)
    ones = np.ones((k, 1))
    if side is None:
        slope = _quiet_fit(y0, v0, np.column_stack([ones, np.sqrt(v0)]), method, control).coef[1]
        side = "right" if slope < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y0, kind="stable")
    y, v = sign * y0[order], v0[order]
    k0, k0_prev, it = 0, -1, 0
    beta, se_k0 = 0.0, 0.0
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > max_iter:
            raise MetaAnalysisError(
                f"trim-and-fill did not converge in max_iter={max_iter} iterations"
            )
        m = k - k0
        beta = float(_quiet_fit(y[:m], v[:m], ones[:m], method, control).coef[0])
        centred = y - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
        est, se = _k0(estimator, np.sign(centred) * ranks, k)
        k0 = max(0, int(np.round(est)))
        se_k0 = se if math.isnan(se) else max(0.0, se)
    p_k0 = float("nan")
    if estimator == "R0":
        # metafor: 1 - sum_{m=-1}^{k0-1} choose(m+1, m+1) 0.5^(m+2), which is 0.5^(k0+1)
        p_k0 = 0.5 ** (k0 + 1)
    if k0 == 0:
        filled = pd.DataFrame({"study": [], "effect": [], "variance": []})
        adjusted = result
    else:
        fy = sign * (2 * beta - y[k - k0 :])
        fv = v[k - k0 :]
        names = [f"Filled {i + 1}" for i in range(k0)]
        filled = pd.DataFrame({"study": names, "effect": fy, "variance": fv})
        opts = result.spec.options() if result.spec is not None else {}
        opts = {
            **{"method": result.method, "test": result.test, "level": result.level},
            **{n: opts[n] for n in ("tol", "max_iter") if n in opts},
        }
        with warnings.catch_warnings():
            # the refit's warnings repeat those of the original fit
            warnings.simplefilter("ignore", MetaAnalysisWarning)
            adjusted = meta_analysis(
                np.concatenate([y0, fy]),
                np.concatenate([v0, fv]),
                labels=[*result.labels, *names],
                measure=result.measure,
                **opts,
            )
    return TrimAndFill(
        estimator=estimator,
        side=side,
        k0=k0,
        se_k0=float(se_k0),
        p_k0=p_k0,
        filled=filled,
        result=adjusted,
        original=result,
        notes=notes,
    )


def trim_and_fill(
    result: MetaAnalysisResult,
    estimator: str = "L0",
    side: str | None = None,
    *,
    max_iter: int = 100,
) -> TrimAndFill:
    """Trim-and-fill analysis (Duval and Tweedie 2000), as metafor's ``trimfill``.

    Iteratively trims the most extreme studies on one side of the funnel,
    re-estimates the centre, and estimates the number ``k0`` of missing
    studies from the ranks of the centred effects; the ``k0`` mirror images
    of the most extreme studies about the last centre are then added and the
    model refitted.

    Parameters
    ----------
    result : MetaAnalysisResult
        An intercept-only meta-analysis (:func:`~msc_meta.meta_analysis`).
    estimator : {"L0", "R0", "Q0"}, default "L0"
        Estimator of the number of missing studies.
    side : {"left", "right"}, optional
        Side where studies are missing; by default estimated from the sign
        of the slope of Egger's regression (as metafor: missing on the left
        when the slope is positive).
    max_iter : int, default 100
        Largest number of iterations.

    Returns
    -------
    TrimAndFill
        k0 with its SE, the side, the filled studies and the adjusted result
        (fitted with every option of ``result``; metafor's ``trimfill`` refits
        with ``test = "z"`` unless told otherwise).

    Raises
    ------
    MetaAnalysisError
        Fewer than 3 studies, an unknown estimator or side, or no convergence.

    Warns
    -----
    FewStudiesWarning
        Fewer than 10 studies.

    References
    ----------
    .. [1] Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based
       method of testing and adjusting for publication bias in meta-analysis.
       Biometrics 56(2):455-463.
    .. [2] Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of
       accounting for publication bias in meta-analysis. J Am Stat Assoc
       95(449):89-98.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> tf = trim_and_fill(mm.meta_analysis(es, method="EE"))
    >>> tf.k0, tf.side, round(tf.result.estimate, 4)
    (4, 'right', -0.291)
    """
    return _trim_and_fill(result, estimator, side, max_iter, stacklevel=2)


# --------------------------------------------------------------------------- fail-safe N


@dataclass(frozen=True)
class FailSafeN:
    """Fail-safe N (metafor's ``fsn``).

    Attributes
    ----------
    type : {"Rosenthal", "Orwin", "Rosenberg"}
        The method.
    fsn : int or float
        Number of null studies that would bring the result to the target
        (``inf`` when the target is 0).
    alpha : float
        Significance level (Rosenthal, Rosenberg).
    pvalue : float
        p-value of the observed studies (Rosenthal: one-sided Stouffer;
        Rosenberg: two-sided fixed-effect test); NaN for Orwin.
    mean_effect : float
        Mean effect (Orwin: unweighted or weighted; Rosenberg: weighted); NaN for Rosenthal.
    target : float
        Orwin's target effect; NaN otherwise.
    k : int
        Number of studies.
    notes : tuple of str
        Caveats.
    """

    type: str
    fsn: float
    alpha: float
    pvalue: float
    mean_effect: float
    target: float
    k: int
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> Summary:
        """Text and HTML summary.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            The fail-safe N and what it is relative to.
        """
        lines: tuple[tuple[str, str], ...] = (
            ("Method", self.type),
            ("Studies", str(self.k)),
            ("Fail-safe N", f"{self.fsn:g}"),
        )
        if self.type == "Orwin":
            lines += (
                ("Mean effect", _format.number(self.mean_effect, digits)),
                ("Target effect", _format.number(self.target, digits)),
            )
        else:
            lines += (
                ("p-value", _format.pvalue(self.pvalue, digits)),
                ("alpha", f"{self.alpha:g}"),
            )
        return Summary("Fail-safe N", lines, notes=self.notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns type, fsn, alpha, pvalue, mean_effect, target, k.
        """
        names = ("type", "fsn", "alpha", "pvalue", "mean_effect", "target", "k")
        return pd.DataFrame({n: [getattr(self, n)] for n in names})


def _fsn_round(x: float) -> float:
    if math.isinf(x):
        return x
    return float(math.ceil(x)) if abs(x - round(x)) >= math.sqrt(2.0**-52) else float(round(x))


def fail_safe_n(
    effect: Any,
    variance: ArrayLike | None = None,
    *,
    type: str = "Rosenthal",
    alpha: float = 0.05,
    target: float | None = None,
    weighted: bool = False,
) -> FailSafeN:
    """Fail-safe N: how many null studies would overturn the result, as metafor's ``fsn``.

    Parameters
    ----------
    effect : array-like, EffectSizes or MetaAnalysisResult
        Study effects (or a frame with ``effect`` and ``variance`` columns,
        or a result, whose effects and variances are used).
    variance : array-like, optional
        Sampling variances (not needed for an unweighted Orwin N).
    type : {"Rosenthal", "Orwin", "Rosenberg"}, default "Rosenthal"
        Rosenthal (1979): null studies bringing Stouffer's one-sided combined
        p-value to ``alpha``; Orwin (1983): studies of effect 0 bringing the
        mean effect to ``target``; Rosenberg (2005): studies bringing the
        fixed-effect estimate's two-sided p-value to ``alpha``.
    alpha : float, default 0.05
        Significance level.
    target : float, optional
        Orwin's target effect; half the mean effect by default.
    weighted : bool, default False
        Orwin: weight the mean by inverse variances.

    Returns
    -------
    FailSafeN
        The fail-safe number and the quantities it is based on.

    Raises
    ------
    MetaAnalysisError
        Unknown type, missing or non-positive variances, non-finite values.

    Warns
    -----
    FewStudiesWarning
        Fewer than 10 studies.

    References
    ----------
    .. [1] Rosenthal R (1979). The file drawer problem and tolerance for null
       results. Psychol Bull 86(3):638-641.
    .. [2] Orwin RG (1983). A fail-safe N for effect size in meta-analysis.
       J Educ Stat 8(2):157-159.
    .. [3] Rosenberg MS (2005). The file-drawer problem revisited: a general
       weighted method for calculating fail-safe numbers in meta-analysis.
       Evolution 59(2):464-468.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> fail_safe_n(es).fsn
    598.0
    """
    check_choice(type, "type", ("Rosenthal", "Orwin", "Rosenberg"))
    if isinstance(effect, MetaAnalysisResult):
        effect, variance = effect.effect, effect.variance
    elif isinstance(effect, pd.DataFrame):
        frame = effect
        effect = frame["effect"]
        variance = frame["variance"] if variance is None and "variance" in frame else variance
    y = as_1d(effect, "effect")
    check_no_inf(y, "effect")
    k = y.shape[0]
    need_v = type != "Orwin" or weighted
    if need_v:
        if variance is None:
            raise MetaAnalysisError(
                f"variance is missing; type={type!r} needs the sampling variances"
            )
        v = as_1d(variance, "variance", n=k, n_from="effect")
        check_no_inf(v, "variance")
        check_positive(v, "variance")
        keep = ~(np.isnan(y) | np.isnan(v))
        y, v = y[keep], v[keep]
    else:
        y = y[~np.isnan(y)]
        v = np.zeros_like(y)
    k = y.shape[0]
    if k == 0:
        raise MetaAnalysisError("effect has no study with a value; nothing to compute")
    notes = _few_studies(k, "fail-safe N", 2)
    pval = mean = tgt = float("nan")
    z_alpha = critical_value(1 - 2 * alpha)  # one-sided alpha
    if type == "Rosenthal":
        z_avg = abs(float(np.sum(y / np.sqrt(v))) / math.sqrt(k))
        pval = two_sided_p(z_avg) / 2  # one-sided
        fsn = max(0.0, k * (z_avg / z_alpha) ** 2 - k)
    elif type == "Orwin":
        mean = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
        tgt = mean / 2 if target is None else float(target)
        if tgt == 0:
            fsn = math.inf
        else:
            if np.sign(tgt) != np.sign(mean):
                tgt = -tgt
            fsn = max(0.0, k * (mean - tgt) / tgt)
    else:
        w = 1.0 / v
        mean = float(w @ y / w.sum())
        zval = mean / math.sqrt(1 / w.sum())
        wp = (float(w @ y) / critical_value(1 - alpha)) ** 2 - float(w.sum())
        pval = two_sided_p(zval)
        fsn = max(0.0, k * wp / float(w.sum()))
    return FailSafeN(type, _fsn_round(fsn), alpha, pval, mean, tgt, k, notes)


# --------------------------------------------------------------------------- selection model

#: Bounds of the selection weights, as metafor's ``delta.min``/``delta.max`` for ``stepfun``.
DELTA_MAX = 100.0
ALTERNATIVES = ("greater", "less", "two.sided")


@dataclass(frozen=True)
class SelectionModel:
    """Step-function selection model (Vevea and Hedges 1995; metafor's ``selmodel``).

    Attributes
    ----------
    steps : tuple of float
        Upper bounds of the p-value intervals (the last is 1).
    alternative : {"greater", "less", "two.sided"}
        Direction of the p-values that drive selection.
    estimate, se, statistic, pvalue, ci_low, ci_high : float
        The pooled effect adjusted for selection, with its Wald test and CI.
    tau2, se_tau2 : float
        τ² (0 for a common-effect model) and its SE.
    delta, se_delta : numpy.ndarray
        Relative likelihood of selection in each interval (the first fixed
        at 1, its SE NaN), in (0, 100).
    k_per_interval : numpy.ndarray
        Number of studies whose p-value falls in each interval.
    lrt, lrt_df, lrt_pvalue : float, int, float
        Likelihood-ratio test of no selection (every δ = 1).
    loglik, loglik0 : float
        Log-likelihood of the selection model and of the model without selection (ML).
    k : int
        Number of studies.
    level : float
        Confidence level.
    notes : tuple of str
        Caveats (few studies, empty intervals, weights at their bound).
    """

    steps: tuple[float, ...]
    alternative: str
    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_low: float
    ci_high: float
    tau2: float
    se_tau2: float
    delta: FloatArray = field(repr=False)
    se_delta: FloatArray = field(repr=False)
    k_per_interval: NDArray[np.int64] = field(repr=False)
    lrt: float
    lrt_df: int
    lrt_pvalue: float
    loglik: float
    loglik0: float
    k: int
    level: float
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per p-value interval: its studies and selection weight.

        Returns
        -------
        pandas.DataFrame
            Columns interval, k, delta, se.
        """
        lows = (0.0, *self.steps[:-1])
        names = [f"{lo:g} < p <= {hi:g}" for lo, hi in zip(lows, self.steps, strict=True)]
        return pd.DataFrame(
            {"interval": names, "k": self.k_per_interval, "delta": self.delta, "se": self.se_delta}
        )

    def summary(self, digits: int = 4) -> Summary:
        """Text and HTML summary.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            The adjusted estimate, τ², the test of selection and the weights.
        """
        lines = (
            ("Studies", str(self.k)),
            ("Alternative", self.alternative),
            (
                f"Adjusted estimate ({100 * self.level:g}% CI)",
                f"{_format.number(self.estimate, digits)} "
                f"{_format.interval(self.ci_low, self.ci_high, digits)}, "
                f"{_format.p_equals(self.pvalue, digits)}",
            ),
            ("tau^2", _format.number(self.tau2, digits)),
            (
                "Test of selection",
                f"LRT = {_format.number(self.lrt, digits)} (df = {self.lrt_df}), "
                f"{_format.p_equals(self.lrt_pvalue, digits)}",
            ),
        )
        table = self.to_frame().set_index("interval").round(digits)
        return Summary("Step-function selection model", lines, table=table, notes=self.notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def _one_sided_p(y: FloatArray, v: FloatArray, alternative: str) -> FloatArray:
    z = y / np.sqrt(v)
    if alternative == "two.sided":
        return np.asarray(2 * special.ndtr(-np.abs(z)), dtype=float)
    return np.asarray(special.ndtr(-z if alternative == "greater" else z), dtype=float)


def _interval_probabilities(
    mu: float, tau2: float, v: FloatArray, steps: FloatArray, alternative: str
) -> FloatArray:
    """Probabilities (k x N) that study i's p-value falls in each interval, without selection."""
    sd_v = np.sqrt(v)[:, None]
    s = np.sqrt(v + tau2)[:, None]
    bounds = np.concatenate([[0.0], steps])
    if alternative == "two.sided":
        c = special.ndtri(1 - bounds / 2)[None, :] * sd_v  # |y| thresholds, decreasing
        upper = special.ndtr((c[:, :-1] - mu) / s) - special.ndtr((c[:, 1:] - mu) / s)
        lower = special.ndtr((-c[:, 1:] - mu) / s) - special.ndtr((-c[:, :-1] - mu) / s)
        return np.asarray(upper + lower, dtype=float)
    sign = 1.0 if alternative == "greater" else -1.0
    c = special.ndtri(1 - bounds)[None, :] * sd_v  # thresholds of sign * y, decreasing
    m = sign * mu
    return np.asarray(special.ndtr((c[:, :-1] - m) / s) - special.ndtr((c[:, 1:] - m) / s))


def _selection_negll(
    theta: FloatArray,
    y: FloatArray,
    v: FloatArray,
    group: NDArray[np.intp],
    steps: FloatArray,
    alternative: str,
    random: bool,
) -> float:
    """Minus the log-likelihood at (μ, τ², δ_2..δ_N) on their own scale (metafor's ``ll.stepfun``)."""
    mu = float(theta[0])
    tau2 = float(theta[1]) if random else 0.0
    delta = np.concatenate([[1.0], theta[2:] if random else theta[1:]])
    probs = _interval_probabilities(mu, tau2, v, steps, alternative)
    a = probs @ delta
    vt = v + tau2
    dens = -0.5 * (np.log(2 * np.pi * vt) + (y - mu) ** 2 / vt)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.sum(np.log(delta[group]) + dens - np.log(a))
    return float(-ll) if np.isfinite(ll) else math.inf


def _unpack(x: FloatArray, random: bool) -> FloatArray:
    """Optimizer scale (log τ², logit δ/100) to the parameters' own scale."""
    tail = DELTA_MAX * special.expit(x[2:] if random else x[1:])
    head = [x[0], math.exp(x[1])] if random else [x[0]]
    return np.concatenate([head, tail])


def _hessian(f: Any, x: FloatArray) -> FloatArray:
    """Central-difference Hessian of ``f`` at ``x`` (step 1e-4 relative, Richardson-extrapolated)."""

    def once(h: FloatArray) -> FloatArray:
        n = x.shape[0]
        out = np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                ei = np.zeros(n)
                ej = np.zeros(n)
                ei[i], ej[j] = h[i], h[j]
                val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * h[i] * h[j]
                )
                out[i, j] = out[j, i] = val
        return out

    h = 1e-3 * np.maximum(np.abs(x), 1e-2)
    return (4 * once(h / 2) - once(h)) / 3


def selection_model(
    result: MetaAnalysisResult,
    steps: ArrayLike = (0.025, 1.0),
    *,
    alternative: str = "greater",
) -> SelectionModel:
    """Step-function selection model of Vevea and Hedges (1995), as metafor's ``selmodel``.

    Studies are published with a probability that depends on their p-value
    through a step function: relative weight δ_j for p-values in
    ``(steps[j-1], steps[j]]`` (δ_1 = 1). μ, τ² and the δ_j are estimated by
    maximum likelihood; the likelihood-ratio test compares with the model
    without selection (all δ = 1), the ML fit.

    Parameters
    ----------
    result : MetaAnalysisResult
        The meta-analysis; a random-effects model is refitted by ML (as
        metafor does for methods other than ML), a common-effect model keeps τ² = 0.
    steps : sequence of float, default (0.025, 1)
        Cut points of the p-values in (0, 1]; 1 is added when missing.
    alternative : {"greater", "less", "two.sided"}, default "greater"
        One-sided p-values for positive (``greater``) or negative effects, or two-sided.

    Returns
    -------
    SelectionModel
        The adjusted estimate with its SE and CI, τ², the selection weights
        with their SEs and the likelihood-ratio test.

    Raises
    ------
    MetaAnalysisError
        Steps outside (0, 1], an unknown alternative, or fewer studies than parameters.

    Warns
    -----
    FewStudiesWarning
        Fewer than 10 studies.
    BoundaryWarning
        An interval holds no study, or a weight sits at its bound (0 or 100).

    Notes
    -----
    As ``selmodel(res, type = "stepfun", steps = steps, alternative = alternative)``:
    δ is kept in (0, 100); standard errors come from the numerical Hessian of
    the log-likelihood at the estimates, on the scale of μ, τ² and δ.

    References
    ----------
    .. [1] Vevea JL, Hedges LV (1995). A general linear model for estimating
       effect size in the presence of publication bias. Psychometrika
       60(3):419-435.
    .. [2] Viechtbauer W (2010). Conducting meta-analyses in R with the
       metafor package. J Stat Softw 36(3):1-48.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> sm_ = selection_model(mm.meta_analysis(es), steps=(0.05, 1), alternative="less")
    >>> sm_.lrt_df, round(sm_.estimate, 3)
    (1, -0.732)
    """
    if not isinstance(result, MetaAnalysisResult):
        raise MetaAnalysisError(
            f"result is a {type(result).__name__}; the selection model needs an "
            "inverse-variance result (meta_analysis)"
        )
    check_choice(alternative, "alternative", ALTERNATIVES)
    cuts = np.unique(as_1d(steps, "steps"))
    if cuts.size == 0 or not np.all((cuts > 0) & (cuts <= 1)):
        raise MetaAnalysisError(f"steps={list(cuts)} is not allowed; steps must lie in (0, 1]")
    if cuts[-1] != 1.0:
        cuts = np.append(cuts, 1.0)
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    k = y.shape[0]
    random = result.is_random
    n_par = 1 + int(random) + cuts.size - 1
    if k < n_par:
        raise MetaAnalysisError(
            f"k = {k} studies are too few to fit the selection model ({n_par} parameters)"
        )
    if cuts.size < 2:
        raise MetaAnalysisError("steps must have a cut point below 1 (e.g. steps=(0.025, 1))")
    notes = _few_studies(k, "selection model", 2)
    pvals = _one_sided_p(y, v, alternative)
    group = np.searchsorted(cuts, pvals, side="left")
    counts = np.bincount(group, minlength=cuts.size).astype(np.int64)
    if (counts == 0).any():
        empty = ", ".join(str(int(j) + 1) for j in np.flatnonzero(counts == 0))
        msg = (
            f"no study has a p-value in interval(s) {empty} of steps={list(cuts)}: "
            "their weights are not identified and go to a bound"
        )
        warnings.warn(msg, BoundaryWarning, stacklevel=2)
        notes += (msg,)
    control = _control(result)
    with warnings.catch_warnings():
        # the ML start values; the user's own fit already warned
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        tau2_0 = float(estimate_tau2(y, v, "ML", control=control).tau2) if random else 0.0
    w = 1.0 / (v + tau2_0)
    mu0 = float(w @ y / w.sum())
    ll0 = loglik(tau2_0, y, v, reml=False)

    def objective(x: FloatArray) -> float:
        return _selection_negll(_unpack(x, random), y, v, group, cuts, alternative, random)

    start = [mu0, math.log(max(tau2_0, 0.01 * float(np.median(v))))] if random else [mu0]
    x0 = np.array([*start, *([special.logit(1 / DELTA_MAX)] * (cuts.size - 1))])
    best = None
    for method in ("BFGS", "Nelder-Mead", "BFGS"):
        opt = optimize.minimize(
            objective,
            x0 if best is None else best.x,
            method=method,
            options={"gtol": 1e-10, "maxiter": 20000}
            if method == "BFGS"
            else {"xatol": 1e-12, "fatol": 1e-14, "maxiter": 40000, "maxfev": 40000},
        )
        if best is None or opt.fun <= best.fun:
            best = opt
    assert best is not None
    theta = _unpack(best.x, random)
    if random and theta[1] < 10 * np.finfo(float).eps:
        theta[1] = 0.0
    ll = -float(best.fun)
    delta = np.concatenate([[1.0], theta[2:] if random else theta[1:]])
    if np.any(delta[1:] <= 1e-4) or np.any(delta[1:] >= DELTA_MAX - 1e-2):
        msg = (
            "one or more selection weights are (almost) at their bound (0 or 100): "
            "treat the results with caution"
        )
        warnings.warn(msg, BoundaryWarning, stacklevel=2)
        notes += (msg,)

    # tau^2 on its boundary (0) is not a free parameter: the Hessian is that of the others
    # (as metafor, which leaves tau^2 = 0 out of the variance-covariance matrix)
    free = np.ones(theta.shape[0], dtype=bool)
    if random and theta[1] == 0.0:
        free[1] = False

    def negll(t: FloatArray) -> float:
        full = theta.copy()
        full[free] = t
        return _selection_negll(full, y, v, group, cuts, alternative, random)

    se_all = np.full(theta.shape[0], np.nan)
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(_hessian(negll, theta[free]))
            se_all[free] = np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            pass
    mu = float(theta[0])
    se = float(se_all[0])
    crit = critical_value(result.level)
    lrt = max(0.0, -2 * (ll0 - ll))
    df = cuts.size - 1
    return SelectionModel(
        steps=tuple(float(c) for c in cuts),
        alternative=alternative,
        estimate=mu,
        se=se,
        statistic=mu / se,
        pvalue=two_sided_p(mu / se),
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        tau2=float(theta[1]) if random else 0.0,
        se_tau2=float(se_all[1]) if random else float("nan"),
        delta=delta,
        se_delta=np.concatenate([[np.nan], se_all[2:] if random else se_all[1:]]),
        k_per_interval=counts,
        lrt=lrt,
        lrt_df=df,
        lrt_pvalue=chi2_sf(lrt, df),
        loglik=ll,
        loglik0=ll0,
        k=k,
        level=result.level,
        notes=notes,
    )
