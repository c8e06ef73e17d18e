"""Standard errors and SDs from what papers report: SD, SE, confidence intervals, P values, t.

Part of :mod:`msc_meta.conversions`, which re-exports every public name.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._errors import MetaAnalysisError
from .._inference import upper_quantile
from .._validation import (
    check_level,
    check_positive,
)
from ._common import (
    FloatOrArray,
    _check_ordered,
    _check_ratio_bounds,
    _check_whole_n,
    _fmt,
    _out,
    _prepare,
    _quantile,
    _read_df,
)


def se_from_sd(sd: ArrayLike, n: ArrayLike) -> FloatOrArray:
    r"""Standard error of a mean from the standard deviation and sample size.

    Parameters
    ----------
    sd : array_like
        Standard deviation of the observations (>= 0).
    n : array_like
        Number of observations (a whole number >= 1).

    Returns
    -------
    float or numpy.ndarray
        :math:`SE = SD / \sqrt{n}`; a float when every input is a scalar.

    Raises
    ------
    MetaAnalysisError
        If an SD is negative or a sample size is not a whole number >= 1.

    See Also
    --------
    sd_from_se : The inverse.

    Notes
    -----
    .. math:: SE = \frac{SD}{\sqrt{n}}

    The SE here is that of a single group's mean (not of a difference in
    means).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.2. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    An SD of 10 in 25 patients:

    >>> se_from_sd(10.0, 25)
    2.0
    >>> se_from_sd([10.0, 6.0], [25, 16])
    array([2. , 1.5])
    """
    (sd_, n_), scalar = _prepare(("sd", sd), ("n", n))
    check_positive(sd_, "sd", strict=False)
    _check_whole_n(n_)
    return _out(sd_ / np.sqrt(n_), scalar)


def sd_from_se(se: ArrayLike, n: ArrayLike) -> FloatOrArray:
    r"""Standard deviation from the standard error of a group mean.

    Parameters
    ----------
    se : array_like
        Standard error of the group's mean (>= 0).
    n : array_like
        Number of observations in the group (a whole number >= 1).

    Returns
    -------
    float or numpy.ndarray
        :math:`SD = SE \sqrt{n}`; a float when every input is a scalar.

    Raises
    ------
    MetaAnalysisError
        If an SE is negative or a sample size is not a whole number >= 1.

    See Also
    --------
    se_from_sd : The inverse.
    sd_from_ci : When the paper gives a confidence interval of the mean.

    Notes
    -----
    .. math:: SD = SE \sqrt{n}

    Use this only for the SE of **one group's mean**. The SE of a difference
    in means between two groups needs
    :math:`SD = SE / \sqrt{1/n_1 + 1/n_2}` instead (Handbook 6.5.2.3).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.2. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    A mean reported as 52.3 (SE 1.2) in 36 patients has SD 1.2 × 6 = 7.2:

    >>> round(sd_from_se(1.2, 36), 10)
    7.2
    """
    (se_, n_), scalar = _prepare(("se", se), ("n", n))
    check_positive(se_, "se", strict=False)
    _check_whole_n(n_)
    return _out(se_ * np.sqrt(n_), scalar)


def se_from_ci(
    lower: ArrayLike,
    upper: ArrayLike,
    *,
    level: float = 0.95,
    ratio: bool = False,
    df: ArrayLike | None = None,
) -> FloatOrArray:
    r"""Standard error of an estimate from its confidence interval.

    Parameters
    ----------
    lower : array_like
        Lower confidence limit.
    upper : array_like
        Upper confidence limit, ``lower < upper``.
    level : float, default 0.95
        Confidence level of the interval, in (0, 1).
    ratio : bool, default False
        If True the interval is that of a ratio (odds ratio, risk ratio,
        hazard ratio) on its natural scale; the bounds must be > 0 and the SE
        returned is that of the **log** ratio.
    df : array_like, optional
        Degrees of freedom when the interval was built with a t distribution
        (e.g. :math:`n_1 + n_2 - 2` for a difference in means of small
        groups). Default: the normal distribution.

    Returns
    -------
    float or numpy.ndarray
        The standard error (of the log ratio when ``ratio=True``).

    Raises
    ------
    MetaAnalysisError
        If ``lower >= upper`` in a row, a ratio's bound is <= 0, ``level`` is
        outside (0, 1) or ``df`` is <= 0.

    See Also
    --------
    sd_from_ci : SD of a group from the CI of its mean.

    Notes
    -----
    For a symmetric Wald-type interval :math:`\hat\theta \pm c\,SE`,

    .. math::

        SE = \frac{\text{upper} - \text{lower}}{2c}, \qquad
        SE_{\log} = \frac{\log(\text{upper}) - \log(\text{lower})}{2c}
        \quad\text{(ratio)},

    with :math:`c = \Phi^{-1}(1/2 + \text{level}/2)` (1.959964 for 95%, so
    :math:`2c = 3.92`) or, with ``df``, the matching quantile of the t
    distribution. metafor's ``conv.wald`` does the same conversion.

    The interval is assumed symmetric on the scale used (the log scale for
    ratios); asymmetric intervals (exact, profile-likelihood) give only an
    approximate SE.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, sections 6.3.1 (SE from a
       CI, ratio measures on the log scale) and 6.5.2.3 (t distribution for
       small samples). In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.
    .. [2] Altman DG, Bland JM. How to obtain the P value from a confidence
       interval. BMJ 2011;343:d2304.

    Examples
    --------
    A mean difference of 3.0 with 95% CI 1.04 to 4.96 has SE
    1.96 / 1.96 = 1 (to the rounding of 1.96):

    >>> round(se_from_ci(1.04, 4.96), 4)
    1.0
    >>> round(se_from_ci(0.52, 0.91, ratio=True), 4)  # HR 0.69 (0.52 to 0.91)
    0.1428
    """
    (lo, up), scalar = _prepare(("lower", lower), ("upper", upper))
    lv = check_level(level)
    _check_ordered(lo, up)
    if ratio:
        _check_ratio_bounds(lo, "lower")
        _check_ratio_bounds(up, "upper")
        lo, up = np.log(lo), np.log(up)
    crit = _quantile(lv, _read_df(df, lo.shape[0]), lo.shape[0])
    return _out((up - lo) / (2.0 * crit), scalar)


def sd_from_ci(
    lower: ArrayLike,
    upper: ArrayLike,
    n: ArrayLike,
    *,
    level: float = 0.95,
    use_t: bool = True,
) -> FloatOrArray:
    r"""Standard deviation of a group from the confidence interval of its mean.

    Parameters
    ----------
    lower : array_like
        Lower confidence limit of the group's mean.
    upper : array_like
        Upper confidence limit of the group's mean, ``lower < upper``.
    n : array_like
        Number of observations in the group (a whole number; >= 2 when
        ``use_t``).
    level : float, default 0.95
        Confidence level of the interval, in (0, 1).
    use_t : bool, default True
        Use the t distribution with :math:`n - 1` degrees of freedom, as the
        CI of a sample mean is almost always computed. False uses the normal
        distribution (the Handbook's 3.92), adequate for large groups only.

    Returns
    -------
    float or numpy.ndarray
        The standard deviation of the observations.

    Raises
    ------
    MetaAnalysisError
        If ``lower >= upper``, ``n`` is not a whole number (>= 2 with
        ``use_t``), or ``level`` is outside (0, 1).

    See Also
    --------
    se_from_ci : SE of any estimate (incl. ratios) from its CI.

    Notes
    -----
    .. math::

        SD = \sqrt{n}\,\frac{\text{upper} - \text{lower}}{2c},\qquad
        c = t_{n-1}^{-1}(1/2 + \text{level}/2)\ \text{(or } \Phi^{-1}\text{)}.

    For a 95% CI and large n, :math:`2c = 3.92`; for n = 25 the t value is
    2.0639 and the divisor 4.128 (the Handbook's example). For n > 100 the
    choice barely matters (2c = 3.97 with t at n = 101).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.2. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    A mean with 95% CI 30.0 to 34.2 in 25 patients:
    SD = 5 × 4.2 / (2 × 2.0639) = 5.087.

    >>> round(sd_from_ci(30.0, 34.2, 25), 3)
    5.087
    >>> round(sd_from_ci(30.0, 34.2, 25, use_t=False), 3)  # 5 × 4.2 / 3.92
    5.357
    """
    (lo, up, n_), scalar = _prepare(("lower", lower), ("upper", upper), ("n", n))
    lv = check_level(level)
    _check_ordered(lo, up)
    if use_t:
        _check_whole_n(n_, minimum=2, why=" for a t-based CI (df = n - 1); or use_t=False")
        crit = _quantile(lv, n_ - 1.0, n_.shape[0])
    else:
        _check_whole_n(n_)
        crit = _quantile(lv, None, n_.shape[0])
    return _out(np.sqrt(n_) * (up - lo) / (2.0 * crit), scalar)


def se_from_pvalue(
    estimate: ArrayLike,
    p: ArrayLike,
    *,
    ratio: bool = False,
    two_sided: bool = True,
    df: ArrayLike | None = None,
) -> FloatOrArray:
    r"""Standard error of an estimate from its P value.

    Parameters
    ----------
    estimate : array_like
        The effect estimate the P value tests against zero (a difference), or
        against one when ``ratio=True`` (a ratio on its natural scale, > 0).
    p : array_like
        The reported P value, strictly between 0 and 1. For "P < 0.05" the
        bound 0.05 gives a conservative (too large) SE.
    ratio : bool, default False
        The estimate is a ratio (OR, RR, HR); the SE returned is that of its
        log.
    two_sided : bool, default True
        Whether the P value is two-sided (almost always).
    df : array_like, optional
        Degrees of freedom when the P value came from a t test (e.g.
        :math:`n_1 + n_2 - 2`); default the normal distribution.

    Returns
    -------
    float or numpy.ndarray
        :math:`|\text{estimate}| / z` (or :math:`|\log(\text{estimate})| / z`).

    Raises
    ------
    MetaAnalysisError
        If a P value is outside (0, 1), a ratio estimate is <= 0, or the
        estimate is null (0, or 1 for a ratio), which carries no information
        about the SE.

    See Also
    --------
    se_from_t : When the test statistic itself is reported.

    Notes
    -----
    .. math::

        z = \Phi^{-1}(1 - p/2)\ \text{(two-sided)},\quad
        z = \Phi^{-1}(1 - p)\ \text{(one-sided)},\qquad
        SE = \frac{|\hat\theta|}{z}

    with :math:`\hat\theta = \log(\text{estimate})` for ratios, and the
    t quantile with ``df`` in place of :math:`\Phi^{-1}` for t tests. Exact
    quantiles are used; Altman & Bland's hand formula
    :math:`z = -0.862 + \sqrt{0.743 - 2.404\log p}` agrees to about 0.2%.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, sections 6.3.2 (SE from a
       P value) and 6.5.2.3 (t tests). In: Cochrane Handbook for Systematic
       Reviews of Interventions, version 6.4, 2023.
    .. [2] Altman DG, Bland JM. How to obtain the confidence interval from a
       P value. BMJ 2011;343:d2090.

    Examples
    --------
    Altman & Bland's first example: 49% v 32% recovered, a difference of
    17 percentage points with P = 0.032, so z = 2.144 and SE = 7.93:

    >>> round(se_from_pvalue(17.0, 0.032), 2)
    7.93

    Their second: a relative risk of 0.30 with P = 0.034; the SE of
    log(0.30) is 0.568:

    >>> round(se_from_pvalue(0.30, 0.034, ratio=True), 3)
    0.568
    """
    (est, p_), scalar = _prepare(("estimate", estimate), ("p", p))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((p_ <= 0) | (p_ >= 1))
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"p[{i}] = {_fmt(p_[i])} is not allowed; a P value must lie strictly between "
            "0 and 1 (give 0.05 for 'P < 0.05', a conservative choice; not a percentage)"
        )
    if ratio:
        _check_ratio_bounds(est, "estimate")
        est = np.log(est)
    with np.errstate(invalid="ignore"):
        null = np.flatnonzero(est == 0)
    if null.size:
        i = int(null[0])
        value = 1 if ratio else 0
        raise MetaAnalysisError(
            f"estimate[{i}] = {value} is the null value; it gives no information about the "
            "SE (|estimate| / z = 0). Use the CI or the test statistic instead"
        )
    tail = p_ / 2.0 if two_sided else p_
    dfs = _read_df(df, est.shape[0])
    z = upper_quantile(tail, dfs)
    return _out(np.abs(est) / z, scalar)


def se_from_t(estimate: ArrayLike, statistic: ArrayLike, *, ratio: bool = False) -> FloatOrArray:
    r"""Standard error of an estimate from its t (or z) statistic.

    Parameters
    ----------
    estimate : array_like
        The effect estimate (a ratio on its natural scale when ``ratio``).
    statistic : array_like
        The reported t or z statistic of the test of no effect (non-zero).
    ratio : bool, default False
        The estimate is a ratio; the SE returned is that of its log.

    Returns
    -------
    float or numpy.ndarray
        :math:`|\hat\theta / t|`.

    Raises
    ------
    MetaAnalysisError
        If a statistic is 0 or a ratio estimate is <= 0.

    See Also
    --------
    se_from_pvalue : When only the P value is reported.

    Notes
    -----
    .. math:: SE = \left|\frac{\hat\theta}{t}\right|

    with :math:`\hat\theta = \log(\text{estimate})` for ratios. The sign of
    the statistic is ignored.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.3. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    The Handbook's example: a mean difference of 3.8 with t = 2.78 has
    SE 3.8 / 2.78 = 1.37.

    >>> round(se_from_t(3.8, 2.78), 2)
    1.37
    """
    (est, t_), scalar = _prepare(("estimate", estimate), ("statistic", statistic))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(t_ == 0)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"statistic[{i}] = 0 is not allowed; a zero test statistic gives no SE"
        )
    if ratio:
        _check_ratio_bounds(est, "estimate")
        est = np.log(est)
    return _out(np.abs(est / t_), scalar)
