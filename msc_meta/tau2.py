"""Between-study variance (τ²) estimators, one registry keyed by metafor's codes.

Every estimator is a small function ``(y, v, X, control) -> Tau2Fit`` behind
:data:`TAU2_METHODS`; :func:`estimate_tau2` looks the code up and runs it. The
design matrix ``X`` is ``None`` for the intercept-only model (formulas in O(k)
time and memory) or a ``k x p`` array for meta-regression.

Estimators work in *working units* (:func:`working_units`): effects centred
at their median and divided by a power of two ``s``, variances divided by
``s²``. A change of units of the data (``y -> c y``, ``v -> c² v``) then
changes only ``s``, so every result is equivariant and every convergence
criterion is relative; and any finite input whose answer can be represented
in double precision is computed without overflow or underflow.

The formulas, and the standard errors reported with them, are those of
metafor's ``rma.uni`` (Viechtbauer 2010); each function names its source.

References
----------
.. [1] Viechtbauer W (2005). Bias and efficiency of meta-analytic variance
   estimators in the random-effects model. J Educ Behav Stat 30(3):261-293.
.. [2] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
   package. J Stat Softw 36(3):1-48.
.. [3] Veroniki AA, Jackson D, Viechtbauer W, et al. (2016). Methods to
   estimate the between-study variance and its uncertainty in meta-analysis.
   Res Synth Methods 7(1):55-79.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._errors import ConvergenceWarning, MetaAnalysisError, MultimodalLikelihoodWarning
from ._validation import resolve_code

FloatArray = NDArray[np.float64]

# np.add.reduce skips the Python-level wrapper of ndarray.sum (matters for small k)
_sum = np.add.reduce

Tau2Method = Literal["EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM"]

#: Default relative convergence threshold of the iterative estimators (see :class:`Tau2Control`).
DEFAULT_TOL = 1e-10
#: Default maximum number of iterations for the iterative estimators.
DEFAULT_MAX_ITER = 1000

#: Grid points per decade of τ² when the (restricted) likelihood is scanned for local maxima.
_SCAN_PER_DECADE = 10
#: Most grid points of one scan (the density per decade drops beyond this).
_SCAN_MAX_POINTS = 400
#: The smallest normal double: working-unit variances below it have lost digits.
_TINY = float(np.finfo(np.float64).tiny)
#: Largest number of array elements one vectorised scan step allocates (keeps memory O(k)).
_SCAN_BLOCK = 1 << 19


@dataclass(frozen=True)
class Tau2Control:
    """Options of the iterative estimators.

    Attributes
    ----------
    tol : float
        Relative convergence threshold: an iteration stops when the last
        change in τ² is at most ``tol`` times the larger of τ² and the working
        unit of variance (between the median sampling variance and the spread
        of the effects, see :func:`working_units`). metafor's ``threshold``
        is absolute, with default 1e-5.
    max_iter : int
        Iterations before giving up with a :class:`ConvergenceWarning`.
    """

    tol: float = DEFAULT_TOL
    max_iter: int = DEFAULT_MAX_ITER


@dataclass(frozen=True)
class Tau2Fit:
    """An estimate of τ² with its standard error and convergence information.

    Attributes
    ----------
    tau2 : float
        The estimate (>= 0).
    se : float or None
        Its standard error as metafor reports it (``None`` for ``EE``).
    iterations : int
        Iterations of the iterative estimators (0 for closed forms).
    converged : bool
        False when an iterative estimator stopped at ``max_iter``.
    maxima : tuple of (float, float)
        ML and REML: every local maximum of the (restricted) likelihood on
        [0, ∞) that was found, as (τ², log-likelihood); ``tau2`` is the
        global one. Empty for the other estimators.
    """

    tau2: float
    se: float | None
    iterations: int = 0
    converged: bool = True
    maxima: tuple[tuple[float, float], ...] = ()


# --------------------------------------------------------------------------- working units


@dataclass(frozen=True)
class WorkingUnits:
    """Centre and power-of-two scale of the working units of a fit.

    ``y_work = (y - center) / 2**exponent`` and ``v_work = v / 4**exponent``.

    Attributes
    ----------
    center : float
        Subtracted from the effects (their median, the upper one for even k; 0
        with moderators).
    exponent : int
        The effects are divided by ``2**exponent``, the variances by
        ``4**exponent``.
    """

    center: float
    exponent: int

    def effect(self, x: float) -> float:
        """An effect (location) from working units back to the data's units.

        Parameters
        ----------
        x : float
            A location in working units.

        Returns
        -------
        float
            ``center + x * 2**exponent``.

        Raises
        ------
        OverflowError
            The result is too large for double precision.
        """
        return self.center + math.ldexp(x, self.exponent)

    def spread(self, x: float) -> float:
        """A standard error or half-width from working units back to the data's units.

        Parameters
        ----------
        x : float
            A spread in working units.

        Returns
        -------
        float
            ``x * 2**exponent``.

        Raises
        ------
        OverflowError
            The result is too large for double precision.
        """
        return math.ldexp(x, self.exponent)

    def variance(self, x: float) -> float:
        """A variance (τ², its SE, a typical variance) back to the data's units.

        Parameters
        ----------
        x : float
            A variance in working units.

        Returns
        -------
        float
            ``x * 4**exponent``.

        Raises
        ------
        OverflowError
            The result is too large for double precision.
        """
        return math.ldexp(x, 2 * self.exponent)


def _exponent(x: float) -> int:
    """The binary exponent e with 2**(e-1) <= x < 2**e, for x > 0."""
    return math.frexp(x)[1]


def working_units(
    y: FloatArray, v: FloatArray, X: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, WorkingUnits]:
    """Centre and rescale effects and variances for fitting.

    Parameters
    ----------
    y : ndarray
        Effects (finite).
    v : ndarray
        Sampling variances (finite, > 0).
    X : ndarray, optional
        Design matrix. Effects are centred only for the intercept-only model
        (``X`` is ``None``); with moderators they are only rescaled.

    Returns
    -------
    y_work : ndarray
        ``(y - center) / s``.
    v_work : ndarray
        ``v / s²``.
    units : WorkingUnits
        ``center`` (the median effect, or 0) and the exponent of ``s = 2**e``.

    Raises
    ------
    MetaAnalysisError
        The variances span a range that double precision cannot hold on one
        scale (a ratio of about 2**1000 or more).

    Notes
    -----
    ``s²`` is the power of two nearest the geometric mean of the median
    variance and the larger of the median variance and the squared largest
    deviation from the centre. Variances are then of order one or smaller
    and squared deviations of order one or larger, which keeps the weights,
    their squares and cubes, τ² and the Q statistics representable over a
    range of about 10^±150 around each other. Powers of two rescale exactly,
    so a fit in working units is the fit of the data, only with the
    roundings of a different scale.
    """
    mid = int(y.shape[0]) // 2
    center = float(np.partition(y, mid)[mid]) if X is None else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        d = y - center
        dmax = float(np.max(np.abs(d)))
    halve = 0
    if not math.isfinite(dmax):  # |y| near the largest double: halve before subtracting
        d = y * 0.5 - center * 0.5
        dmax = float(np.max(np.abs(d)))
        halve = 1
    vmed = float(np.partition(v, mid)[mid])
    half_v = 0.5 * _exponent(vmed)
    e_d = _exponent(dmax) + halve if dmax > 0.0 else -1075
    exponent = round(0.5 * (half_v + max(half_v, float(e_d))))
    y_w = np.ldexp(d, halve - exponent)
    v_w = np.ldexp(v, -2 * exponent)
    if not (float(np.min(v_w)) >= _TINY and float(np.max(v_w)) < math.inf):
        i = int(np.flatnonzero((v_w < _TINY) | ~np.isfinite(v_w))[0])
        raise MetaAnalysisError(
            f"variance[{i}] = {v[i]:.6g} cannot be used with the other variances "
            f"(median about {vmed:.6g}) and effects: they span more orders of magnitude than double "
            "precision can hold on one scale"
        )
    return y_w, v_w, WorkingUnits(center, exponent)


# --------------------------------------------------------------------------- algebra
# P = W - W X (X'WX)^-1 X'W is the residual-maker of weighted least squares.
# With X = None (intercept only) P = W - w w'/S and every trace below has an O(k)
# form; sums of "all the other weights" are formed without cancellation.


def _others(a: FloatArray) -> FloatArray:
    """``sum(a) - a[i]`` for every i along the last axis, for ``a >= 0``, without cancellation.

    ``total - a[i]`` is accurate to about k ulp except at the largest
    element, whose complement is summed directly. A 2-D ``a`` is one row per
    τ² of a likelihood scan.
    """
    if a.ndim == 1:
        out = float(_sum(a)) - a
        m = int(np.argmax(a))
        out[m] = float(_sum(a[:m])) + float(_sum(a[m + 1 :]))
        return out
    rows_out: FloatArray = a.sum(axis=1, keepdims=True) - a
    rows = np.arange(a.shape[0])
    m = np.argmax(a, axis=1)
    rest = a.copy()
    rest[rows, m] = 0.0
    rows_out[rows, m] = rest.sum(axis=1)
    return rows_out


def wls_residuals(y: FloatArray, w: FloatArray, X: FloatArray | None = None) -> FloatArray:
    """Residuals of the weighted least-squares fit of ``y`` on ``X``.

    Parameters
    ----------
    y : ndarray
        Effects.
    w : ndarray
        Weights (> 0), e.g. ``1 / v`` or ``1 / (v + τ²)``.
    X : ndarray, optional
        ``k x p`` design matrix; ``None`` for the intercept-only model.

    Returns
    -------
    ndarray
        The residuals ``r``; ``w @ r**2`` is the (generalised) Q statistic at
        these weights.

    Notes
    -----
    :math:`r = y - X\\hat\\beta_w` with the weighted least-squares
    :math:`\\hat\\beta_w`, so that :math:`\\sum_i w_i r_i^2 = Y'PY`.
    """
    if X is None:
        return y - float(w @ y) / float(_sum(w))
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ y)
    return y - X @ beta


def _p_matrix(w: FloatArray, X: FloatArray) -> FloatArray:
    """The k x k matrix P for weights ``w`` (meta-regression only)."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def _p_diag(w: FloatArray) -> FloatArray:
    """Diagonal of P for the intercept-only model: ``w_i (S - w_i) / S``."""
    return w * _others(w) / float(_sum(w))


