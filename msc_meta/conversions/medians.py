"""Mean and SD from a median with its range and/or quartiles.

Part of :mod:`msc_meta.conversions`, which re-exports every public name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from .._errors import MetaAnalysisError
from .._validation import (
    check_no_inf,
)
from ._common import (
    FloatArray,
    FloatOrArray,
    _check_whole_n,
    _fmt,
    _prepare,
)

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
