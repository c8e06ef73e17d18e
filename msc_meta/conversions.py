"""Convert what papers report into what a meta-analysis needs.

Trial reports rarely give every arm's mean, SD and sample size, or every
effect's standard error. The functions here recover them from what *is*
reported, with the formula, the source and a worked example in each
docstring:

===============================  =================================================
function                         from -> to
===============================  =================================================
:func:`se_from_sd`               SD and n -> SE of a mean
:func:`sd_from_se`               SE of a mean and n -> SD
:func:`se_from_ci`               confidence interval -> SE (log scale for ratios)
:func:`sd_from_ci`               CI of a group mean and n -> SD
:func:`se_from_pvalue`           estimate and P value -> SE
:func:`se_from_t`                estimate and t (or z) statistic -> SE
:func:`mean_sd_from_median`      median with range and/or quartiles -> mean, SD
:func:`counts_from_percent`      percentage of n -> whole count, with a check
:func:`combine_groups`           two arms' n, mean, SD -> one arm
:func:`combine_groups_many`      several arms' n, mean, SD -> one arm
:func:`combine_events`           two arms' events and n -> one arm
:func:`change_sd`                SDs before and after, correlation -> SD of change
:func:`correlation_from_change`  SDs before, after and of change -> correlation
===============================  =================================================

Every function takes scalars or array-likes (one value per study or arm) and
is vectorised with numpy: all-scalar input gives a ``float``, anything else a
1-d array. A ``NaN`` marks a missing value and gives ``NaN`` in the same row;
impossible values raise :class:`~msc_meta.MetaAnalysisError`, naming the
argument and the row (0-based, in brackets), echoing the value and saying what
is allowed.

Ratio measures (OR, RR, HR) are handled on the log scale, as everywhere in
msc_meta: ``se_from_ci(..., ratio=True)`` returns the SE of the *log* ratio.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from ._errors import MetaAnalysisError
from ._validation import (
    as_1d,
    check_counts,
    check_level,
    check_no_inf,
    check_positive,
    check_range,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CombinedEvents",
    "CombinedGroup",
    "CountFromPercent",
    "MeanSD",
    "change_sd",
    "combine_events",
    "combine_groups",
    "combine_groups_many",
    "correlation_from_change",
    "counts_from_percent",
    "mean_sd_from_median",
    "sd_from_change",
    "sd_from_ci",
    "sd_from_se",
    "se_from_ci",
    "se_from_pvalue",
    "se_from_sd",
    "se_from_t",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatOrArray = float | FloatArray


# --------------------------------------------------------------------------- helpers


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _prepare(*pairs: tuple[str, ArrayLike]) -> tuple[list[FloatArray], bool]:
    """Read named inputs as equally long 1-d float arrays; scalars broadcast.

    Returns the arrays and whether every input was a scalar (then the caller
    returns a ``float``). Infinite values are rejected, NaN passes (missing).
    """
    scalar = all(np.ndim(x) == 0 for _, x in pairs if x is not None)
    first = [as_1d(x, name) for name, x in pairs]
    k, k_from = 1, pairs[0][0]
    for (name, x), arr in zip(pairs, first, strict=True):
        if np.ndim(x) > 0 and arr.shape[0] != k:
            if k != 1:
                break  # as_1d below reports the mismatch
            k, k_from = arr.shape[0], name
    out = [as_1d(x, name, n=k, n_from=k_from) for name, x in pairs]
    for (name, _), arr in zip(pairs, out, strict=True):
        check_no_inf(arr, name)
    return out, scalar


def _out(x: FloatArray, scalar: bool) -> FloatOrArray:
    return float(x[0]) if scalar else x


def _check_whole_n(n: FloatArray, name: str = "n", *, minimum: int = 1, why: str = "") -> None:
    check_counts(n, name, positive=True)
    if minimum > 1:
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(n < minimum)
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{name}[{i}] = {_fmt(n[i])} is not allowed; it must be >= {minimum}{why}"
            )


def _check_ordered(lower: FloatArray, upper: FloatArray) -> None:
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(lower >= upper)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"lower[{i}] = {_fmt(lower[i])} is not below upper[{i}] = {_fmt(upper[i])}; "
            "a confidence interval needs lower < upper (were the bounds swapped?)"
        )


def _check_ratio_bounds(x: FloatArray, name: str) -> None:
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(x <= 0)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name}[{i}] = {_fmt(x[i])} is not allowed with ratio=True; the CI of a ratio "
            "(OR, RR, HR) has bounds > 0 (give the ratio scale, not the log scale, "
            "or use ratio=False for log-scale bounds)"
        )


def _quantile(level: float, df: FloatArray | None, k: int) -> FloatArray:
    """Two-sided critical value: z, or t with ``df`` degrees of freedom."""
    q = 0.5 + level / 2.0
    if df is None:
        return np.full(k, float(stats.norm.ppf(q)))
    return np.asarray(stats.t.ppf(q, df), dtype=np.float64)


def _read_df(df: ArrayLike | None, k: int) -> FloatArray | None:
    if df is None:
        return None
    arr = as_1d(df, "df", n=k, n_from="the other arguments")
    check_no_inf(arr, "df")
    check_positive(arr, "df")
    return arr


# --------------------------------------------------------------------------- SE and SD


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
    if dfs is None:
        z = np.asarray(stats.norm.isf(tail), dtype=np.float64)
    else:
        z = np.asarray(stats.t.isf(tail, dfs), dtype=np.float64)
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


# --------------------------------------------------------------------------- median -> mean/SD

_FIVE = ("minimum", "q1", "median", "q3", "maximum")

_METHOD_TEXT = {
    "S1": "S1 (min, median, max): mean Luo et al. 2018 eq. 7; SD Wan et al. 2014 eq. 9",
    "S2": "S2 (q1, median, q3): mean Luo et al. 2018 eq. 11; SD Wan et al. 2014 eq. 16",
    "S3-shi": "S3 (five numbers): mean Luo et al. 2018 eq. 15; SD Shi et al. 2020 eq. 10",
    "S3-wan": "S3 (five numbers): mean Luo et al. 2018 eq. 15; SD Wan et al. 2014 eqs 12-13",
    "none": "none: neither the range nor the quartiles were given",
}


@dataclass(frozen=True, eq=False)
class MeanSD:
    """Mean and standard deviation estimated from a median summary.

    Attributes
    ----------
    mean, sd : float or numpy.ndarray
        Estimated sample mean and standard deviation (floats when the input
        was scalar).
    method : str or tuple of str
        Per row, the scenario (S1, S2 or S3) and the equations used.
    """

    mean: FloatOrArray
    sd: FloatOrArray
    method: str | tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """Return a tidy DataFrame with columns ``mean``, ``sd``, ``method``."""
        import pandas as pd

        methods = [self.method] if isinstance(self.method, str) else list(self.method)
        return pd.DataFrame(
            {"mean": np.atleast_1d(self.mean), "sd": np.atleast_1d(self.sd), "method": methods}
        )


def _xi(n: FloatArray) -> FloatArray:
    """Wan et al. (2014) eq. 9: expected range of n standard normals (Blom)."""
    return np.asarray(2.0 * stats.norm.ppf((n - 0.375) / (n + 0.25)), dtype=np.float64)


def _eta(n: FloatArray) -> FloatArray:
    """Wan et al. (2014) eq. 16: expected IQR of n standard normals."""
    return np.asarray(2.0 * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25)), dtype=np.float64)


def _check_pair(a: FloatArray, b: FloatArray, name_a: str, name_b: str, needs: str) -> None:
    half = np.isnan(a) != np.isnan(b)
    bad = np.flatnonzero(half)
    if bad.size:
        i = int(bad[0])
        given, missing = (name_a, name_b) if np.isnan(b[i]) else (name_b, name_a)
        value = a[i] if given == name_a else b[i]
        raise MetaAnalysisError(
            f"{given}[{i}] = {_fmt(value)} is given but {missing}[{i}] is missing; {needs}"
        )


def mean_sd_from_median(
    *,
    median: ArrayLike,
    n: ArrayLike,
    q1: ArrayLike | None = None,
    q3: ArrayLike | None = None,
    minimum: ArrayLike | None = None,
    maximum: ArrayLike | None = None,
    sd_method: Literal["shi", "wan"] = "shi",
) -> MeanSD:
    r"""Estimate the sample mean and SD from the median with range and/or quartiles.

    Each row is handled according to what it reports (``NaN`` = not
    reported), in the three scenarios of Wan et al. (2014):

    - **S1**: minimum, median, maximum (``minimum`` and ``maximum``);
    - **S2**: first quartile, median, third quartile (``q1`` and ``q3``);
    - **S3**: all five numbers.

    Parameters
    ----------
    median : array_like
        Sample median(s). Needed for the mean; a NaN median gives a NaN mean
        but the SD is still estimated (it does not use the median).
    n : array_like
        Sample size(s), whole numbers >= 2.
    q1 : array_like, optional
        First quartile (S2, S3); give ``q1`` and ``q3`` or neither.
    q3 : array_like, optional
        Third quartile (S2, S3).
    minimum : array_like, optional
        Smallest observation (S1, S3); give ``minimum`` and ``maximum`` or
        neither.
    maximum : array_like, optional
        Largest observation (S1, S3).
    sd_method : {"shi", "wan"}, default "shi"
        SD estimator for S3: Shi et al. (2020) eq. 10 (metafor's default),
        or Wan et al. (2014) eqs 12-13, the plain average of the range- and
        IQR-based estimates. S1 and S2 always use Wan et al. (2014).

    Returns
    -------
    MeanSD
        ``mean``, ``sd`` (floats for scalar input, arrays otherwise) and
        ``method`` (per row: scenario and equations). A row with neither
        pair gives NaN and method ``"none: ..."``.

    Raises
    ------
    MetaAnalysisError
        If neither a range nor quartiles are given at all, only one end of a
        pair is given, the values violate
        ``minimum <= q1 <= median <= q3 <= maximum``, ``n`` is not a whole
        number >= 2, or ``sd_method`` is unknown.

    See Also
    --------
    sd_from_ci, sd_from_se

    Notes
    -----
    With :math:`a, q_1, m, q_3, b` the minimum, quartiles, median and maximum,

    .. math::

        \xi(n) = 2\Phi^{-1}\!\left(\frac{n - 0.375}{n + 0.25}\right), \qquad
        \eta(n) = 2\Phi^{-1}\!\left(\frac{0.75n - 0.125}{n + 0.25}\right).

    Means (Luo et al. 2018, eqs 7, 11, 15):

    .. math::

        \text{S1: } \bar x &= w\frac{a + b}{2} + (1 - w)m,
            \quad w = \frac{4}{4 + n^{0.75}} \\
        \text{S2: } \bar x &= w\frac{q_1 + q_3}{2} + (1 - w)m,
            \quad w = 0.7 + \frac{0.39}{n} \\
        \text{S3: } \bar x &= w_1\frac{a + b}{2} + w_2\frac{q_1 + q_3}{2}
            + (1 - w_1 - w_2)m,
            \quad w_1 = \frac{2.2}{2.2 + n^{0.75}},\ w_2 = 0.7 - \frac{0.72}{n^{0.55}}

    Standard deviations (Wan et al. 2014, eqs 9, 16 and 12-13; Shi et al.
    2020, eq. 10):

    .. math::

        \text{S1: } S &= \frac{b - a}{\xi(n)}, \qquad
        \text{S2: } S = \frac{q_3 - q_1}{\eta(n)} \\
        \text{S3 (wan): } S &= \frac{1}{2}\left(\frac{b - a}{\xi(n)}
            + \frac{q_3 - q_1}{\eta(n)}\right) \\
        \text{S3 (shi): } S &= w\frac{b - a}{\xi(n)} + (1 - w)\frac{q_3 - q_1}{\eta(n)},
            \quad w = \frac{1}{1 + 0.07n^{0.6}}

    These are the formulas of metafor's ``conv.fivenum`` with its default
    ``method="luo/wan/shi"`` and ``dist="norm"``; the S3 SD of Shi et al. is
    also the default of the R package meta's ``mean_sd_iqr_range`` (written
    as their shortcut eq. 11, algebraically the same). :math:`\xi(n)` and
    :math:`\eta(n)` use Blom's approximation for all n, as metafor does; Wan
    et al. tabulate the exact :math:`\xi(n)` for n <= 50 (Table 1), which
    differs by less than 0.5% for n >= 10 (4.5% at n = 2). The R package
    meta's ``method.sd = "Wan"`` uses those tables, so it differs slightly
    for small n.

    The estimators assume roughly normal data. Reporting a median often
    signals skewness: a median far from the mid-range or mid-quartile range
    is a warning sign (metafor's ``conv.fivenum`` tests for it, Shi et al.
    2023, and by default skips such studies; this function does not). metafor
    also skips n < 5; here n >= 2 is accepted.

    References
    ----------
    .. [1] Luo D, Wan X, Liu J, Tong T. Optimally estimating the sample mean
       from the sample size, median, mid-range, and/or mid-quartile range.
       Stat Methods Med Res 2018;27(6):1785-1805, eqs 7, 11 and 15.
    .. [2] Wan X, Wang W, Liu J, Tong T. Estimating the sample mean and
       standard deviation from the sample size, median, range and/or
       interquartile range. BMC Med Res Methodol 2014;14:135, eqs 9, 12-13
       and 16, Table 1.
    .. [3] Shi J, Luo D, Weng H, Zeng XT, Lin L, Chu H, Tong T. Optimally
       estimating the sample standard deviation from the five-number summary.
       Res Synth Methods 2020;11(5):641-654, eq. 10.
    .. [4] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6, section 6.5.2.5
       (medians and ranges). In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.

    Examples
    --------
    The three studies of metafor's ``conv.fivenum`` help page (n = 20):

    >>> r = mean_sd_from_median(median=6, n=20, minimum=2, maximum=14)   # S1
    >>> round(r.mean, 4), round(r.sd, 4)
    (6.5945, 3.2116)
    >>> r = mean_sd_from_median(median=6, n=20, q1=4, q3=10)             # S2
    >>> round(r.mean, 4), round(r.sd, 4)
    (6.7195, 4.7871)
    >>> r = mean_sd_from_median(median=6, n=20, q1=4, q3=10, minimum=2, maximum=14)
    >>> round(r.mean, 4), round(r.sd, 4)
    (6.9388, 3.6794)
    >>> r.method
    'S3 (five numbers): mean Luo et al. 2018 eq. 15; SD Shi et al. 2020 eq. 10'

    Rows may report different pieces; NaN marks what a row lacks:

    >>> nan = float("nan")
    >>> r = mean_sd_from_median(median=[6, 6], n=[20, 20], minimum=[2, nan],
    ...                         maximum=[14, nan], q1=[nan, 4], q3=[nan, 10])
    >>> r.sd.round(4)
    array([3.2116, 4.7871])
    """
    if sd_method not in ("shi", "wan"):
        raise MetaAnalysisError(
            f"sd_method={sd_method!r} is not allowed; valid values are: shi, wan"
        )
    given = {"minimum": minimum, "q1": q1, "q3": q3, "maximum": maximum}
    if all(v is None for v in given.values()):
        raise MetaAnalysisError(
            "mean_sd_from_median needs a range and/or quartiles besides the median: "
            "S1 needs minimum and maximum, S2 needs q1 and q3, S3 needs all four"
        )
    nan = float("nan")
    pairs: list[tuple[str, ArrayLike]] = [("median", median), ("n", n)]
    pairs += [(name, nan if value is None else value) for name, value in given.items()]
    (med, n_, lo, a1, a3, hi), scalar = _prepare(*pairs)
    # arguments left out entirely count as "not reported" in every row
    for name, value in given.items():
        if value is None:
            continue
        other = {"minimum": "maximum", "maximum": "minimum", "q1": "q3", "q3": "q1"}[name]
        if given[other] is None:
            range_pair = name in ("minimum", "maximum")
            scen = "S1 (minimum, median, maximum)" if range_pair else "S2 (q1, median, q3)"
            raise MetaAnalysisError(
                f"{name} is given but {other} is missing; scenario {scen} and S3 (all five "
                "numbers) need both"
            )
    check_no_inf(n_, "n")
    if np.isnan(n_).any():
        i = int(np.flatnonzero(np.isnan(n_))[0])
        raise MetaAnalysisError(f"n[{i}] is missing (NaN); the sample size is required")
    _check_whole_n(
        n_, minimum=2, why="; a range or quartiles of one observation say nothing about the SD"
    )
    _check_pair(lo, hi, "minimum", "maximum", "S1 and S3 need both ends of the range")
    _check_pair(a1, a3, "q1", "q3", "S2 and S3 need both quartiles")
    five = np.column_stack([lo, a1, med, a3, hi])
    for i in range(five.shape[0]):
        row = [(name, v) for name, v in zip(_FIVE, five[i], strict=True) if not np.isnan(v)]
        for (name_a, va), (name_b, vb) in itertools.pairwise(row):
            if va > vb:
                raise MetaAnalysisError(
                    f"{name_a}[{i}] = {_fmt(va)} is larger than {name_b}[{i}] = {_fmt(vb)}; "
                    "a median summary needs minimum <= q1 <= median <= q3 <= maximum"
                )

    has_range = ~np.isnan(lo)
    has_iqr = ~np.isnan(a1)
    s1, s2, s3 = has_range & ~has_iqr, has_iqr & ~has_range, has_range & has_iqr
    xi, eta = _xi(n_), _eta(n_)
    mid_range, mid_iqr = (lo + hi) / 2.0, (a1 + a3) / 2.0
    sd_range, sd_iqr = (hi - lo) / xi, (a3 - a1) / eta

    mean = np.full(n_.shape[0], np.nan)
    sd = np.full(n_.shape[0], np.nan)
    w = 4.0 / (4.0 + n_**0.75)
    mean[s1] = (w * mid_range + (1.0 - w) * med)[s1]
    sd[s1] = sd_range[s1]
    w = 0.7 + 0.39 / n_
    mean[s2] = (w * mid_iqr + (1.0 - w) * med)[s2]
    sd[s2] = sd_iqr[s2]
    w1 = 2.2 / (2.2 + n_**0.75)
    w2 = 0.7 - 0.72 / n_**0.55
    mean[s3] = (w1 * mid_range + w2 * mid_iqr + (1.0 - w1 - w2) * med)[s3]
    if sd_method == "shi":
        w = 1.0 / (1.0 + 0.07 * n_**0.6)
        sd[s3] = (w * sd_range + (1.0 - w) * sd_iqr)[s3]
    else:
        sd[s3] = (0.5 * (sd_range + sd_iqr))[s3]

    s3_key = f"S3-{sd_method}"
    methods = tuple(
        _METHOD_TEXT["S1" if s1[i] else "S2" if s2[i] else s3_key if s3[i] else "none"]
        for i in range(n_.shape[0])
    )
    if scalar:
        return MeanSD(mean=float(mean[0]), sd=float(sd[0]), method=methods[0])
    return MeanSD(mean=mean, sd=sd, method=methods)


# --------------------------------------------------------------------------- percentages


@dataclass(frozen=True, eq=False)
class CountFromPercent:
    """A whole count recovered from a reported percentage of ``n``.

    Attributes
    ----------
    count : int or numpy.ndarray of int
        The count nearest to ``percent / 100 * n`` (rounded half up) among
        those that reproduce the reported percentage.
    percent : float or numpy.ndarray
        The reported percentage.
    n : int or numpy.ndarray of int
        The denominator.
    reproduced_percent : float or numpy.ndarray
        ``100 * count / n`` at full precision.
    exact : bool or numpy.ndarray of bool
        True when ``count`` is the *only* whole number whose percentage
        rounds to the reported value; False flags an ambiguous row (several
        counts reproduce it, e.g. coarse rounding of a large ``n``).
    derivation : str or tuple of str
        A one-line audit trail per row for data provenance, e.g.
        ``"53.3% × 30 = 15.99 → 16 (16/30 = 53.33%)"``.
    decimals : int or numpy.ndarray of int
        The number of decimals the percentage was checked at.
    """

    count: int | IntArray
    percent: FloatOrArray
    n: int | IntArray
    reproduced_percent: FloatOrArray
    exact: bool | BoolArray
    derivation: str | tuple[str, ...]
    decimals: int | IntArray

    def to_frame(self) -> pd.DataFrame:
        """Return a tidy DataFrame with one row per percentage."""
        import pandas as pd

        derivs = [self.derivation] if isinstance(self.derivation, str) else self.derivation
        return pd.DataFrame(
            {
                "count": np.atleast_1d(self.count),
                "n": np.atleast_1d(self.n),
                "percent": np.atleast_1d(self.percent),
                "decimals": np.atleast_1d(self.decimals),
                "reproduced_percent": np.atleast_1d(self.reproduced_percent),
                "exact": np.atleast_1d(self.exact),
                "derivation": list(derivs),
            }
        )


def _plain(x: Fraction, digits: int) -> str:
    """Format ``x`` with at most ``digits`` decimals, trailing zeros dropped."""
    text = f"{float(x):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_percent(value: object, i: int, decimals: int | None) -> tuple[Fraction, int, str]:
    """Return the exact reported value, the decimals to check and its text."""
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        shown_default = 0
    elif isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} is not a number; give a percentage such as 53.3 or "
            "the text '53.3' as printed in the paper"
        )
    else:
        text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
        shown_default = 1
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} could not be read as a number; give a percentage "
            "such as 53.3 or '53.3'"
        ) from None
    if not dec.is_finite():
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} is not allowed; the percentage must be a finite number"
        )
    exponent = dec.as_tuple().exponent
    shown = max(0, -int(exponent)) if isinstance(exponent, int) else 0
    digits = max(shown_default if decimals is None else decimals, shown)
    exact = Fraction(dec)
    if not 0 <= exact <= 100:
        raise MetaAnalysisError(
            f"percent[{i}] = {text} is not allowed; it must lie in [0, 100] "
            "(give a percentage, not a proportion or a count)"
        )
    return exact, digits, text


def counts_from_percent(
    percent: object, n: ArrayLike, *, decimals: int | None = None
) -> CountFromPercent:
    r"""Recover whole counts from reported percentages, checking the rounding.

    Papers often report "53.3% of 30" instead of "16/30". This function
    returns the count and checks that it reproduces the percentage at the
    precision it was printed with; a percentage no whole count can give is
    an error (a typo, or the wrong denominator).

    Parameters
    ----------
    percent : float, str or sequence of them
        Reported percentage(s), in [0, 100]. Give text as printed (``"53.3"``,
        ``"53.30"``, ``"50%"``) to let the number of decimals be read from it;
        numbers are checked at ``decimals`` (default 1) decimals, or more if
        the number has more.
    n : array_like
        Denominator(s): whole numbers >= 1.
    decimals : int, optional
        Number of decimals the percentages were printed with. Overrides the
        defaults above (but never hides decimals a value actually shows).

    Returns
    -------
    CountFromPercent
        ``count``, ``percent``, ``n``, ``reproduced_percent``, ``exact``,
        ``derivation`` and ``decimals``; scalars for scalar input, arrays (and
        tuples of strings) otherwise.

    Raises
    ------
    MetaAnalysisError
        If no whole count reproduces a percentage (the message shows the two
        nearest candidates), a percentage is outside [0, 100] or not a
        number, or ``n`` is not a whole number >= 1.

    Notes
    -----
    With :math:`p` the reported percentage printed with :math:`d` decimals,
    the counts consistent with it are

    .. math::

        K = \left\{k \in \{0, \dots, n\} :
            \left|\frac{100k}{n} - p\right| \le \tfrac12 10^{-d}\right\},

    (the closed interval accepts both round-half-up and round-half-even
    reporting). The count returned is :math:`\lfloor pn/100 + 1/2\rfloor`
    (round half up, not Python's banker's rounding), which is the element of
    :math:`K` nearest to :math:`pn/100` whenever :math:`K` is not empty.
    ``exact`` is False when :math:`|K| > 1`. All arithmetic is exact
    (rational), so 53.3% is not confused with 53.29999....

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6, section 6.4
       (dichotomous outcome data need counts of events and participants).
       In: Cochrane Handbook for Systematic Reviews of Interventions,
       version 6.4, 2023.
    .. [2] Brown NJL, Heathers JAJ. The GRIM test: a simple technique detects
       numerous anomalies in the reporting of results in psychology. Soc
       Psychol Personal Sci 2017;8(4):363-369 (the consistency check).

    Examples
    --------
    53.3% of 30 patients is 16 patients (16/30 = 53.33%):

    >>> r = counts_from_percent("53.3", 30)
    >>> r.count, r.exact
    (16, True)
    >>> r.derivation
    '53.3% × 30 = 15.99 → 16 (16/30 = 53.33%)'

    A percentage that no count of 30 can give is refused:

    >>> try:
    ...     counts_from_percent("53.5", 30)
    ... except MetaAnalysisError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    percent[0] = 53.5% of n[0] = 30 cannot be reproduced by any whole count:
    16/30 = 53.33% and 17/30 = 56.67% (reported to 1 decimal); check the
    percentage, its denominator and its rounding
    """
    scalar = isinstance(percent, (str, int, float, np.integer, np.floating))
    if scalar:
        values: list[object] = [percent]
    elif isinstance(percent, Sequence) or hasattr(percent, "__array__"):
        values = list(np.asarray(percent, dtype=object).ravel())
    else:
        raise MetaAnalysisError(
            f"percent could not be read (got {type(percent).__name__}); give a number, "
            "a string such as '53.3', or a sequence of them"
        )
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)) or decimals < 0
    ):
        raise MetaAnalysisError(
            f"decimals={decimals!r} is not allowed; give a whole number >= 0 or None"
        )
    scalar = scalar and np.ndim(n) == 0
    n_arr = as_1d(n, "n")
    if len(values) == 1 and n_arr.shape[0] > 1:
        values = values * n_arr.shape[0]
    elif np.ndim(n) == 0:
        n_arr = np.full(len(values), n_arr[0])
    if n_arr.shape[0] != len(values):
        raise MetaAnalysisError(
            f"n has {n_arr.shape[0]} values but percent has {len(values)}: "
            "every argument needs one value per row"
        )
    if np.isnan(n_arr).any():
        i = int(np.flatnonzero(np.isnan(n_arr))[0])
        raise MetaAnalysisError(f"n[{i}] is missing (NaN); the denominator is required")
    _check_whole_n(n_arr)

    counts, pcts, reproduced, exacts, derivs, digits_out = [], [], [], [], [], []
    for i, (value, n_f) in enumerate(zip(values, n_arr, strict=True)):
        p, digits, text = _parse_percent(value, i, decimals)
        n_i = int(n_f)
        half = Fraction(1, 2 * 10**digits)
        target = p * n_i / 100
        lo_k = max(0, math.ceil((p - half) * n_i / 100))
        hi_k = min(n_i, math.floor((p + half) * n_i / 100))
        n_candidates = hi_k - lo_k + 1
        pct_digits = digits + 1
        if n_candidates < 1:
            below = max(0, min(n_i, math.floor(target)))
            above = min(n_i, below + 1)
            near = " and ".join(
                f"{c}/{n_i} = {_plain(Fraction(100 * c, n_i), pct_digits)}%"
                for c in sorted({below, above})
            )
            unit = "decimal" if digits == 1 else "decimals"
            raise MetaAnalysisError(
                f"percent[{i}] = {text}% of n[{i}] = {n_i} cannot be reproduced by any whole "
                f"count: {near} (reported to {digits} {unit}); check the percentage, its "
                "denominator and its rounding"
            )
        # round half up; it always lies in [lo_k, hi_k] when that is not empty (see Notes)
        count = min(max(math.floor(target + Fraction(1, 2)), lo_k), hi_k)
        rep = Fraction(100 * count, n_i)
        deriv = (
            f"{text}% × {n_i} = {_plain(target, 4)} → {count} "
            f"({count}/{n_i} = {_plain(rep, pct_digits)}%)"
        )
        if 1 < n_candidates <= 5:
            others = ", ".join(str(c) for c in range(lo_k, hi_k + 1) if c != count)
            deriv += f"; not unique: {others} also give {text}%"
        elif n_candidates > 5:
            deriv += f"; not unique: every count from {lo_k} to {hi_k} gives {text}%"
        counts.append(count)
        pcts.append(float(p))
        reproduced.append(float(rep))
        exacts.append(n_candidates == 1)
        derivs.append(deriv)
        digits_out.append(digits)

    if scalar:
        return CountFromPercent(
            count=counts[0],
            percent=pcts[0],
            n=int(n_arr[0]),
            reproduced_percent=reproduced[0],
            exact=exacts[0],
            derivation=derivs[0],
            decimals=digits_out[0],
        )
    return CountFromPercent(
        count=np.asarray(counts, dtype=np.int64),
        percent=np.asarray(pcts, dtype=np.float64),
        n=n_arr.astype(np.int64),
        reproduced_percent=np.asarray(reproduced, dtype=np.float64),
        exact=np.asarray(exacts, dtype=np.bool_),
        derivation=tuple(derivs),
        decimals=np.asarray(digits_out, dtype=np.int64),
    )


# --------------------------------------------------------------------------- combining arms


@dataclass(frozen=True, eq=False)
class CombinedGroup:
    """One arm made by merging several: total size, mean and SD.

    Attributes
    ----------
    n, mean, sd : float or numpy.ndarray
        Combined sample size, mean and standard deviation.
    """

    n: FloatOrArray
    mean: FloatOrArray
    sd: FloatOrArray


@dataclass(frozen=True, eq=False)
class CombinedEvents:
    """One dichotomous arm made by merging several: events and total size.

    Attributes
    ----------
    events, n : float or numpy.ndarray
        Combined number of events and of participants.
    """

    events: FloatOrArray
    n: FloatOrArray


def _check_arm(n_: FloatArray, sd_: FloatArray, n_name: str, sd_name: str) -> None:
    if np.isnan(n_).any():
        i = int(np.flatnonzero(np.isnan(n_))[0])
        raise MetaAnalysisError(f"{n_name}[{i}] is missing (NaN); group sizes are required")
    _check_whole_n(n_, n_name)
    check_positive(sd_, sd_name, strict=False)


def combine_groups(
    n1: ArrayLike,
    mean1: ArrayLike,
    sd1: ArrayLike,
    n2: ArrayLike,
    mean2: ArrayLike,
    sd2: ArrayLike,
) -> CombinedGroup:
    r"""Merge two arms (n, mean, SD) into one, as if their data were pooled.

    Use it to form a single intervention arm from two doses, or two subgroups
    reported separately, before comparing with a shared control.

    Parameters
    ----------
    n1 : array_like
        Size of the first arm (whole number >= 1).
    mean1 : array_like
        Mean of the first arm.
    sd1 : array_like
        SD of the first arm (>= 0).
    n2 : array_like
        Size of the second arm (whole number >= 1).
    mean2 : array_like
        Mean of the second arm.
    sd2 : array_like
        SD of the second arm (>= 0).

    Returns
    -------
    CombinedGroup
        ``n``, ``mean``, ``sd`` of the merged arm (floats for scalar input).

    Raises
    ------
    MetaAnalysisError
        If a size is not a whole number >= 1 or an SD is negative.

    See Also
    --------
    combine_groups_many : Several arms at once.
    combine_events : Dichotomous arms.

    Notes
    -----
    With :math:`N = n_1 + n_2` (Handbook Table 6.5.a),

    .. math::

        M = \frac{n_1 M_1 + n_2 M_2}{N}, \qquad
        SD = \sqrt{\frac{(n_1 - 1)SD_1^2 + (n_2 - 1)SD_2^2
             + \frac{n_1 n_2}{N}(M_1 - M_2)^2}{N - 1}}.

    This is exact: it equals the mean and SD (``ddof=1``) of the
    concatenated raw data. Two arms of one observation each give
    :math:`|M_1 - M_2|/\sqrt 2`.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.10 and
       Table 6.5.a. In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.

    Examples
    --------
    Two doses, 10 patients with mean 5 (SD 1) and 20 with mean 8 (SD 2):
    M = 210 / 30 = 7, SD = sqrt((9 + 76 + 60) / 29) = sqrt(5) = 2.2361:

    >>> g = combine_groups(10, 5.0, 1.0, 20, 8.0, 2.0)
    >>> g.n, g.mean, round(g.sd, 4)
    (30.0, 7.0, 2.2361)
    """
    arrays, scalar = _prepare(
        ("n1", n1), ("mean1", mean1), ("sd1", sd1), ("n2", n2), ("mean2", mean2), ("sd2", sd2)
    )
    a_n, a_m, a_s, b_n, b_m, b_s = arrays
    _check_arm(a_n, a_s, "n1", "sd1")
    _check_arm(b_n, b_s, "n2", "sd2")
    total = a_n + b_n
    mean = (a_n * a_m + b_n * b_m) / total
    ss = (a_n - 1.0) * a_s**2 + (b_n - 1.0) * b_s**2 + a_n * b_n / total * (a_m - b_m) ** 2
    sd = np.sqrt(ss / (total - 1.0))
    return CombinedGroup(n=_out(total, scalar), mean=_out(mean, scalar), sd=_out(sd, scalar))


def combine_groups_many(n: ArrayLike, mean: ArrayLike, sd: ArrayLike) -> CombinedGroup:
    r"""Merge any number of arms (n, mean, SD) into one.

    Parameters
    ----------
    n : array_like
        Size of each arm to merge (at least one arm; whole numbers >= 1).
    mean : array_like
        Mean of each arm.
    sd : array_like
        SD of each arm (>= 0).

    Returns
    -------
    CombinedGroup
        ``n``, ``mean`` and ``sd`` of the merged arm, as floats.

    Raises
    ------
    MetaAnalysisError
        If the arrays differ in length, are empty, contain NaN, a size is
        not a whole number >= 1 or an SD is negative.

    See Also
    --------
    combine_groups : The two-arm formula this generalises.

    Notes
    -----
    Folding :func:`combine_groups` pairwise over the arms gives the same
    result, in closed form:

    .. math::

        N = \sum_j n_j,\quad M = \frac{1}{N}\sum_j n_j M_j,\quad
        SD = \sqrt{\frac{\sum_j (n_j - 1)SD_j^2 + \sum_j n_j (M_j - M)^2}{N - 1}}

    (within-arm plus between-arm sums of squares). The result does not depend
    on the order of the arms. Typical use: a multi-dose trial whose dose arms
    are combined for comparison with its single placebo arm (Handbook
    23.3.4), rather than counting the placebo arm twice.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6, section 6.5.2.10
       and Table 6.5.a. In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.
    .. [2] Higgins JPT, Eldridge S, Li T (editors). Chapter 23, section 23.3.4
       (multi-arm studies). Ibid.

    Examples
    --------
    Three dose arms of a trial with one placebo arm. N = 45,
    M = (50 + 160 + 90) / 45 = 6.6667; within-arm SS = 9 + 76 + 31.5 = 116.5,
    between-arm SS = 27.778 + 35.556 + 6.667 = 70, SD = sqrt(186.5 / 44):

    >>> g = combine_groups_many(n=[10, 20, 15], mean=[5.0, 8.0, 6.0], sd=[1.0, 2.0, 1.5])
    >>> g.n, round(g.mean, 4), round(g.sd, 4)
    (45.0, 6.6667, 2.0588)
    """
    n_ = as_1d(n, "n")
    m_ = as_1d(mean, "mean", n=n_.shape[0], n_from="n")
    s_ = as_1d(sd, "sd", n=n_.shape[0], n_from="n")
    if n_.size == 0:
        raise MetaAnalysisError("n is empty; at least one arm is needed")
    for name, arr in (("n", n_), ("mean", m_), ("sd", s_)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{name}[{i}] = {arr[i]} is not allowed; every arm needs a finite {name}"
            )
    _check_arm(n_, s_, "n", "sd")
    total = float(n_.sum())
    grand = float((n_ * m_).sum() / total)
    if total == 1.0:
        return CombinedGroup(n=total, mean=grand, sd=float(s_[0]))
    ss = float(((n_ - 1.0) * s_**2).sum() + (n_ * (m_ - grand) ** 2).sum())
    return CombinedGroup(n=total, mean=grand, sd=math.sqrt(ss / (total - 1.0)))


def combine_events(
    events1: ArrayLike, n1: ArrayLike, events2: ArrayLike, n2: ArrayLike
) -> CombinedEvents:
    r"""Merge two dichotomous arms (events out of n) into one.

    Parameters
    ----------
    events1 : array_like
        Events in the first arm (whole numbers, ``events1 <= n1``).
    n1 : array_like
        Size of the first arm (whole numbers).
    events2 : array_like
        Events in the second arm (whole numbers, ``events2 <= n2``).
    n2 : array_like
        Size of the second arm (whole numbers).

    Returns
    -------
    CombinedEvents
        ``events`` and ``n`` of the merged arm (floats for scalar input).

    Raises
    ------
    MetaAnalysisError
        If a count is not a whole number, a size is < 1 or events exceed the
        arm's size.

    See Also
    --------
    combine_groups : Continuous arms.

    Notes
    -----
    .. math:: e = e_1 + e_2, \qquad N = n_1 + n_2

    References
    ----------
    .. [1] Higgins JPT, Eldridge S, Li T (editors). Chapter 23, section
       23.3.4 (combine groups to create a single pair-wise comparison). In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    >>> e = combine_events(3, 25, 5, 27)
    >>> e.events, e.n
    (8.0, 52.0)
    """
    arrays, scalar = _prepare(("events1", events1), ("n1", n1), ("events2", events2), ("n2", n2))
    e1, a_n, e2, b_n = arrays
    for name, arr in (("events1", e1), ("n1", a_n), ("events2", e2), ("n2", b_n)):
        if np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr))[0])
            raise MetaAnalysisError(f"{name}[{i}] is missing (NaN); counts are required")
    check_counts(e1, "events1")
    check_counts(e2, "events2")
    _check_whole_n(a_n, "n1")
    _check_whole_n(b_n, "n2")
    for e, m, en, nn in ((e1, a_n, "events1", "n1"), (e2, b_n, "events2", "n2")):
        bad = np.flatnonzero(e > m)
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{en}[{i}] = {_fmt(e[i])} is larger than {nn}[{i}] = {_fmt(m[i])}; "
                f"{en} must be <= {nn}"
            )
    return CombinedEvents(events=_out(e1 + e2, scalar), n=_out(a_n + b_n, scalar))


# --------------------------------------------------------------------------- change scores


def change_sd(sd_pre: ArrayLike, sd_post: ArrayLike, r: ArrayLike) -> FloatOrArray:
    r"""SD of the change from baseline, from the baseline and final SDs.

    Parameters
    ----------
    sd_pre : array_like
        SD at baseline (>= 0).
    sd_post : array_like
        SD at follow-up (>= 0).
    r : array_like
        Correlation between baseline and follow-up values, in [-1, 1];
        usually imputed from another study, so try several values in a
        sensitivity analysis.

    Returns
    -------
    float or numpy.ndarray
        SD of the within-person change.

    Raises
    ------
    MetaAnalysisError
        If an SD is negative or ``r`` lies outside [-1, 1].

    See Also
    --------
    correlation_from_change : The inverse, to impute ``r``.
    sd_from_change : Alias of this function.

    Notes
    -----
    .. math::

        SD_{\text{change}} = \sqrt{SD_{\text{pre}}^2 + SD_{\text{post}}^2
            - 2r\,SD_{\text{pre}}SD_{\text{post}}}

    The same formula gives the SD of within-person differences in a
    cross-over trial (Handbook 5.1, section 16.4.6.3).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.8. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.
    .. [2] Higgins JPT, Green S (editors). Cochrane Handbook for Systematic
       Reviews of Interventions, version 5.1.0, 2011, section 16.4.6.4
       (worked example).

    Examples
    --------
    The Handbook 5.1 cross-over example: SDs 2.38 and 2.21, imputed
    correlation 0.68, n = 10. SD of the differences 1.843, SE of the mean
    difference 1.843 / sqrt(10) = 0.583:

    >>> round(change_sd(2.38, 2.21, 0.68), 3)
    1.843
    """
    (pre, post, r_), scalar = _prepare(("sd_pre", sd_pre), ("sd_post", sd_post), ("r", r))
    check_positive(pre, "sd_pre", strict=False)
    check_positive(post, "sd_post", strict=False)
    check_range(r_, "r", -1.0, 1.0)
    var = pre**2 + post**2 - 2.0 * r_ * pre * post
    return _out(np.sqrt(np.maximum(var, 0.0)), scalar)


sd_from_change = change_sd


def correlation_from_change(
    sd_pre: ArrayLike, sd_post: ArrayLike, sd_change: ArrayLike
) -> FloatOrArray:
    r"""Correlation between baseline and follow-up implied by three SDs.

    Use a study that reports all three SDs to impute the correlation for
    studies that report only baseline and final SDs (see :func:`change_sd`).

    Parameters
    ----------
    sd_pre : array_like
        SD at baseline (> 0).
    sd_post : array_like
        SD at follow-up (> 0).
    sd_change : array_like
        SD of the change from baseline (>= 0).

    Returns
    -------
    float or numpy.ndarray
        The implied correlation, in [-1, 1].

    Raises
    ------
    MetaAnalysisError
        If an SD is not positive, or the three SDs are impossible together
        (``sd_change`` outside ``[|sd_pre - sd_post|, sd_pre + sd_post]``,
        which would put the correlation outside [-1, 1]).

    See Also
    --------
    change_sd : The inverse.

    Notes
    -----
    .. math::

        r = \frac{SD_{\text{pre}}^2 + SD_{\text{post}}^2 - SD_{\text{change}}^2}
                 {2\,SD_{\text{pre}}SD_{\text{post}}}

    Values within 1e-12 of ±1 (rounding of the reported SDs) are clipped.
    A correlation below 0.5 means a final-value analysis is more precise
    than a change-score analysis (Handbook 6.5.2.8).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.8. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    Baseline SD 6.4, final SD 7.1, SD of change 4.5:
    r = (40.96 + 50.41 - 20.25) / (2 × 6.4 × 7.1) = 71.12 / 90.88 = 0.78.

    >>> round(correlation_from_change(6.4, 7.1, 4.5), 4)
    0.7826
    """
    arrays, scalar = _prepare(("sd_pre", sd_pre), ("sd_post", sd_post), ("sd_change", sd_change))
    pre, post, chg = arrays
    check_positive(pre, "sd_pre")
    check_positive(post, "sd_post")
    check_positive(chg, "sd_change", strict=False)
    r = (pre**2 + post**2 - chg**2) / (2.0 * pre * post)
    tol = 1e-12
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(np.abs(r) > 1.0 + tol)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"sd_change[{i}] = {_fmt(chg[i])} is impossible with sd_pre[{i}] = "
            f"{_fmt(pre[i])} and sd_post[{i}] = {_fmt(post[i])}: it must lie in "
            f"[{_fmt(abs(pre[i] - post[i]))}, {_fmt(pre[i] + post[i])}] (the implied "
            f"correlation {_fmt(r[i])} is outside [-1, 1]); check the three SDs"
        )
    return _out(np.clip(r, -1.0, 1.0), scalar)