def _p2_sum(w: FloatArray, X: FloatArray | None, d1: FloatArray, d2: FloatArray) -> float:
    """:math:`\\sum_{ij} P_{ij}^2 d_{1i} d_{2j}`: tr(PP), tr(PVP) and tr(PVPV) for d = 1 or v.

    For the intercept-only model :math:`P_{ii} = w_i S_{-i}/S` and
    :math:`P_{ij} = -w_i w_j / S`, so the sum is
    :math:`\\sum_i P_{ii}^2 d_{1i} d_{2i} + \\sum_i \\alpha_i (B - \\beta_i)` with
    :math:`\\alpha = w^2 d_1 / S`, :math:`\\beta = w^2 d_2 / S`, computed in O(k)
    with every term non-negative (the textbook form
    :math:`\\sum w^2 - 2\\sum w^3/S + (\\sum w^2/S)^2` cancels catastrophically
    when one weight dominates).
    """
    if X is not None:
        P = _p_matrix(w, X)
        return float(d1 @ (P * P) @ d2)
    s = float(_sum(w))
    pd = _p_diag(w)
    a = w * w / s
    return float(_sum(pd * pd * d1 * d2)) + float((a * d1) @ _others(a * d2))


def trace_p(w: FloatArray, X: FloatArray | None = None) -> float:
    """tr(P), the trace of the residual-maker of weighted least squares.

    Parameters
    ----------
    w : ndarray
        Weights (> 0).
    X : ndarray, optional
        ``k x p`` design matrix; ``None`` for the intercept-only model.

    Returns
    -------
    float
        The trace of P at the weights ``w``.

    Notes
    -----
    :math:`P = W - WX(X'WX)^{-1}X'W`. For the intercept-only model
    :math:`\\operatorname{tr}(P) = \\sum_i w_i S_{-i} / S` with
    :math:`S = \\sum w`, computed without cancellation.
    """
    if X is None:
        return float(_sum(_p_diag(w)))
    return float(np.trace(_p_matrix(w, X)))


def _trace_pp(w: FloatArray, X: FloatArray | None) -> float:
    """tr(PP) (the REML information), in a form without cancellation."""
    ones = np.ones_like(w)
    return _p2_sum(w, X, ones, ones)


