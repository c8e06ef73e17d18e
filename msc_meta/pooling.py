"""Inverse-variance pooling: ``meta_analysis()`` (metafor's ``rma.uni``).

Common-effect and random-effects models with every τ² estimator of
:mod:`msc_meta.tau2`, Wald-type (``z``, ``t``) and Hartung-Knapp (``knha``,
``adhoc``) tests, prediction intervals, and heterogeneity with Q-profile
intervals.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ._errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DroppedStudiesWarning,
    FewStudiesWarning,
    MetaAnalysisError,
)
from ._format import listing

# re-exported: pooling.TESTS, TEST_ALIASES, TestCode and canonical_test stay public names
from ._inference import TEST_ALIASES as TEST_ALIASES
from ._inference import TESTS as TESTS
from ._inference import TestCode as TestCode
from ._inference import canonical_test as canonical_test
from ._inference import critical_value, two_sided_p
from ._refit import FitSpec
from ._validation import (
    align_series,
    as_1d,
    as_labels,
    check_level,
    check_no_inf,
    check_number,
    check_positive,
)
from .heterogeneity import (
    Q_PROFILE_NOT_CONVERGED,
    cochran_q,
    h2_from_q,
    h2_from_tau2,
    i2_from_q,
    i2_from_tau2,
    q_profile_working,
    typical_variance,
)
from .results import MetaAnalysisResult, default_labels
from .tau2 import (
    Tau2Control,
    Tau2Fit,
    Tau2Method,
    canonical_method,
    fit_messages,
    fit_working,
    to_data_units,
    working_units,
)

FloatArray = NDArray[np.float64]
_sum = np.add.reduce


# --------------------------------------------------------------------------- inputs


def _unpack(
    effect: Any, variance: Any, se: Any, labels: Any, measure: str | None
) -> tuple[Any, Any, Any, str | None, Any]:
    """Accept an EffectSizes / DataFrame in place of arrays."""
    n_total = None
    inputs = None
    if hasattr(effect, "columns") and variance is None and se is None:
        frame = effect
        cols = list(frame.columns)
        if "effect" not in cols or ("variance" not in cols and "se" not in cols):
            raise MetaAnalysisError(
                "effect= is a DataFrame without the columns 'effect' and 'variance' (or 'se'); "
                f"its columns are: {', '.join(map(str, cols))}"
            )
        if labels is None and "study" in cols:
            labels = frame["study"].to_numpy()
        measure = measure or getattr(frame, "measure", None)
        n_total = getattr(frame, "n_total", None)
        inputs = getattr(frame, "study_data", None)
        variance = frame["variance"].to_numpy() if "variance" in cols else None
        se = None if variance is not None else frame["se"].to_numpy()
        if variance is not None and "se" in cols:
            variance = _merge_se(variance, frame["se"].to_numpy(), labels)
        effect = frame["effect"].to_numpy()
    return effect, variance, se, measure, (labels, n_total, inputs)


#: Relative difference between ``sqrt(variance)`` and ``se`` beyond which a frame with both
#: columns is refused (they should be one number written two ways).
SE_VARIANCE_RTOL = 1e-6


def _merge_se(variance: Any, se: Any, labels: Any) -> FloatArray:
    """The variances of a frame with both ``variance`` and ``se`` columns.

    A row with one of the two uses it; a row with both must have
    ``se = sqrt(variance)`` (to :data:`SE_VARIANCE_RTOL`), or the frame is
    refused with the rows that disagree.
    """
    v = as_1d(variance, "variance")
    s = as_1d(se, "se", n=v.shape[0], n_from="variance")
    with np.errstate(invalid="ignore"):
        both = ~np.isnan(v) & ~np.isnan(s)
        bad = both & ~np.isclose(np.sqrt(v), s, rtol=SE_VARIANCE_RTOL, atol=0.0)
    if bad.any():
        lab = as_labels(labels, v.shape[0]) if labels is not None else None
        rows = [int(i) for i in np.flatnonzero(bad)]
        shown = listing(
            [
                f"[{i}]{f' ({lab[i]!r})' if lab else ''}: variance {v[i]:.6g}, se {s[i]:.6g}"
                for i in rows
            ],
            limit=5,
            sep="; ",
        )
        raise MetaAnalysisError(
            f"effect= has both 'variance' and 'se' columns and they disagree in "
            f"{len(rows)} row(s) (se should be sqrt(variance)): {shown}; drop one column"
        )
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(v), s * s, v)


def _prepare(
    effect: Any, variance: Any, se: Any, labels: Any
) -> tuple[FloatArray, FloatArray, list[str], NDArray[np.bool_]]:
    aligned = align_series({"effect": effect, "variance": variance, "se": se, "labels": labels})
    effect, variance, se, labels = (aligned[n] for n in ("effect", "variance", "se", "labels"))
    y = as_1d(effect, "effect")
    k_all = y.shape[0]
    if k_all == 0:
        raise MetaAnalysisError("effect is empty; at least one study is needed")
    if variance is None and se is None:
        raise MetaAnalysisError(
            "variance is missing; give variance= (or se=) with one value per study"
        )
    if variance is not None and se is not None:
        raise MetaAnalysisError("give either variance= or se=, not both")
    if variance is not None:
        v = as_1d(variance, "variance", n=k_all, n_from="effect")
        vname = "variance"
    else:
        s = as_1d(se, "se", n=k_all, n_from="effect")
        vname = "se"
        check_no_inf(s, "se")
        check_positive(s, "se", None)
        with np.errstate(over="ignore", under="ignore"):
            v = s * s
        bad = np.flatnonzero((v == 0.0) | np.isinf(v))
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"se[{i}] = {s[i]:.6g}: its square, the variance, cannot be represented in "
                "double precision; rescale the effects and their standard errors"
            )
    lab = as_labels(labels, k_all) or list(default_labels(k_all, None))
    check_no_inf(y, "effect", lab)
    check_no_inf(v, vname, lab)
    if vname == "variance":
        check_positive(v, "variance", lab)
    keep = np.isfinite(y) & np.isfinite(v)
    return y, v, lab, keep


# --------------------------------------------------------------------------- main


def meta_analysis(
    effect: ArrayLike | Any,
    variance: ArrayLike | None = None,
    *,
    se: ArrayLike | None = None,
    method: Tau2Method | str = "REML",
    test: TestCode | str = "z",
    level: float = 0.95,
    labels: Sequence[str] | ArrayLike | None = None,
    measure: str | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> MetaAnalysisResult:
    """Pool effect sizes with a common-effect or random-effects model.

    Parameters
    ----------
    effect : array-like or EffectSizes
        Study effects on the analysis scale, or the output of
        :func:`~msc_meta.effect_sizes` (then ``variance``, labels and measure
        are taken from it).
    variance : array-like, optional
        Sampling variances (> 0). Alternatively give ``se``.
    se : array-like, optional
        Standard errors, instead of ``variance``.
    method : str, default "REML"
        τ² estimator: ``EE`` (aliases ``FE``, ``CE``: common effect), ``DL``,
        ``HE``, ``HS``, ``HSk``, ``SJ``, ``ML``, ``REML``, ``EB``, ``PM``,
        ``PMM``, in any case. ML and REML return the global maximum of the
        (restricted) likelihood on [0, ∞).
    test : {"z", "t", "knha", "adhoc"}, default "z"
        Normal (``z``) or t (df = k - 1) reference distribution; ``knha`` (alias
        ``hksj``) is the Hartung-Knapp(-Sidik-Jonkman) adjustment, ``adhoc`` the
        same with its variance factor floored at 1; in any case. The result
        keeps the canonical code.
    level : float, default 0.95
        Confidence level in (0, 1).
    labels : sequence of str, optional
        Study labels.
    measure : str, optional
        The effect-size measure (for display back-transformations).
    tol : float, default 1e-10
        Relative convergence threshold of the iterative estimators (ML, REML,
        EB, PM, PMM) and of the Q-profile interval: an iteration stops when
        the change in τ² is at most ``tol`` times the larger of τ² and the
        working unit of variance (see :class:`~msc_meta.tau2.Tau2Control`).
    max_iter : int, default 1000
        Iteration limit of the same searches.

    Returns
    -------
    MetaAnalysisResult
        The pooled estimate with its test and confidence interval, the
        prediction interval, τ², I² and H² with their Q-profile intervals,
        Cochran's Q, and the study rows.

    Raises
    ------
    MetaAnalysisError
        Unknown method or test, level outside (0, 1), infinite values,
        non-positive variances, mismatched lengths, empty input, or no study
        left after dropping missing values.

    Warns
    -----
    DroppedStudiesWarning
        Studies with a missing (NaN) effect or variance were dropped.
    FewStudiesWarning
        k = 1: no heterogeneity can be estimated (τ² = 0, Q = 0) and t-based
        tests fall back to ``z``.
    ConvergenceWarning
        An iterative estimator did not converge.

    Notes
    -----
    With weights :math:`w_i = 1/(v_i + \\hat\\tau^2)` the pooled estimate is
    :math:`\\hat\\mu = \\sum w_i y_i / \\sum w_i` with
    :math:`\\operatorname{Var}(\\hat\\mu) = 1/\\sum w_i`. The Hartung-Knapp
    test multiplies this variance by
    :math:`s^2 = \\sum w_i (y_i - \\hat\\mu)^2 / (k-1)` and uses
    :math:`t_{k-1}` (Hartung & Knapp 2001; Sidik & Jonkman 2002); ``adhoc``
    uses :math:`\\max(1, s^2)` (Knapp & Hartung 2003). The prediction interval
    is :math:`\\hat\\mu \\pm c \\sqrt{\\operatorname{SE}^2 + \\hat\\tau^2}` with
    the test's critical value c (Riley, Higgins & Deeks 2011; metafor's
    ``predict``). Heterogeneity: Cochran's Q with inverse-variance weights;
    for random-effects models :math:`I^2 = 100\\hat\\tau^2/(\\tilde v +
    \\hat\\tau^2)` and :math:`H^2 = \\hat\\tau^2/\\tilde v + 1` with the typical
    within-study variance :math:`\\tilde v`; for the common-effect model
    :math:`I^2 = \\max(0, 100(Q - df)/Q)` and :math:`H^2 = Q/df` (Higgins &
    Thompson 2002). Confidence intervals for τ², I² and H² are Q-profile
    intervals (Viechtbauer 2007). This is metafor's ``rma.uni`` with
    ``confint`` and ``predict``.

    References
    ----------
    .. [1] DerSimonian R, Laird N (1986). Meta-analysis in clinical trials.
       Control Clin Trials 7(3):177-188.
    .. [2] Hartung J, Knapp G (2001). A refined method for the meta-analysis of
       controlled clinical trials with binary outcome. Stat Med 20:3875-3889.
    .. [3] Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a
       meta-analysis. Stat Med 21(11):1539-1558.
    .. [4] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3):1-48.

    Examples
    --------
    BCG vaccine trials (Colditz et al. 1994), log risk ratios, REML:

    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> res = mm.meta_analysis(es, method="REML")
    >>> round(res.estimate, 4), round(res.tau2, 4), round(res.i2, 2)
    (-0.7145, 0.3132, 92.22)
    """
    method_code = canonical_method(method)
    test_code = canonical_test(test)
    level = check_level(level)
    tol = check_number(tol, "tol", low=0.0)
    max_iter = int(check_number(max_iter, "max_iter", integer=True, low=1, strict=False))

    effect, variance, se, measure, (labels, n_total, inputs) = _unpack(
        effect, variance, se, labels, measure
    )
    y_all, v_all, lab_all, keep = _prepare(effect, variance, se, labels)
    if not keep.all():
        dropped = [lab_all[i] for i in np.flatnonzero(~keep)]
        if not keep.any():
            raise MetaAnalysisError(
                f"every study has a missing (NaN) effect or variance ({len(dropped)} studies); "
                "nothing to pool"
            )
        warnings.warn(
            f"dropped {len(dropped)} {'study' if len(dropped) == 1 else 'studies'} with a "
            f"missing (NaN) effect or variance: {listing([repr(d) for d in dropped])}",
            DroppedStudiesWarning,
            stacklevel=2,
        )
    y, v = y_all[keep], v_all[keep]
    lab = tuple(lab_all[i] for i in np.flatnonzero(keep))
    n_all = n_kept = None
    if n_total is not None and len(n_total) == len(keep):
        n_all = np.asarray(n_total, dtype=np.float64)
        n_kept = n_all[keep]
    data_all = study_data = None
    if inputs is not None and len(inputs) == len(keep):
        data_all = inputs.reset_index(drop=True)
        study_data = data_all[keep].reset_index(drop=True)
    spec = FitSpec(
        kind="inverse-variance",
        fitter=meta_analysis,
        measure=measure,
        method=method_code,
        test=test_code,
        level=level,
        labels=tuple(lab_all),
        kept=np.flatnonzero(keep),
        effect=y_all,
        variance=v_all,
        n_total=n_all,
        study_data=data_all,
        tol=tol,
        max_iter=max_iter,
    )
    res = _fit(
        y,
        v,
        lab,
        method_code,
        test_code,
        level,
        measure,
        Tau2Control(tol, max_iter),
        n_kept,
        study_data,
    )
    not_estimable = tuple(lab_all[i] for i in np.flatnonzero(~keep))
    return dataclasses.replace(res, not_estimable=not_estimable, spec=spec)


def _fit(
    y: FloatArray,
    v: FloatArray,
    lab: tuple[str, ...],
    method: str,
    test: str,
    level: float,
    measure: str | None,
    control: Tau2Control,
    n_total: FloatArray | None,
    study_data: pd.DataFrame | None = None,
) -> MetaAnalysisResult:
    """Fit the model in working units (centred, rescaled) and report it in the data's units."""
    k = int(y.shape[0])
    notes: list[str] = []
    y_w, v_w, units = working_units(y, v)
    if k == 1:
        warnings.warn(
            "k = 1: a single study; tau^2, Q, I^2 and H^2 cannot be estimated (set to 0, 0, 0 and 1)"
            + (f", and test={test!r} falls back to 'z'" if test != "z" else ""),
            FewStudiesWarning,
            stacklevel=3,
        )
        notes.append("k = 1: the pooled estimate is the single study; no heterogeneity estimate.")
        test = "z"
        fit_w = fit = Tau2Fit(0.0, None)
    else:
        fit_w = fit_working(y_w, v_w, method, None, control)
        fit = to_data_units(fit_w, units, method, k)
        for category, message in fit_messages(fit, method, control):
            warnings.warn(message, category, stacklevel=3)
    spec = TESTS[test]
    df: int | None = k - 1 if spec.uses_t else None
    crit = critical_value(level, df)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # common-effect fit (always: Q, and the CE estimate shown beside an RE one)
        w_fe = 1.0 / v_w
        sw_fe = float(_sum(w_fe))
        ce_w = float(w_fe @ y_w) / sw_fe
        ce_se_w = math.sqrt(1.0 / sw_fe)

        t_w = fit_w.tau2
        w = 1.0 / (v_w + t_w)
        sw = float(_sum(w))
        mu_w = float(w @ y_w) / sw
        var_w = 1.0 / sw
        if test in ("knha", "adhoc"):
            resid = y_w - mu_w
            factor = float(spec.variance_factor(float(w @ (resid * resid)), k - 1))
            if method == "EE":
                notes.append("the Hartung-Knapp adjustment is meant for random-effects models")
            if factor == 0.0:
                warnings.warn(
                    "Hartung-Knapp variance factor is 0 (all effects identical): "
                    "the confidence interval has zero width",
                    BoundaryWarning,
                    stacklevel=3,
                )
            var_w *= factor
        se_w = math.sqrt(var_w)
        pi_half_w = crit * math.sqrt(var_w + t_w)

        qt = cochran_q(y_w, v_w)
        # Q itself was checked before any estimator ran (tau2.fit_working)
        _check_representable({"tau^2": t_w, "the sum of the weights": sw})
        ci_ok = True
        if k >= 2:
            vt = typical_variance(v_w)
            _check_representable({"the typical within-study variance": vt})
            if method == "EE":
                i2, h2 = i2_from_q(qt.q, qt.df), h2_from_q(qt.q, qt.df)
            else:
                i2, h2 = i2_from_tau2(t_w, vt), h2_from_tau2(t_w, vt)
            lo_w, hi_w, ci_ok = q_profile_working(y_w, v_w, None, level, control)
            i2_ci = (i2_from_tau2(lo_w, vt), i2_from_tau2(hi_w, vt))
            h2_ci = (h2_from_tau2(lo_w, vt), h2_from_tau2(hi_w, vt))
        else:
            i2, h2 = 0.0, 1.0
            lo_w = hi_w = math.nan
            i2_ci = h2_ci = (math.nan, math.nan)
    if not ci_ok:
        warnings.warn(
            Q_PROFILE_NOT_CONVERGED.format(control.max_iter), ConvergenceWarning, stacklevel=3
        )

    est = _in_data_units(units.effect, mu_w, "pooled estimate")
    se = _in_data_units(units.spread, se_w, "standard error of the pooled estimate")
    half = _in_data_units(units.spread, crit * se_w, "confidence interval")
    pi_half = _in_data_units(units.spread, pi_half_w, "prediction interval")
    ce_est = _in_data_units(units.effect, ce_w, "common-effect estimate")
    ce_se = _in_data_units(units.spread, ce_se_w, "common-effect standard error")
    tau2_ci = (
        _in_data_units(units.variance, lo_w, "lower bound of the tau^2 interval"),
        _in_data_units(units.variance, hi_w, "upper bound of the tau^2 interval"),
    )
    _check_representable({"I^2": i2, "H^2": h2})
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        stat = est / se if se > 0 else math.copysign(math.inf, est) if est else math.nan
    pval = two_sided_p(stat, df) if not math.isnan(stat) else 1.0
    ce_half = critical_value(level) * ce_se

    return MetaAnalysisResult(
        estimate=est,
        se=se,
        ci_low=est - half,
        ci_high=est + half,
        statistic=stat,
        pvalue=pval,
        df=None if df is None else float(df),
        tau2=fit.tau2,
        tau2_se=fit.se,
        tau2_ci=tau2_ci,
        i2=i2,
        i2_ci=i2_ci,
        h2=h2,
        h2_ci=h2_ci,
        q=qt.q,
        q_df=qt.df,
        q_pvalue=qt.pvalue,
        pi_low=est - pi_half,
        pi_high=est + pi_half,
        k=k,
        method=method,
        test=test,
        level=level,
        measure=measure,
        effect=y,
        variance=v,
        weights=100.0 * w / sw,
        labels=lab,
        iterations=fit.iterations,
        converged=fit.converged,
        ce_estimate=ce_est,
        ce_se=ce_se,
        ce_ci_low=ce_est - ce_half,
        ce_ci_high=ce_est + ce_half,
        notes=tuple(notes),
        n_total=n_total,
        study_data=study_data,
    )


def _in_data_units(convert: Callable[[float], float], x: float, name: str) -> float:
    """``convert(x)`` (working units to the data's), or an error naming what overflowed."""
    try:
        out = convert(x)
    except OverflowError:
        out = math.inf
    if math.isinf(out) or (math.isnan(out) and not math.isnan(x)):
        raise MetaAnalysisError(
            f"the {name} cannot be represented in double precision for these effects and "
            "variances; rescale them (change units)"
        )
    return out


def _check_representable(values: dict[str, float]) -> None:
    """Raise naming the first statistic that over- or underflowed in working units."""
    for name, x in values.items():
        positive = name in ("the sum of the weights", "the typical within-study variance")
        if not math.isfinite(x) or (positive and x == 0.0):
            raise MetaAnalysisError(
                f"{name} cannot be represented in double precision for these effects and "
                "variances (they span too many orders of magnitude)"
            )
