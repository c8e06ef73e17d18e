"""Between-study variance (τ²) estimators, one registry keyed by metafor's codes.

Every estimator is a small function ``(y, v, X, control) -> Tau2Fit`` behind
:data:`TAU2_METHODS`; :func:`estimate_tau2` looks the code up and runs it. The
design matrix ``X`` is ``None`` for the intercept-only model (fast scalar
formulas) or a ``k x p`` array for meta-regression.

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
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ._errors import BoundaryWarning, ConvergenceWarning, MetaAnalysisError

FloatArray = NDArray[np.float64]

# np.add.reduce skips the Python-level wrapper of ndarray.sum (matters for small k)
_sum = np.add.reduce

Tau2Method = Literal["EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM"]

#: Default absolute convergence threshold on τ² for the iterative estimators.
DEFAULT_TOL = 1e-10
#: Default maximum number of iterations for the iterative estimators.
DEFAULT_MAX_ITER = 1000


@dataclass(frozen=True)
class Tau2Control:
    """Options of the iterative estimators.

    Attributes
    ----------
    tol : float
        Absolute convergence threshold on successive τ² values (metafor's
        ``threshold``, whose default is 1e-5; ours is 1e-10).
    max_iter : int
        Iterations before giving up with a :class:`ConvergenceWarning`.
    """

    tol: float = DEFAULT_TOL
    max_iter: int = DEFAULT_MAX_ITER


@dataclass(frozen=True)
class Tau2Fit:
    """An estimate of τ² with its standard error and convergence information."""

    tau2: float
    se: float | None
    iterations: int = 0
    converged: bool = True


# --------------------------------------------------------------------------- algebra
# P = W - W X (X'WX)^-1 X'W is the residual-maker of weighted least squares.
# With X = None (intercept only) the needed traces have closed forms.


def _resid(y: FloatArray, w: FloatArray, X: FloatArray | None) -> FloatArray:
    """Residuals of the weighted least-squares fit of ``y`` on ``X``."""
    if X is None:
        return y - float(w @ y) / float(_sum(w))
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ y)
    return y - X @ beta


def _p_matrix(w: FloatArray, X: FloatArray | None) -> FloatArray:
    """The k x k matrix P for weights ``w``."""
    k = w.shape[0]
    Xm = np.ones((k, 1)) if X is None else X
    WX = Xm * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(Xm.T @ WX, WX.T)


def _trace_p(w: FloatArray, X: FloatArray | None) -> float:
    if X is None:
        s = float(_sum(w))
        return s - float(w @ w) / s
    return float(np.trace(_p_matrix(w, X)))


def _trace_pp(w: FloatArray, X: FloatArray | None) -> float:
    if X is None:
        s = float(_sum(w))
        s2 = float(w @ w)
        s3 = float((w * w) @ w)
        return s2 - 2.0 * s3 / s + (s2 / s) ** 2
    P = _p_matrix(w, X)
    return float(np.sum(P * P))


def _ncol(X: FloatArray | None) -> int:
    return 1 if X is None else int(X.shape[1])


def q_generalized(tau2: float, y: FloatArray, v: FloatArray, X: FloatArray | None = None) -> float:
    """Generalised Q statistic ``Y'P(τ²)Y`` (Cochran's Q at τ² = 0).

    Notes
    -----
    :math:`Q(\\tau^2) = \\sum_i w_i (y_i - \\hat\\mu_w)^2` with
    :math:`w_i = 1/(v_i + \\tau^2)`; it decreases in τ² (DerSimonian & Kacker
    2007). metafor's ``.QE.func``.
    """
    w = 1.0 / (v + tau2)
    r = _resid(y, w, X)
    return float(w @ (r * r))


def solve_q_equation(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None,
    target: float,
    control: Tau2Control,
) -> tuple[float, int, bool]:
    """Solve ``Q(τ²) = target`` for τ² >= 0 (0 when ``Q(0) <= target``).

    ``Q(τ²)`` decreases in τ² (``dQ/dτ² = -Y'PPY``). Newton steps are taken on
    ``1/Q(τ²)``, which is close to linear in τ² (exactly so for equal
    variances), inside a bracket ``[lo, hi]`` that always holds the root; a
    step leaving the bracket is replaced by the Newton step on ``Q`` itself
    or by bisection. No upper bound on τ² is needed. Used by the Paule-Mandel
    and empirical Bayes estimators and by the Q-profile confidence interval.

    Returns
    -------
    tau2 : float
        The root, or 0 when ``Q(0) <= target``.
    iterations : int
        Newton or bisection steps taken.
    converged : bool
        False when the iteration stopped before reaching ``control.tol`` (after
        ``control.max_iter`` steps, or at a slope that is not positive).
    """
    t = 0.0
    w = 1.0 / v
    r = _resid(y, w, X)
    py = w * r
    q = float(py @ r)
    if q <= target:
        return 0.0, 0, True
    lo, hi = 0.0, math.inf
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
        r = _resid(y, w, X)
        py = w * r
        q = float(py @ r)
        if q > target:
            lo = cand
        else:
            hi = cand
        step = cand - t
        t = cand
        if abs(step) <= control.tol * max(1.0, t) or q == target:
            return t, it, True
    return t, control.max_iter, False


# --------------------------------------------------------------------------- estimators


def _ee(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Common (equal) effect: τ² = 0 by assumption."""
    return Tau2Fit(0.0, None)


def _se_moment(
    t: float, k: int, p: int, trP: float, P: FloatArray, scale: float, dof_term: float
) -> float:
    """Shared SE formula of the DL, HS and HSk estimators (metafor ``rma.uni``)."""
    return scale * math.sqrt(2.0 * dof_term + 4.0 * t * trP + 2.0 * t * t * float(np.sum(P * P)))


def _dl(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """DerSimonian-Laird method-of-moments estimator.

    :math:`\\hat\\tau^2 = \\max\\{0, (Q - (k-p)) / \\operatorname{tr}(P)\\}`
    (DerSimonian & Laird 1986, Control Clin Trials 7:177-188).
    """
    k, p = int(y.shape[0]), _ncol(X)
    w = 1.0 / v
    r = _resid(y, w, X)
    q = float(w @ (r * r))
    trP = _trace_p(w, X)
    t = max(0.0, (q - (k - p)) / trP)
    P = _p_matrix(w, X)
    return Tau2Fit(t, _se_moment(t, k, p, trP, P, 1.0 / trP, k - p))


def _hunter_schmidt(
    y: FloatArray, v: FloatArray, X: FloatArray | None, small_sample: bool
) -> Tau2Fit:
    """Hunter-Schmidt estimator, optionally with the factor k/(k-p) on Q."""
    k, p = int(y.shape[0]), _ncol(X)
    factor = k / (k - p) if small_sample else 1.0
    w = 1.0 / v
    r = _resid(y, w, X)
    q = float(w @ (r * r))
    sw = float(w.sum())
    t = max(0.0, (factor * q - k) / sw)
    P = _p_matrix(w, X)
    se = factor * _se_moment(t, k, p, float(np.trace(P)), P, 1.0 / sw, k - p)
    return Tau2Fit(t, se)


def _hs(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hunter-Schmidt estimator: :math:`(Q - k)/\\sum w_i` (Hunter & Schmidt 2004)."""
    return _hunter_schmidt(y, v, X, small_sample=False)


def _hsk(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hunter-Schmidt estimator with the small-sample factor k/(k-p) on Q (Brannick et al. 2019)."""
    return _hunter_schmidt(y, v, X, small_sample=True)


def _he_parts(
    y: FloatArray, v: FloatArray, X: FloatArray | None
) -> tuple[float, float, FloatArray]:
    """Unweighted residual sum of squares, tr(PV) and PV for the Hedges estimator."""
    k = int(y.shape[0])
    ones = np.ones(k)
    P = _p_matrix(ones, X)
    r = _resid(y, ones, X)
    PV = P * v[None, :]
    return float(r @ r), float(np.trace(PV)), PV


def _he_raw(y: FloatArray, v: FloatArray, X: FloatArray | None) -> float:
    """Unfloored Hedges (HE) estimate, the starting value of ML/REML."""
    k, p = int(y.shape[0]), _ncol(X)
    if X is None:
        rss = float(((y - y.mean()) ** 2).sum())
        trpv = float(v.sum()) * (k - 1) / k
        return (rss - trpv) / (k - p)
    rss, trpv, _ = _he_parts(y, v, X)
    return (rss - trpv) / (k - p)


def _he(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Hedges (Cochran ANOVA) unweighted method-of-moments estimator (Hedges 1983)."""
    k, p = int(y.shape[0]), _ncol(X)
    rss, trpv, PV = _he_parts(y, v, X)
    t = max(0.0, (rss - trpv) / (k - p))
    se = math.sqrt(
        (2.0 * float(np.sum(PV * PV.T)) + 4.0 * t * trpv + 2.0 * t * t * (k - p)) / (k - p) ** 2
    )
    return Tau2Fit(t, se)


def _sj(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Sidik-Jonkman estimator with metafor's starting value var(y)(k-1)/k (Sidik & Jonkman 2005)."""
    k, p = int(y.shape[0]), _ncol(X)
    t0 = float(np.var(y))
    w = 1.0 / (v + t0)
    r = _resid(y, w, X)
    q = float(w @ (r * r))
    t = max(0.0, t0 * q / (k - p))
    P = _p_matrix(w, X)
    PV = P * v[None, :]
    se = math.sqrt(
        t0**2
        / (k - p) ** 2
        * (
            2.0 * float(np.sum(PV * PV.T))
            + 4.0 * t * float(np.sum(PV * P))
            + 2.0 * t * t * float(np.sum(P * P))
        )
    )
    return Tau2Fit(t, se)


def _loglik(tau2: float, y: FloatArray, v: FloatArray, X: FloatArray | None, reml: bool) -> float:
    """(Restricted) log-likelihood of the random-effects model at ``tau2``."""
    k, p = int(y.shape[0]), _ncol(X)
    w = 1.0 / (v + tau2)
    r = _resid(y, w, X)
    ll = -0.5 * float(_sum(np.log(v + tau2))) - 0.5 * float(w @ (r * r))
    if reml:
        if X is None:
            logdet = math.log(float(_sum(w)))
        else:
            logdet = float(np.linalg.slogdet(X.T @ (X * w[:, None]))[1])
        ll += -0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * logdet
    else:
        ll += -0.5 * k * math.log(2 * math.pi)
    return ll


def _score(t: float, y: FloatArray, v: FloatArray, X: FloatArray | None, reml: bool) -> float:
    """Twice the derivative of the (restricted) log-likelihood in τ² at ``t``."""
    w = 1.0 / (v + t)
    py = w * _resid(y, w, X)
    return float(py @ py) - (_trace_p(w, X) if reml else float(_sum(w)))


def _fisher_scoring(
    y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control, reml: bool
) -> Tau2Fit:
    """ML or REML by Fisher scoring from the Hedges estimate, with step halving.

    The Fisher scoring update of Viechtbauer (2005, eqs. 8 and 10), as in
    metafor: ML :math:`\\Delta = (Y'PPY - \\sum w_i) / \\sum w_i^2`; REML
    :math:`\\Delta = (Y'PPY - \\operatorname{tr} P) / \\operatorname{tr}(PP)`.
    Where the log-likelihood is locally concave, the Newton step with the
    observed information (:math:`2Y'PPPY - \\sum w_i^2` or
    :math:`2Y'PPPY - \\operatorname{tr}(PP)`) is taken instead: it converges
    to the same root quadratically, where Fisher scoring is only linear near
    small τ². Steps that would make τ² negative are halved (metafor's rule),
    unless the score at τ² = 0 is not positive: then the maximum is at 0 and
    τ² = 0 exactly (metafor stops a threshold's width above it).
    """
    t = max(0.0, _he_raw(y, v, X))
    converged = False
    it = 0
    for it in range(1, control.max_iter + 1):  # noqa: B007 - iteration count is reported
        w = 1.0 / (v + t)
        py = w * _resid(y, w, X)  # P y
        yppy = float(py @ py)
        if reml:
            score, fisher_info = yppy - _trace_p(w, X), _trace_pp(w, X)
        else:
            score, fisher_info = yppy - float(_sum(w)), float(w @ w)
        observed = 2.0 * float(py @ (w * _resid(py, w, X))) - fisher_info  # 2 Y'PPPY - info
        adj = score / observed if observed > 0.0 else score / fisher_info
        if t == 0.0 and adj <= 0.0:  # maximum on the boundary
            converged = True
            break
        if t + adj < 0.0 and _score(0.0, y, v, X, reml) <= 0.0:
            t = 0.0  # the step crosses 0 and the likelihood decreases from 0: maximum at 0
            converged = True
            break
        while t + adj < 0.0:
            adj /= 2.0
        t += adj
        if abs(adj) < control.tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"{'REML' if reml else 'ML'} Fisher scoring did not converge in {control.max_iter} "
            f"iterations (last change larger than tol={control.tol:g}); tau2={t:.6g} is the last "
            "iterate. Increase max_iter or use another method.",
            ConvergenceWarning,
            stacklevel=4,
        )
    elif t > control.tol and _loglik(0.0, y, v, X, reml) - _loglik(t, y, v, X, reml) > 1e-10:
        warnings.warn(
            "Fisher scoring stopped at a local maximum of the likelihood below its value at "
            "tau2 = 0; setting tau2 = 0 (as metafor does).",
            BoundaryWarning,
            stacklevel=4,
        )
        t = 0.0
    w = 1.0 / (v + t)
    se = math.sqrt(2.0 / _trace_pp(w, X)) if reml else math.sqrt(2.0 / float(w @ w))
    return Tau2Fit(t, se, it, converged)


def _ml(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Maximum likelihood (Hardy & Thompson 1996), by Fisher scoring."""
    return _fisher_scoring(y, v, X, control, reml=False)


def _reml(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Restricted maximum likelihood (Viechtbauer 2005), by Fisher scoring."""
    return _fisher_scoring(y, v, X, control, reml=True)


def _q_root(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray | None,
    control: Tau2Control,
    target: float,
    name: str,
) -> Tau2Fit:
    k, p = int(y.shape[0]), _ncol(X)
    t, it, ok = solve_q_equation(y, v, X, target, control)
    if not ok:
        warnings.warn(
            f"{name}: solving Q(tau2) = {target:.6g} did not converge in {control.max_iter} "
            f"iterations; tau2={t:.6g} is the last iterate.",
            ConvergenceWarning,
            stacklevel=4,
        )
    w = 1.0 / (v + t)
    se = math.sqrt(2.0 * k * k / (k - p)) / float(w.sum())
    return Tau2Fit(t, se, it, ok)


def _pm(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Paule-Mandel: the τ² at which the generalised Q equals k - p (Paule & Mandel 1982)."""
    return _q_root(y, v, X, control, float(y.shape[0] - _ncol(X)), "PM")


def _eb(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Empirical Bayes (Morris 1983; Berkey et al. 1995).

    Its estimating equation :math:`\\frac{k}{k-p} Q(\\tau^2) = k` is the
    Paule-Mandel equation, so the two coincide (Viechtbauer et al. 2015).
    """
    return _q_root(y, v, X, control, float(y.shape[0] - _ncol(X)), "EB")


def _pmm(y: FloatArray, v: FloatArray, X: FloatArray | None, control: Tau2Control) -> Tau2Fit:
    """Median-unbiased Paule-Mandel: Q(τ²) equals the median of χ²(k - p) (Viechtbauer 2021)."""
    from scipy import special

    df = y.shape[0] - _ncol(X)
    return _q_root(y, v, X, control, float(special.chdtri(df, 0.5)), "PMM")


#: Registry of τ² estimators keyed by metafor's method codes.
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
    """Resolve aliases and check ``method`` against the registry."""
    if isinstance(method, str) and method in METHOD_ALIASES:
        return METHOD_ALIASES[method]
    if not isinstance(method, str) or method not in TAU2_METHODS:
        valid = ", ".join([*TAU2_METHODS, *METHOD_ALIASES])
        raise MetaAnalysisError(
            f"method={method!r} is not a known tau^2 estimator; valid: {valid}"
        )
    return method


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
    y, v : ndarray
        Effects and their (positive) sampling variances, already validated.
    method : str
        A code of :data:`TAU2_METHODS` or an alias (``"FE"``).
    X : ndarray, optional
        ``k x p`` design matrix; ``None`` for the intercept-only model.
    control : Tau2Control, optional
        Convergence options of the iterative estimators.

    Returns
    -------
    Tau2Fit
        The estimate, its standard error (``None`` for ``EE``) and, for the
        iterative estimators, the iterations and whether they converged.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([-0.89, -1.59, -1.35, -1.44, -0.22, -0.79])
    >>> v = np.array([0.33, 0.19, 0.42, 0.02, 0.05, 0.01])
    >>> round(estimate_tau2(y, v, "DL").tau2, 4)
    0.2086
    """
    fn = TAU2_METHODS[canonical_method(method)]
    return fn(y, v, X, control or Tau2Control())