def _ncol(X: FloatArray | None) -> int:
    return 1 if X is None else int(X.shape[1])


def q_at_target(q: ArrayLike, target: ArrayLike, k: ArrayLike) -> NDArray[np.bool_]:
    """Whether Q equals its target to the rounding of a sum of k terms: a root of the Q equation.

    ``16 (k + 8)`` units of roundoff of the target, k counted up to 1,000 (at most 2.3e-13
    of the target, so the band never stops the iteration far from the root, whatever k).
    Exact equality would depend on the order in which Q's terms are added; with this band,
    the one-row and the batch solvers (which add them in different orders) stop at the
    same step on all but rare rows.

    Parameters
    ----------
    q : array_like
        Generalised Q at the current τ² (one value or one per row).
    target : array_like
        The value Q is solved for (k - p, or the Q-profile's quantiles).
    k : array_like
        Studies in each fit (the number of Q's terms).

    Returns
    -------
    ndarray of bool
        Whether ``|q - target|`` is at most the band.

    Examples
    --------
    >>> bool(q_at_target(5.0 + 1e-14, 5.0, 6)), bool(q_at_target(5.0 + 1e-9, 5.0, 6))
    (True, False)
    """
    band = _q_band(k) * np.asarray(target, dtype=np.float64)
    return np.asarray(np.abs(np.subtract(q, target)) <= band, dtype=np.bool_)


def _q_band(k: ArrayLike) -> FloatArray:
    """The band of :func:`q_at_target` relative to the target: ``16 (min(k, 1000) + 8)`` ε."""
    terms = np.minimum(np.asarray(k, dtype=np.float64), 1000.0)
    return np.asarray(16.0 * (terms + 8.0) * np.finfo(np.float64).eps, dtype=np.float64)


def solve_q_equation(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None,
    target: float,
    control: Tau2Control,
) -> tuple[float, int, bool]:
    """Solve ``Q(τ²) = target`` for τ² >= 0 (0 when ``Q(0) <= target``).

    Parameters
    ----------
    y : ndarray
        Effects, best in working units (:func:`working_units`).
    v : ndarray
        Sampling variances in the same units.
    X : ndarray or None
        Design matrix; ``None`` for the intercept-only model.
    target : float
        The value of Q to reach (> 0).
    control : Tau2Control
        Convergence options.

    Returns
    -------
    tau2 : float
        The root, or 0 when ``Q(0) <= target``.
    iterations : int
        Newton or bisection steps taken.
    converged : bool
        False when the iteration stopped before reaching ``control.tol`` (after
        ``control.max_iter`` steps, or at a slope that is not positive).

    Notes
    -----
    ``Q(τ²)`` decreases in τ² (``dQ/dτ² = -Y'PPY``). Newton steps are taken on
    ``1/Q(τ²)``, which is close to linear in τ² (exactly so for equal
    variances), inside a bracket ``[lo, hi]`` that always holds the root; a
    step leaving the bracket is replaced by the Newton step on ``Q`` itself
    or by bisection. No upper bound on τ² is needed. The iteration stops when
    a step is at most ``tol * max(1, τ²)``: relative, in working units; or when
    Q equals the target to rounding (:func:`q_at_target`). Used by
    the Paule-Mandel and empirical Bayes estimators and by the Q-profile
    confidence interval.
    """
    t = 0.0
    w = 1.0 / v
    r = wls_residuals(y, w, X)
    py = w * r
    q = float(py @ r)
    if q <= target:
        return 0.0, 0, True
    lo, hi = 0.0, math.inf
    at_target = float(_q_band(y.shape[0])) * target  # q_at_target's band, once per solve
    for it in range(1, control.max_iter + 1):
        slope = float(py @ py)  # -dQ/dtau2 = Y'PPY
        if slope <= 0.0 or not math.isfinite(slope):
            return t, it, False
        cand = t + q * (q - target) / (target * slope)  # Newton on 1/Q
        if not lo < cand < hi:
            cand = t + (q - target) / slope  # Newton on Q
            if not lo < cand < hi:
                cand = 0.5 * (lo + hi)
        w = 1.0 / (v + cand)
        r = wls_residuals(y, w, X)
        py = w * r
        q = float(py @ r)
        if q > target:
            lo = cand
        else:
            hi = cand
        step = cand - t
        t = cand
        if abs(step) <= control.tol * max(1.0, t) or abs(q - target) <= at_target:
            return t, it, True
    return t, control.max_iter, False


# --------------------------------------------------------------------------- moment estimators


