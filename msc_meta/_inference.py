"""Tests of a pooled estimate, critical values and p-values: the library's low layer of inference.

The one place the library names its tests (metafor's ``test`` codes, their
aliases, labels and variance factors) and turns a confidence level into a
critical value and a statistic into a p-value, so that every interval and test
uses the same (accurate, scipy.special) functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._validation import resolve_code

FloatArray = NDArray[np.float64]

TestCode = Literal["z", "t", "knha", "adhoc"]


# --------------------------------------------------------------------------- tests registry


@dataclass(frozen=True)
class _TestSpec:
    """How a test scales the variance of the estimate and which reference distribution it uses."""

    uses_t: bool
    #: (weighted RSS, df) -> factor, element by element: one fit's floats or many fits' arrays
    variance_factor: Callable[[ArrayLike, ArrayLike], FloatArray]
    label: str  # for summaries and the report


def _unit(rss: ArrayLike, df: ArrayLike) -> FloatArray:
    return np.ones_like(np.asarray(rss, dtype=np.float64))


def _knha(rss: ArrayLike, df: ArrayLike) -> FloatArray:
    # metafor sets the factor to 0 when the weighted RSS is numerically 0
    r = np.asarray(rss, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = r / np.asarray(df, dtype=np.float64)
        return np.asarray(np.where(r <= np.finfo(float).eps, 0.0, ratio), dtype=np.float64)


def _adhoc(rss: ArrayLike, df: ArrayLike) -> FloatArray:
    # fmax, as Python's max(1.0, x): 1 where the factor is NaN
    return np.asarray(np.fmax(1.0, _knha(rss, df)), dtype=np.float64)


#: Registry of tests of the pooled estimate (metafor's ``test`` argument).
TESTS: dict[str, _TestSpec] = {
    "z": _TestSpec(False, _unit, "z (normal)"),
    "t": _TestSpec(True, _unit, "t"),
    "knha": _TestSpec(True, _knha, "Hartung-Knapp"),
    "adhoc": _TestSpec(True, _adhoc, "Hartung-Knapp (ad hoc)"),
}

#: Other names accepted for test codes: metafor's ``"hksj"`` (Hartung-Knapp-Sidik-Jonkman).
TEST_ALIASES: dict[str, str] = {"hksj": "knha"}


def canonical_test(test: str) -> str:
    """Resolve case and aliases of a test code.

    Parameters
    ----------
    test : str
        ``z``, ``t``, ``knha`` (alias ``hksj``) or ``adhoc``, in any case.

    Returns
    -------
    str
        The canonical code, a key of :data:`TESTS`.

    Raises
    ------
    MetaAnalysisError
        ``test`` is not a known code.

    Examples
    --------
    >>> canonical_test("HKSJ"), TESTS[canonical_test("Adhoc")].label
    ('knha', 'Hartung-Knapp (ad hoc)')
    """
    return resolve_code(test, "test", TESTS, TEST_ALIASES, "a known test")


# --------------------------------------------------------------------------- distributions


def critical_value(level: float, df: float | None = None) -> float:
    """Two-sided critical value for a ``level`` interval: N(0, 1), or Student's t with ``df``.

    Parameters
    ----------
    level : float
        Confidence level in (0, 1), for example 0.95.
    df : float or None, default None
        Degrees of freedom of the t distribution; None for the standard normal.

    Returns
    -------
    float
        The ``(1 + level) / 2`` quantile.

    Examples
    --------
    >>> round(critical_value(0.95), 6), round(critical_value(0.95, 4), 6)
    (1.959964, 2.776445)
    """
    q = 0.5 + level / 2.0
    return float(special.ndtri(q)) if df is None else float(special.stdtrit(df, q))


def critical_values(level: float, df: ArrayLike) -> FloatArray:
    """Two-sided critical values of Student's t, one per entry of ``df`` (vectorised).

    Parameters
    ----------
    level : float
        Confidence level in (0, 1).
    df : array_like
        Degrees of freedom, one per row.

    Returns
    -------
    numpy.ndarray
        The ``(1 + level) / 2`` quantiles; each equals ``critical_value(level, df[i])``.

    Examples
    --------
    >>> critical_values(0.95, [4, 10]).round(6).tolist()
    [2.776445, 2.228139]
    """
    dfs = np.asarray(df, dtype=np.float64)
    return np.asarray(special.stdtrit(dfs, 0.5 + level / 2.0), dtype=np.float64)


def upper_quantile(tail: ArrayLike, df: ArrayLike | None = None) -> FloatArray:
    """The statistic whose upper-tail probability is ``tail``: z, or t with ``df`` (vectorised).

    The inverse of a one-sided p-value, computed as ``-ndtri(tail)`` (or ``-stdtrit``),
    which keeps full precision for tiny tails.

    Parameters
    ----------
    tail : array_like
        Upper-tail probabilities (a two-sided p-value halved).
    df : array_like or None, default None
        Degrees of freedom of the t distribution; None for the standard normal.

    Returns
    -------
    numpy.ndarray
        The statistics, elementwise.

    Examples
    --------
    >>> upper_quantile([0.025]).round(6).tolist(), upper_quantile([0.025], [4]).round(6).tolist()
    ([1.959964], [2.776445])
    """
    q = np.asarray(tail, dtype=np.float64)
    if df is None:
        return np.asarray(-special.ndtri(q), dtype=np.float64)
    return np.asarray(-special.stdtrit(np.asarray(df, dtype=np.float64), q), dtype=np.float64)


def two_sided_p(statistic: float, df: float | None = None) -> float:
    """Two-sided p-value of a z (``df=None``) or t statistic.

    Computed from the lower tail at ``-|statistic|``, which keeps full relative
    precision for tiny p-values.

    Parameters
    ----------
    statistic : float
        The z or t statistic.
    df : float or None, default None
        Degrees of freedom of the t distribution; None for the standard normal.

    Returns
    -------
    float
        ``2 * P(T <= -|statistic|)``; NaN when the statistic is NaN.

    Examples
    --------
    >>> round(two_sided_p(1.959963984540054), 6)
    0.05
    """
    a = -abs(statistic)
    return float(2.0 * (special.ndtr(a) if df is None else special.stdtr(df, a)))


def chi2_sf(statistic: float, df: float) -> float:
    """Upper-tail p-value of a chi-squared statistic (Q tests).

    Parameters
    ----------
    statistic : float
        The statistic, for example Cochran's Q.
    df : float
        Degrees of freedom.

    Returns
    -------
    float
        ``P(X >= statistic)`` for X chi-squared with ``df`` degrees of freedom
        (scipy's ``chdtrc``: NaN for ``df = 0`` and ``statistic = 0``, as with k = 1).

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 6)
    0.05
    """
    return float(special.chdtrc(df, statistic))


#: Up to this many degrees of freedom, :func:`chi2_sf_rows` sums the closed form of the
#: chi-squared upper tail for an integer df instead of calling ``chdtrc`` per element.
_CHI2_CLOSED_FORM_DF = 64


def chi2_sf_rows(statistic: FloatArray, df: int) -> FloatArray:
    """Upper-tail p-values of many chi-squared statistics with one integer df.

    The same numbers as :func:`chi2_sf` (to a few units of rounding), several times
    faster on long arrays: for an integer ``df`` up to 64 the upper tail is a finite
    sum of positive terms (Abramowitz & Stegun 26.4.4-26.4.5, no cancellation),
    elsewhere scipy's ``chdtrc``.

    Parameters
    ----------
    statistic : ndarray
        Statistics (>= 0, or NaN).
    df : int
        Degrees of freedom (>= 1).

    Returns
    -------
    ndarray
        ``P(X >= statistic)`` for X chi-squared with ``df`` degrees of freedom.

    References
    ----------
    .. [1] Abramowitz M, Stegun IA (1964). Handbook of Mathematical Functions,
       26.4.4 and 26.4.5. National Bureau of Standards.

    Examples
    --------
    >>> x = np.array([0.5, 3.841458820694124, 40.0])
    >>> np.allclose(chi2_sf_rows(x, 1), special.chdtrc(1, x), rtol=1e-13)
    True
    """
    x = np.asarray(statistic, dtype=np.float64)
    if not 1 <= df <= _CHI2_CLOSED_FORM_DF or x.size == 0:
        return np.asarray(special.chdtrc(df, x), dtype=np.float64)
    y = 0.5 * x
    near = y <= 600.0  # beyond, e^-y y^j underflows term by term: chdtrc for those
    every = bool(near.all())  # (NaN is not near): no masking passes
    yn = y if every else np.where(near, y, 0.0)
    e = np.exp(-yn)
    if df % 2 == 0:  # e^-y sum_{j < df/2} y^j / j!
        term = e.copy()
        total = e.copy()
        for j in range(1, df // 2):
            term *= yn / j
            total += term
    else:  # erfc(sqrt y) + e^-y sum_{j=1}^{(df-1)/2} y^(j-1/2) / Gamma(j+1/2)
        root = np.sqrt(yn)
        total = special.erfc(root)
        if df > 1:
            term = e * root * (2.0 / np.sqrt(np.pi))
            total += term
            for j in range(2, (df + 1) // 2):
                term *= yn / (j - 0.5)
                total += term
    if every:
        return np.asarray(total, dtype=np.float64)
    out = np.where(near, total, np.nan)
    far = ~near & ~np.isnan(x)
    if far.any():
        out[far] = special.chdtrc(df, x[far])
    return np.asarray(np.where(np.isnan(x), np.nan, out), dtype=np.float64)
