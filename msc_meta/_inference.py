"""Critical values and two-sided p-values of the normal, t and chi-squared distributions.

The one place the library turns a confidence level into a critical value and a
statistic into a p-value, so that every interval and test uses the same
(accurate, scipy.special) functions.
"""

from __future__ import annotations

from scipy import special


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