def _ee(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Common (equal) effect: τ² = 0 by assumption."""
    return Tau2Fit(0.0, None)


def _moment_se(t: float, k: int, p: int, w: FloatArray, X: FloatArray | None, trP: float) -> float:
    """Standard error shared by the DL, HS and HSk estimators, divided by their scale.

    metafor (``rma.uni``): :math:`\\sqrt{2(k-p) + 4\\tau^2 \\operatorname{tr}P +
    2\\tau^4 \\operatorname{tr}(PP)}` over ``tr P``, written here with every term
    divided by :math:`(\\operatorname{tr} P)^2` first, so that none overflows.
    """
    return math.sqrt(
        2.0 * (k - p) / trP / trP + 4.0 * t / trP + 2.0 * (t / trP) * t * (_trace_pp(w, X) / trP)
    )


def _dl(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """DerSimonian-Laird method-of-moments estimator.

    :math:`\\hat\\tau^2 = \\max\\{0, (Q - (k-p)) / \\operatorname{tr}(P)\\}`
    (DerSimonian & Laird 1986, Control Clin Trials 7:177-188).
    """
    k, p = int(y.shape[0]), _ncol(X)
    w = 1.0 / v
    r = wls_residuals(y, w, X)
    q = float(w @ (r * r))
    trP = trace_p(w, X)
    t = max(0.0, (q - (k - p)) / trP)
    return Tau2Fit(t, _moment_se(t, k, p, w, X, trP))


def _hunter_schmidt(
    y: FloatArray, v: FloatArray, X: FloatArray | None, small_sample: bool
) -> Tau2Fit:
    """Hunter-Schmidt estimator, optionally with the factor k/(k-p) on Q."""
    k, p = int(y.shape[0]), _ncol(X)
    factor = k / (k - p) if small_sample else 1.0
    w = 1.0 / v
    r = wls_residuals(y, w, X)
    q = float(w @ (r * r))
    sw = float(_sum(w))
    t = max(0.0, (factor * q - k) / sw)
    # metafor: the DL standard error formula with tr(P) as the trace but sum(w) as the scale
    trP = trace_p(w, X)
    se = factor * (trP / sw) * _moment_se(t, k, p, w, X, trP)
    return Tau2Fit(t, se)


def _hs(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hunter-Schmidt estimator: :math:`(Q - k)/\\sum w_i` (Hunter & Schmidt 2004)."""
    return _hunter_schmidt(y, v, X, small_sample=False)


def _hsk(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hunter-Schmidt estimator with the small-sample factor k/(k-p) on Q (Brannick et al. 2019)."""
    return _hunter_schmidt(y, v, X, small_sample=True)


def _he(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hedges (Cochran ANOVA) unweighted method-of-moments estimator (Hedges 1983).

    :math:`\\hat\\tau^2 = \\max\\{0, (\\text{RSS} - \\operatorname{tr}(PV))/(k-p)\\}`
    with the unweighted P; its SE is metafor's.
    """
    k, p = int(y.shape[0]), _ncol(X)
    ones = np.ones(k)
    r = wls_residuals(y, ones, X)
    rss = float(r @ r)
    trpv = float(_p_diag(ones) @ v) if X is None else float(np.diag(_p_matrix(ones, X)) @ v)
    t = max(0.0, (rss - trpv) / (k - p))
    trpvpv = _p2_sum(ones, X, v, v)
    se = math.sqrt(2.0 * trpvpv + 4.0 * t * trpv + 2.0 * t * t * (k - p)) / (k - p)
    return Tau2Fit(t, se)


def _sj(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Sidik-Jonkman estimator with metafor's starting value var(y)(k-1)/k (Sidik & Jonkman 2005).

    :math:`\\hat\\tau^2 = \\tau_0^2 Q(\\tau_0^2)/(k-p)` with
    :math:`\\tau_0^2 = \\sum (y_i - \\bar y)^2 / k`; its SE is metafor's.
    """
    k, p = int(y.shape[0]), _ncol(X)
    t0 = float(np.var(y))
    w = 1.0 / (v + t0)
    r = wls_residuals(y, w, X)
    q = float(w @ (r * r))
    t = max(0.0, t0 * q / (k - p))
    ones = np.ones(k)
    inner = (
        2.0 * _p2_sum(w, X, v, v)
        + 4.0 * t * _p2_sum(w, X, ones, v)
        + 2.0 * t * t * _p2_sum(w, X, ones, ones)
    )
    se = t0 / (k - p) * math.sqrt(inner)
    return Tau2Fit(t, se)


# --------------------------------------------------------------------------- likelihood


def loglik(
    tau2: float, y: FloatArray, v: FloatArray, X: FloatArray | None = None, *, reml: bool = True
) -> float:
    """(Restricted) log-likelihood of the random-effects model at ``tau2``, as metafor's ``logLik``.

    Parameters
    ----------
    tau2 : float
        The value of τ² (>= 0).
    y : ndarray
        Effects.
    v : ndarray
        Sampling variances (> 0).
    X : ndarray, optional
        Design matrix; ``None`` for the intercept-only model.
    reml : bool, default True
        Restricted (REML) or full (ML) log-likelihood.

    Returns
    -------
    float
        The log-likelihood, with metafor's constants: ML
        :math:`-\\tfrac12[k\\log 2\\pi + \\sum\\log(v_i+\\tau^2) + Q(\\tau^2)]`; REML
        :math:`-\\tfrac12[(k-p)\\log 2\\pi - \\log|X'X| + \\sum\\log(v_i+\\tau^2)
        + \\log|X'WX| + Q(\\tau^2)]` (Viechtbauer 2005, eqs. 4 and 6).
    """
    k, p = int(y.shape[0]), _ncol(X)
    vt = v + tau2
    w = 1.0 / vt
    r = wls_residuals(y, w, X)
    ll = -0.5 * float(_sum(np.log(vt))) - 0.5 * float(w @ (r * r))
    if not reml:
        return ll - 0.5 * k * math.log(2 * math.pi)
    if X is None:
        logdet_w, logdet_x = math.log(float(_sum(w))), math.log(k)
    else:
        logdet_w = float(np.linalg.slogdet(X.T @ (X * w[:, None]))[1])
        logdet_x = float(np.linalg.slogdet(X.T @ X)[1])
    return ll - 0.5 * (k - p) * math.log(2 * math.pi) + 0.5 * logdet_x - 0.5 * logdet_w


def _score_slope(
    t: float, y: FloatArray, v: FloatArray, X: FloatArray | None, reml: bool
) -> tuple[float, float]:
    """Twice the score of the (restricted) log-likelihood in τ², and its derivative.

    Score: :math:`Y'PPY - \\operatorname{tr}P` (REML) or
    :math:`Y'PPY - \\sum w_i` (ML); its derivative
    :math:`-2Y'PPPY + \\operatorname{tr}(PP)` or :math:`-2Y'PPPY + \\sum w_i^2`
    (Viechtbauer 2005, eqs. 7-10). The derivative only steers Newton steps
    inside a bracket, so tr(PP) takes its short form there.
    """
    w = 1.0 / (v + t)
    if X is not None:
        py = w * wls_residuals(y, w, X)
        ypppy = float(py @ (w * wls_residuals(py, w, X)))
        info = _trace_pp(w, X) if reml else float(w @ w)
        score = float(py @ py) - (trace_p(w, X) if reml else float(_sum(w)))
        return score, -2.0 * ypppy + info
    s = float(_sum(w))
    py = w * (y - float(w @ y) / s)
    wpy = w * py
    ypppy = float(wpy @ py) - float(_sum(wpy)) ** 2 / s
    w2 = w * w
    s2 = float(_sum(w2))
    if reml:
        info = s2 - 2.0 * float(w2 @ w) / s + (s2 / s) ** 2
        return float(py @ py) - trace_p(w, None), -2.0 * ypppy + info
    return float(py @ py) - s, -2.0 * ypppy + s2


def _score_grid(
    ts: FloatArray, y: FloatArray, v: FloatArray, X: FloatArray | None, reml: bool
) -> FloatArray:
    """The score at every τ² of ``ts`` (vectorised over ``ts``, in blocks)."""
    if X is not None:
        return _score_grid_mods(ts, y, v, X, reml)
    k = int(y.shape[0])
    block = max(1, _SCAN_BLOCK // k)
    out = np.empty(ts.shape[0])
    for start in range(0, ts.shape[0], block):
        tb = ts[start : start + block, None]
        W = 1.0 / (v[None, :] + tb)
        S = W.sum(axis=1)
        mu = (W @ y) / S
        PY = W * (y[None, :] - mu[:, None])
        yppy = (PY * PY).sum(axis=1)
        # tr P = sum_i w_i S_(-i) / S (REML) or sum_i w_i (ML)
        info = (W * _others(W)).sum(axis=1) / S if reml else S
        out[start : start + block] = yppy - info
    return out


def _score_slope_designs(
    t: FloatArray, y: FloatArray, v: FloatArray, Xs: FloatArray, reml: bool, slope: bool
) -> tuple[FloatArray, FloatArray]:
    """:func:`_score_slope` for m pairs (τ²ᵢ, Xᵢ) at once (``Xs`` is m x k x p; stacked solves).

    Per pair, the weighted least-squares fit :math:`\\hat\\beta = (X'WX)^{-1}X'Wy` gives
    :math:`PY = W(y - X\\hat\\beta)`; :math:`\\operatorname{tr}P = \\sum_i w_i - \\sum_i
    (WX)_i (X'WX)^{-1} (WX)_i'`, and tr(PP) is the sum of the squared elements of
    :math:`P = W - WX(X'WX)^{-1}X'W`. Without ``slope`` the second array is empty.
    """
    W = 1.0 / (v[None, :] + t[:, None])
    WX = W[:, :, None] * Xs
    WXt = WX.transpose(0, 2, 1)
    B = WX @ np.linalg.inv(WXt @ Xs)  # W X (X'WX)^-1, m x k x p

    def residuals(z: FloatArray) -> FloatArray:
        out: FloatArray = z - (Xs @ (B.transpose(0, 2, 1) @ z[:, :, None]))[:, :, 0]
        return out

    PY = W * residuals(np.broadcast_to(y, W.shape))
    if reml:
        score = (PY * PY).sum(axis=1) - (W - (B * WX).sum(axis=2)).sum(axis=1)
    else:
        score = (PY * PY).sum(axis=1) - W.sum(axis=1)
    if not slope:
        return score, np.empty(0)
    ypppy = (PY * (W * residuals(PY))).sum(axis=1)
    if reml:
        P = -(B @ WXt)
        diag = np.arange(W.shape[1])
        P[:, diag, diag] += W
        info = (P * P).sum(axis=(1, 2))
    else:
        info = (W * W).sum(axis=1)
    return score, -2.0 * ypppy + info


def _score_grid_mods(
    ts: FloatArray, y: FloatArray, v: FloatArray, X: FloatArray, reml: bool
) -> FloatArray:
    """:func:`_score_grid` with a design matrix: all τ² of a block at once."""
    k, p = X.shape
    block = max(1, _SCAN_BLOCK // (k * p))
    out = np.empty(ts.shape[0])
    for start in range(0, ts.shape[0], block):
        tb = ts[start : start + block]
        Xs = np.broadcast_to(X, (tb.shape[0], k, p))
        out[start : start + block] = _score_slope_designs(tb, y, v, Xs, reml, slope=False)[0]
    return out


def _loglik_designs(
    t: FloatArray, y: FloatArray, v: FloatArray, Xs: FloatArray, reml: bool
) -> FloatArray:
    """:func:`loglik` for m pairs (τ²ᵢ, Xᵢ) at once."""
    _, k, p = Xs.shape
    vt = v[None, :] + t[:, None]
    W = 1.0 / vt
    WXt = (W[:, :, None] * Xs).transpose(0, 2, 1)
    XtWX = WXt @ Xs
    beta = np.linalg.solve(XtWX, WXt @ np.broadcast_to(y, W.shape)[:, :, None])
    r = y[None, :] - (Xs @ beta)[:, :, 0]
    ll = -0.5 * np.log(vt).sum(axis=1) - 0.5 * (W * r * r).sum(axis=1)
    if not reml:
        out: FloatArray = ll - 0.5 * k * math.log(2 * math.pi)
        return out
    logdet_w = np.linalg.slogdet(XtWX)[1]
    logdet_x = np.linalg.slogdet(Xs.transpose(0, 2, 1) @ Xs)[1]
    out = ll - 0.5 * (k - p) * math.log(2 * math.pi) + 0.5 * logdet_x - 0.5 * logdet_w
    return out


def _residual_q_designs(
    y: FloatArray, w: FloatArray, Xs: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per design of ``Xs`` (n x k x p): the weighted Q and the diagonal of WX(X'WX)^-1 X'W.

    The stacked form of :func:`wls_residuals` at one vector of weights:
    :math:`\\hat\\beta = (X'WX)^{-1}X'Wy` and :math:`Q = \\sum_i w_i r_i^2`; with the diagonal,
    :math:`\\operatorname{tr}P = \\sum_i w_i - \\sum_i (WX(X'WX)^{-1}X'W)_{ii}`, and with
    ``w`` = 1 it is the hat matrix's. Raises :class:`numpy.linalg.LinAlgError` if one X'WX
    is singular.
    """
    WX = Xs * w[None, :, None]
    WXt = WX.transpose(0, 2, 1)
    B = np.linalg.solve(WXt @ Xs, WXt)  # (X'WX)^-1 X'W, n x p x k
    r = y[None, :] - (Xs @ (B @ y[:, None]))[:, :, 0]
    q = (r * r) @ w
    diag = np.einsum("nkp,npk->nk", WX, B)
    return np.asarray(q, dtype=np.float64), np.asarray(diag, dtype=np.float64)


def closed_form_designs(y: FloatArray, v: FloatArray, Xs: FloatArray, method: str) -> FloatArray:
    """τ² of a closed-form estimator (EE, DL, HE, HS, HSk, SJ) for n design matrices at once.

    The formulas of :func:`_dl`, :func:`_he`, :func:`_hunter_schmidt` and :func:`_sj` with
    their fits stacked across the designs (a permutation test's arrangements of one design);
    each design gets the estimate of its own fit to rounding. In working units.

    Parameters
    ----------
    y : ndarray
        Effects in working units (k).
    v : ndarray
        Sampling variances in working units (k).
    Xs : ndarray
        ``n x k x p`` design matrices.
    method : str
        One of ``"EE"``, ``"DL"``, ``"HE"``, ``"HS"``, ``"HSk"``, ``"SJ"``.

    Returns
    -------
    ndarray
        τ² of each design (working units).

    Raises
    ------
    numpy.linalg.LinAlgError
        If a design's X'WX is singular (the caller fits the designs one at a time).
    """
    n, k, p = Xs.shape
    if method == "EE":
        return np.zeros(n)
    if method == "HE":
        # the unweighted fit; tr(PV) of its P: sum_i v_i (1 - H_ii), H the hat matrix
        q, hat = _residual_q_designs(y, np.ones(k), Xs)
        trpv = (1.0 - hat) @ v
        return np.asarray(np.maximum(0.0, (q - trpv) / (k - p)), dtype=np.float64)
    if method == "SJ":
        t0 = float(np.var(y))
        q, _ = _residual_q_designs(y, 1.0 / (v + t0), Xs)
        return np.asarray(np.maximum(0.0, t0 * q / (k - p)), dtype=np.float64)
    w = 1.0 / v
    q, diag = _residual_q_designs(y, w, Xs)
    if method == "DL":
        trP = float(_sum(w)) - diag.sum(axis=1)
        return np.asarray(np.maximum(0.0, (q - (k - p)) / trP), dtype=np.float64)
    if method not in ("HS", "HSk"):
        raise MetaAnalysisError(f"method={method!r} has no stacked closed form")
    factor = k / (k - p) if method == "HSk" else 1.0
    return np.asarray(np.maximum(0.0, (factor * q - k) / float(_sum(w))), dtype=np.float64)


def likelihood_designs(
    y: FloatArray, v: FloatArray, Xs: FloatArray, control: Tau2Control, reml: bool
) -> FloatArray:
    """τ² of :func:`_likelihood` (ML or REML) for n design matrices at once, in working units.

    The same steps, stacked across the designs (a permutation test's arrangements): the
    score on the grid of :func:`_scan_grid` (which depends on y and v only), every bracket
    of a sign change refined by the safeguarded Newton steps of :func:`_refine`, and the
    candidate with the largest log-likelihood.

    Parameters
    ----------
    y : ndarray
        Effects in working units (k).
    v : ndarray
        Sampling variances in working units (k).
    Xs : ndarray
        ``n x k x p`` design matrices.
    control : Tau2Control
        Convergence options.
    reml : bool
        REML (True) or ML.

    Returns
    -------
    ndarray
        τ² of each design (working units).
    """
    n, k, p = Xs.shape
    ts = _scan_grid(y, v)
    g = ts.shape[0]
    scores = np.empty((n, g))
    rows = max(1, _SCAN_BLOCK // (g * k * p))
    for a in range(0, n, rows):
        Xb = Xs[a : a + rows]
        reps = np.repeat(Xb, g, axis=0)
        tb = np.tile(ts, Xb.shape[0])
        scores[a : a + rows] = _score_slope_designs(tb, y, v, reps, reml, False)[0].reshape(
            Xb.shape[0], g
        )
    # candidates, per design in the order of _likelihood: 0, then each bracket
    which, grid = np.nonzero((scores[:, :-1] > 0.0) & (scores[:, 1:] <= 0.0))
    exact = scores[which, grid + 1] == 0.0
    lo, hi = ts[grid].copy(), ts[grid + 1].copy()
    u_lo, u_hi = scores[which, grid], scores[which, grid + 1]
    t = np.where(exact, hi, lo + (hi - lo) * u_lo / np.where(exact, -1.0, u_lo - u_hi))
    t = np.where(~exact & ~((lo < t) & (t < hi)), 0.5 * (lo + hi), t)
    active = ~exact
    cells = max(1, _SCAN_BLOCK // (k * k))
    for _ in range(control.max_iter):
        idx = np.flatnonzero(active)
        if not idx.size:
            break
        for c in range(0, idx.size, cells):
            part = idx[c : c + cells]
            score, slope = _score_slope_designs(t[part], y, v, Xs[which[part]], reml, True)
            zero = score == 0.0
            active[part[zero]] = False
            rest, score, slope = part[~zero], score[~zero], slope[~zero]
            up = score > 0.0
            lo[rest[up]] = t[rest[up]]
            hi[rest[~up]] = t[rest[~up]]
            cand = np.where(
                slope < 0.0, t[rest] - score / np.where(slope < 0.0, slope, 1.0), np.nan
            )
            inside = (lo[rest] < cand) & (cand < hi[rest])
            cand = np.where(inside, cand, 0.5 * (lo[rest] + hi[rest]))
            step = cand - t[rest]
            t[rest] = cand
            active[rest[np.abs(step) <= control.tol * np.maximum(1.0, cand)]] = False
    owner = np.concatenate([np.flatnonzero(scores[:, 0] <= 0.0), which])
    cand_t = np.concatenate([np.zeros(int((scores[:, 0] <= 0.0).sum())), t])
    none = np.setdiff1d(np.arange(n), owner)  # the score is positive at the bound (rounding)
    owner = np.concatenate([owner, none])
    cand_t = np.concatenate([cand_t, np.full(none.size, ts[-1])])
    lls = np.empty(owner.size)
    for c in range(0, owner.size, cells):
        sl = slice(c, c + cells)
        lls[sl] = _loglik_designs(cand_t[sl], y, v, Xs[owner[sl]], reml)
    # the first candidate of the largest log-likelihood, per design (np.argmax's choice)
    order = np.lexsort((np.arange(owner.size), -lls, owner))
    first = np.ones(order.size, dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    out = np.empty(n)
    out[owner[order][first]] = cand_t[order][first]
    return out


def _scan_grid(y: FloatArray, v: FloatArray) -> FloatArray:
    """τ² values at which to look for sign changes of the score: 0, then a geometric grid.

    Every stationary point lies below ``max(max v, 4 range(y)²)``: above it the
    score is negative for ML and REML (k >= 2), because
    :math:`Y'PPY \\le \\text{range}^2 \\max w \\sum w` while
    :math:`\\operatorname{tr}P \\ge (k-1)\\min w`.
    """
    rng = float(np.max(y) - np.min(y))
    t_max = 1.01 * max(float(np.max(v)), 4.0 * rng * rng)
    t_min = min(float(np.min(v)), t_max) / 64.0
    decades = math.log10(t_max / t_min)
    n = int(min(_SCAN_MAX_POINTS, max(16, math.ceil(_SCAN_PER_DECADE * decades))))
    grid = np.empty(n + 1)
    grid[0] = 0.0
    grid[1:] = t_min * (t_max / t_min) ** (np.arange(n) / (n - 1))
    return grid


def _refine(
    lo: float,
    hi: float,
    u_lo: float,
    u_hi: float,
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None,
    reml: bool,
    control: Tau2Control,
) -> tuple[float, int, bool]:
    """The root of the score in ``[lo, hi]`` (``u_lo`` > 0 at lo, ``u_hi`` < 0 at hi).

    Starts from the secant of the bracket; then Newton steps with the observed
    information, kept inside the bracket by bisection; the bracket shrinks
    with every evaluation.
    """
    t = lo + (hi - lo) * u_lo / (u_lo - u_hi)
    if not lo < t < hi:
        t = 0.5 * (lo + hi)
    for it in range(1, control.max_iter + 1):
        score, slope = _score_slope(t, y, v, X, reml)
        if score == 0.0:
            return t, it, True
        if score > 0.0:
            lo = t
        else:
            hi = t
        cand = t - score / slope if slope < 0.0 else math.nan
        if not lo < cand < hi:
            cand = 0.5 * (lo + hi)
        step = cand - t
        t = cand
        if abs(step) <= control.tol * max(1.0, t):
            return t, it, True
    return t, control.max_iter, False


def _likelihood(
    y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control, reml: bool
) -> Tau2Fit:
    """ML or REML: the global maximum of the (restricted) likelihood on [0, ∞).

    The score is evaluated on a grid from 0 to a bound above which it is
    negative (:func:`_scan_grid`); every sign change from + to - brackets a
    local maximum, which :func:`_refine` finds by safeguarded Newton steps;
    τ² = 0 is a local maximum when the score there is not positive. The
    estimate is the candidate with the largest log-likelihood; the others are
    kept in ``maxima`` (metafor's Fisher scoring from the Hedges estimate
    returns one local maximum, not always the global one).
    """
    ts = _scan_grid(y, v)
    scores = _score_grid(ts, y, v, X, reml)
    candidates: list[tuple[float, int, bool]] = []
    if scores[0] <= 0.0:
        candidates.append((0.0, 0, True))
    for i in np.flatnonzero((scores[:-1] > 0.0) & (scores[1:] <= 0.0)):
        if scores[i + 1] == 0.0:
            candidates.append((float(ts[i + 1]), 0, True))
        else:
            candidates.append(
                _refine(
                    float(ts[i]),
                    float(ts[i + 1]),
                    float(scores[i]),
                    float(scores[i + 1]),
                    y,
                    v,
                    X,
                    reml,
                    control,
                )
            )
    if not candidates:  # the score is positive at the bound only through rounding
        candidates.append((float(ts[-1]), 0, False))
    lls = [loglik(c[0], y, v, X, reml=reml) for c in candidates]
    best = int(np.argmax(lls))
    t, iterations, converged = candidates[best]
    w = 1.0 / (v + t)
    info = _trace_pp(w, X) if reml else float(w @ w)
    return Tau2Fit(
        t,
        math.sqrt(2.0 / info),
        iterations,
        converged,
        maxima=tuple((c[0], ll) for c, ll in zip(candidates, lls, strict=True)),
    )


def _ml(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Maximum likelihood (Hardy & Thompson 1996): the global maximum on [0, ∞)."""
    return _likelihood(y, v, X, control, reml=False)


def _reml(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Restricted maximum likelihood (Viechtbauer 2005): the global maximum on [0, ∞)."""
    return _likelihood(y, v, X, control, reml=True)


# --------------------------------------------------------------------------- Q-equation estimators


def _q_root(
    y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control, target: float
) -> Tau2Fit:
    k, p = int(y.shape[0]), _ncol(X)
    t, it, ok = solve_q_equation(y, v, X, target, control)
    w = 1.0 / (v + t)
    se = math.sqrt(2.0 * k * k / (k - p)) / float(_sum(w))
    return Tau2Fit(t, se, it, ok)


def _pm(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Paule-Mandel: the τ² at which the generalised Q equals k - p (Paule & Mandel 1982)."""
    return _q_root(y, v, X, control, float(y.shape[0] - _ncol(X)))


def _eb(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Empirical Bayes (Morris 1983; Berkey et al. 1995).

    Its estimating equation :math:`\\frac{k}{k-p} Q(\\tau^2) = k` is the
    Paule-Mandel equation, so the two coincide (Viechtbauer et al. 2015).
    """
    return _q_root(y, v, X, control, float(y.shape[0] - _ncol(X)))


def _pmm(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Median-unbiased Paule-Mandel: Q(τ²) equals the median of χ²(k - p) (Viechtbauer 2021)."""
    df = y.shape[0] - _ncol(X)
    return _q_root(y, v, X, control, float(special.chdtri(df, 0.5)))


#: Registry of τ² estimators keyed by metafor's method codes. Each takes effects and
#: variances in working units (:func:`working_units`).
TAU2_METHODS: dict[
    str, Callable[[FloatArray, FloatArray, FloatArray | None, Tau2Control], Tau2Fit]
] = {
    "EE": _ee,
    "DL": _dl,
    "HE": _he,
    "HS": _hs,
    "HSk": _hsk,
    "SJ": _sj,
    "ML": _ml,
    "REML": _reml,
    "EB": _eb,
    "PM": _pm,
    "PMM": _pmm,
}

#: Aliases accepted for method codes (metafor accepts "FE" and "CE" for "EE").
METHOD_ALIASES: dict[str, str] = {"FE": "EE", "CE": "EE"}

#: Methods that iterate (their results agree with metafor to the convergence threshold).
ITERATIVE_METHODS = frozenset({"ML", "REML", "EB", "PM", "PMM"})


def canonical_method(method: str) -> str:
    """Resolve case and aliases and check ``method`` against the registry.

    Parameters
    ----------
    method : str
        A code of :data:`TAU2_METHODS` or :data:`METHOD_ALIASES`, in any case
        (``"reml"``, ``"fe"``).

    Returns
    -------
    str
        The canonical code (``"REML"``, ``"EE"``).

    Raises
    ------
    MetaAnalysisError
        ``method`` is not a known code.
    """
    return resolve_code(method, "method", TAU2_METHODS, METHOD_ALIASES, "a known tau^2 estimator")


def fit_working(
    y: FloatArray,
    v: FloatArray,
    method: str,
    X: FloatArray | None,
    control: Tau2Control,
) -> Tau2Fit:
    """Run the estimator registered under the canonical code ``method`` in working units.

    Parameters
    ----------
    y : ndarray
        Effects in working units (:func:`working_units`).
    v : ndarray
        Sampling variances in working units.
    method : str
        A canonical code of :data:`TAU2_METHODS`.
    X : ndarray or None
        Design matrix; ``None`` for the intercept-only model.
    control : Tau2Control
        Convergence options.

    Returns
    -------
    Tau2Fit
        In working units; :func:`to_data_units` converts it.
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        w = 1.0 / v
        r = wls_residuals(y, w, X)
        if not math.isfinite(float(w @ (r * r))):
            raise MetaAnalysisError(
                "Q cannot be represented in double precision: the effects differ from each "
                "other by more than about 1e154 times their standard errors"
            )
        if not math.isfinite(float(w @ w)):
            # the estimators and the traces of P use sums of squared weights
            raise MetaAnalysisError(
                "the squared weights cannot be represented in double precision: the "
                "variances are too small for the spread of the effects (they span too many "
                "orders of magnitude)"
            )
        return TAU2_METHODS[method](y, v, X, control)


def to_data_units(fit: Tau2Fit, units: WorkingUnits, method: str, k: int, p: int = 1) -> Tau2Fit:
    """A :class:`Tau2Fit` from working units back to the units of the data.

    Parameters
    ----------
    fit : Tau2Fit
        A fit in working units.
    units : WorkingUnits
        The units of the fit.
    method : str
        Its canonical method code (REML's log-likelihood has another constant).
    k : int
        Number of studies.
    p : int, default 1
        Number of columns of the design matrix.

    Returns
    -------
    Tau2Fit
        τ², its SE and the local maxima in the data's units; the
        log-likelihoods gain the constant the rescaling removed.

    Raises
    ------
    MetaAnalysisError
        τ² or its SE is too large for double precision.
    """
    try:
        tau2 = units.variance(fit.tau2)
        se = None if fit.se is None else units.variance(fit.se)
        maxima = tuple((units.variance(t), ll) for t, ll in fit.maxima)
    except OverflowError:
        raise MetaAnalysisError(
            f"tau2 = {fit.tau2:.6g} * 2**{2 * units.exponent} (or its standard error) is too "
            "large to be represented in double precision; rescale the effects (change units)"
        ) from None
    if maxima:
        # -1/2 sum log(v + tau2) loses k e log 2 when variances are 4**e times larger;
        # REML's -1/2 log det(X'WX) gains p e log 2
        n = k - p if method == "REML" else k
        shift = -n * units.exponent * math.log(2.0)
        maxima = tuple((t, ll + shift) for t, ll in maxima)
    return replace(fit, tau2=tau2, se=se, maxima=maxima)


def fit_messages(
    fit: Tau2Fit, method: str, control: Tau2Control
) -> list[tuple[type[Warning], str]]:
    """Warnings about a fit in the data's units: non-convergence and several local maxima.

    Parameters
    ----------
    fit : Tau2Fit
        A fit in the data's units (:func:`to_data_units`).
    method : str
        Its canonical method code.
    control : Tau2Control
        The convergence options it ran with.

    Returns
    -------
    list of (warning class, str)
        :class:`ConvergenceWarning` when an iterative estimator did not
        converge; :class:`MultimodalLikelihoodWarning` when ML or REML found
        several local maxima.
    """
    out: list[tuple[type[Warning], str]] = []
    if not fit.converged:
        out.append(
            (
                ConvergenceWarning,
                f"{method}: the iteration did not converge in {control.max_iter} iterations "
                f"(relative tol={control.tol:g}); tau2={fit.tau2:.6g} is the last iterate. "
                "Increase max_iter or use another method.",
            )
        )
    if len(fit.maxima) > 1:
        others = ", ".join(
            f"tau2 = {t:.6g} (log-likelihood {ll:.6g})" for t, ll in fit.maxima if t != fit.tau2
        )
        best = max(ll for _, ll in fit.maxima)
        out.append(
            (
                MultimodalLikelihoodWarning,
                f"the {method} likelihood has {len(fit.maxima)} local maxima on [0, inf); the "
                f"global one is used: tau2 = {fit.tau2:.6g} (log-likelihood {best:.6g}); "
                f"other local maxima: {others}. Fisher scoring (metafor) may stop at another.",
            )
        )
    return out


def estimate_tau2(
    y: FloatArray,
    v: FloatArray,
    method: str = "REML",
    X: FloatArray | None = None,
    *,
    control: Tau2Control | None = None,
) -> Tau2Fit:
    """Estimate τ² with the estimator registered under ``method``.

    Parameters
    ----------
    y : ndarray
        Effects (finite), already validated.
    v : ndarray
        Their sampling variances (finite, > 0).
    method : str, default "REML"
        A code of :data:`TAU2_METHODS` or an alias (``"FE"``), in any case.
    X : ndarray, optional
        ``k x p`` design matrix; ``None`` for the intercept-only model.
    control : Tau2Control, optional
        Convergence options of the iterative estimators.

    Returns
    -------
    Tau2Fit
        The estimate, its standard error (``None`` for ``EE``) and, for the
        iterative estimators, the iterations and whether they converged.

    Warns
    -----
    ConvergenceWarning
        An iterative estimator did not converge.
    MultimodalLikelihoodWarning
        ML or REML: the likelihood has several local maxima (the global one
        is returned).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([-0.89, -1.59, -1.35, -1.44, -0.22, -0.79])
    >>> v = np.array([0.33, 0.19, 0.42, 0.02, 0.05, 0.01])
    >>> round(estimate_tau2(y, v, "DL").tau2, 4)
    0.2086
    """
    code = canonical_method(method)
    control = control or Tau2Control()
    y_w, v_w, units = working_units(y, v, X)
    fit = to_data_units(
        fit_working(y_w, v_w, code, X, control), units, code, int(y.shape[0]), _ncol(X)
    )
    for category, message in fit_messages(fit, code, control):
        warnings.warn(message, category, stacklevel=2)
    return fit
