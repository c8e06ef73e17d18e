"""Heterogeneity: Cochran's Q, I², H² and their Q-profile confidence intervals.

Conventions follow metafor (``rma.uni`` and ``confint.rma.uni``): I² is in
percent; for random-effects models I² and H² are computed from τ² and the
"typical" within-study variance; the interval for τ² is the Q-profile interval
of Viechtbauer (2007), and those of I² and H² are its transforms.

This module holds the numbers only. Tables and plain-language prose about
them (:func:`~msc_meta.heterogeneity_display.heterogeneity_table`,
:func:`~msc_meta.heterogeneity_display.describe_heterogeneity`) live in
:mod:`msc_meta.heterogeneity_display`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from ._errors import ConvergenceWarning
from ._inference import chi2_sf
from .tau2 import Tau2Control, solve_q_equation, trace_p, wls_residuals, working_units

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class QTest:
    """Cochran's Q test of homogeneity.

    Attributes
    ----------
    q : float
        The statistic (>= 0).
    df : int
        Its degrees of freedom, k - p.
    pvalue : float
        Its upper-tail p-value from :math:`\\chi^2_{df}`.
    """

    q: float
    df: int
    pvalue: float


def cochran_q(y: FloatArray, v: FloatArray, X: FloatArray | None = None) -> QTest:
    """Cochran's Q with inverse-variance weights, its df and p-value.

    Parameters
    ----------
    y : ndarray
        Effects.
    v : ndarray
        Sampling variances (> 0).
    X : ndarray, optional
        Design matrix; ``None`` for the intercept-only model.

    Returns
    -------
    QTest
        Q, its degrees of freedom and p-value.

    Notes
    -----
    :math:`Q = \\sum_i w_i (y_i - \\hat\\theta_{FE})^2`, :math:`w_i = 1/v_i`,
    compared with :math:`\\chi^2_{k-p}` (Cochran 1954, Biometrics 10:101-129).
    metafor's ``QE`` and ``QEp``. With k = p, Q = 0 and p = 1.
    """
    k = int(y.shape[0])
    p = 1 if X is None else int(X.shape[1])
    if k <= p:
        return QTest(0.0, 0, 1.0)
    w = 1.0 / v
    r = wls_residuals(y, w, X)
    q = max(0.0, float(w @ (r * r)))
    return QTest(q, k - p, chi2_sf(q, k - p))


def typical_variance(v: FloatArray, X: FloatArray | None = None) -> float:
    """The "typical" within-study variance :math:`(k-p)/\\operatorname{tr}(P)`.

    Parameters
    ----------
    v : ndarray
        Sampling variances (> 0).
    X : ndarray, optional
        Design matrix; ``None`` for the intercept-only model.

    Returns
    -------
    float
        :math:`\\tilde v`, with P at the weights :math:`1/v_i`.

    Notes
    -----
    Higgins & Thompson (2002), Stat Med 21:1539-1558, eq. 9; metafor's ``vt``
    with ``i2def = "1"``.
    """
    k = int(v.shape[0])
    p = 1 if X is None else int(X.shape[1])
    return (k - p) / trace_p(1.0 / v, X)


def i2_from_tau2(tau2: float, vt: float) -> float:
    """I² (percent) from τ² and the typical within-study variance: 100 τ²/(vt + τ²).

    Parameters
    ----------
    tau2 : float
        Between-study variance (>= 0).
    vt : float
        Typical within-study variance (:func:`typical_variance`).

    Returns
    -------
    float
        I² in percent.
    """
    return 100.0 * tau2 / (vt + tau2)


def h2_from_tau2(tau2: float, vt: float) -> float:
    """H² from τ² and the typical within-study variance: τ²/vt + 1.

    Parameters
    ----------
    tau2 : float
        Between-study variance (>= 0).
    vt : float
        Typical within-study variance (:func:`typical_variance`).

    Returns
    -------
    float
        H² (>= 1).
    """
    return tau2 / vt + 1.0


def i2_from_q(q: float, df: int) -> float:
    """I² (percent) from Q: max(0, 100 (Q - df)/Q); 0 when Q = 0 (Higgins & Thompson 2002).

    Parameters
    ----------
    q : float
        Cochran's Q.
    df : int
        Its degrees of freedom.

    Returns
    -------
    float
        I² in percent, in [0, 100].
    """
    if q <= 0.0:
        return 0.0
    return max(0.0, 100.0 * (q - df) / q)


def h2_from_q(q: float, df: int) -> float:
    """H² from Q: Q/df (Higgins & Thompson 2002).

    Parameters
    ----------
    q : float
        Cochran's Q.
    df : int
        Its degrees of freedom (> 0).

    Returns
    -------
    float
        H².
    """
    return q / df


def q_profile_working(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None,
    level: float,
    control: Tau2Control,
) -> tuple[float, float, bool]:
    """Q-profile bounds for τ² in working units (:func:`~msc_meta.tau2.working_units`).

    Parameters
    ----------
    y : ndarray
        Effects in working units.
    v : ndarray
        Sampling variances in working units.
    X : ndarray or None
        Design matrix; ``None`` for the intercept-only model.
    level : float
        Confidence level in (0, 1).
    control : Tau2Control
        Convergence options of the root finder.

    Returns
    -------
    low : float
        Lower bound (working units).
    high : float
        Upper bound (working units).
    converged : bool
        Whether both root searches converged.

    See Also
    --------
    q_profile_ci : The same bounds in the data's units.
    """
    df = y.shape[0] - (1 if X is None else int(X.shape[1]))
    alpha = 1.0 - level
    crit_for_lower = float(special.chdtri(df, alpha / 2))  # upper alpha/2 quantile
    crit_for_upper = float(special.chdtri(df, 1 - alpha / 2))  # lower alpha/2 quantile
    lo, _, ok_lo = solve_q_equation(y, v, X, crit_for_lower, control)
    hi, _, ok_hi = solve_q_equation(y, v, X, crit_for_upper, control)
    return lo, hi, ok_lo and ok_hi


#: Text of the warning when a Q-profile bound did not converge.
Q_PROFILE_NOT_CONVERGED = "Q-profile bound for tau^2 did not converge in {} iterations"


def q_profile_ci(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None = None,
    *,
    level: float = 0.95,
    control: Tau2Control | None = None,
) -> tuple[float, float]:
    """Q-profile confidence interval for τ² (Viechtbauer 2007).

    Parameters
    ----------
    y : ndarray
        Effects (k >= p + 1).
    v : ndarray
        Their sampling variances (> 0).
    X : ndarray, optional
        Design matrix; ``None`` for the intercept-only model.
    level : float, default 0.95
        Confidence level in (0, 1).
    control : Tau2Control, optional
        Convergence options of the root finder (relative tolerance).

    Returns
    -------
    low : float
        Lower bound, truncated at 0 as in metafor's ``confint``.
    high : float
        Upper bound, truncated at 0.

    Warns
    -----
    ConvergenceWarning
        A bound did not converge in ``control.max_iter`` iterations.

    Notes
    -----
    The bounds solve :math:`Q(\\tau^2) = \\chi^2_{k-p;\\,1-\\alpha/2}` (lower)
    and :math:`Q(\\tau^2) = \\chi^2_{k-p;\\,\\alpha/2}` (upper), where
    :math:`Q(\\tau^2)` is the generalised Q statistic, decreasing in τ². A bound
    whose equation has no positive root is 0. The equations are solved in
    centred, rescaled working units (:func:`~msc_meta.tau2.working_units`),
    so the bounds do not depend on the units or the location of the effects.
    Unlike metafor, the search has no upper limit (metafor stops at
    ``tau2.max``, 100 by default) and works on centred effects (metafor's
    search on uncentred effects loses digits when they share a large offset).

    References
    ----------
    .. [1] Viechtbauer W (2007). Confidence intervals for the amount of
       heterogeneity in meta-analysis. Stat Med 26(1):37-52.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([-0.89, -1.59, -1.35, -1.44, -0.22, -0.79])
    >>> v = np.array([0.33, 0.19, 0.42, 0.02, 0.05, 0.01])
    >>> lo, hi = q_profile_ci(y, v)
    >>> lo < hi
    True
    """
    control = control or Tau2Control()
    y_w, v_w, units = working_units(y, v, X)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        lo, hi, ok = q_profile_working(y_w, v_w, X, level, control)
    if not ok:
        warnings.warn(
            Q_PROFILE_NOT_CONVERGED.format(control.max_iter), ConvergenceWarning, stacklevel=2
        )
    return units.variance(lo), units.variance(hi)
