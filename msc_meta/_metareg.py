"""The numbers of a mixed-effects meta-regression: design matrix, fit and permutations.

Private helpers of :mod:`msc_meta.moderators` (which holds the public
:func:`~msc_meta.moderators.meta_regression` and its result): turning a formula,
a DataFrame or an array into a design matrix with R's term names
(:func:`build_design`), the fit of metafor's ``rma(yi, vi, mods = X)``
(:func:`fit_design`) and the rearrangements of a permutation test
(:func:`distinct_permutations`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import model_matrix
from numpy.typing import NDArray
from scipy import special

from ._errors import MetaAnalysisError
from ._inference import TESTS, chi2_sf, critical_value, two_sided_p
from .heterogeneity import (
    cochran_q,
    h2_from_q,
    h2_from_tau2,
    i2_from_q,
    i2_from_tau2,
    typical_variance,
)
from .tau2 import (
    ITERATIVE_METHODS,
    Tau2Control,
    closed_form_designs,
    fit_messages,
    fit_working,
    likelihood_designs,
    to_data_units,
    working_units,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: metafor's name of the intercept term.
INTERCEPT = "intrcpt"

#: formulaic's level suffix of a categorical term, ``alloc[T.random]`` or ``alloc[random]``;
#: R's ``model.matrix`` writes the level right after the variable name (``allocrandom``).
_LEVEL = re.compile(r"\[(?:T\.)?([^\]]*)\]")


# --------------------------------------------------------------------------- design


@dataclass(frozen=True)
class Design:
    """A design matrix with R's term names, and how to build it for new data.

    Attributes
    ----------
    X : ndarray
        ``k x p`` design matrix (rows of the studies in ``rows``).
    terms : tuple of str
        Column names as R's ``model.matrix`` gives them (``intrcpt``, ``ablat``,
        ``allocrandom``).
    rows : ndarray of int
        The rows of the input that the design keeps (formulaic drops rows
        with missing moderators).
    intercept : bool
        Whether the first column is the intercept.
    spec : object or None
        formulaic's model spec (formula or DataFrame input), to build the
        design of new data; ``None`` for an array.
    """

    X: FloatArray
    terms: tuple[str, ...]
    rows: IntArray
    intercept: bool
    spec: Any = None


def r_term_name(name: str) -> str:
    """R's ``model.matrix`` name of a formulaic column name.

    Parameters
    ----------
    name : str
        A column of formulaic's model matrix.

    Returns
    -------
    str
        ``Intercept`` becomes ``intrcpt`` and ``alloc[T.random]`` becomes
        ``allocrandom``.

    Examples
    --------
    >>> r_term_name("alloc[T.random]"), r_term_name("Intercept"), r_term_name("x:g[b]")
    ('allocrandom', 'intrcpt', 'x:gb')
    """
    return INTERCEPT if name == "Intercept" else _LEVEL.sub(r"\1", name)


def _from_formula(formula: str, data: pd.DataFrame) -> Design:
    frame = data.reset_index(drop=True)
    try:
        mm = model_matrix(formula, frame, na_action="drop")
    except Exception as exc:  # formulaic raises many types for a bad formula or column
        raise MetaAnalysisError(
            f"moderators = {formula!r} cannot be used with data: {exc}; use the data's column "
            "names (quote odd ones in backticks) and R's formula syntax"
        ) from None
    names = [str(c) for c in mm.columns]
    X = np.asarray(mm.to_numpy(dtype=float), dtype=float)
    return Design(
        X=X,
        terms=tuple(r_term_name(c) for c in names),
        rows=np.asarray(mm.index, dtype=np.intp),
        intercept=bool(names) and names[0] == "Intercept",
        spec=mm.model_spec,
    )


def build_design(moderators: Any, data: Any, k: int) -> Design:
    """The design matrix of ``moderators`` (formula, DataFrame, or array) for ``k`` studies.

    Parameters
    ----------
    moderators : str, DataFrame, Series or array-like
        A formula (``"~ ablat + alloc"``, with ``data``), a DataFrame or
        Series of moderators, or a 1-D or 2-D array. An intercept is added
        unless a formula removes it (``"~ 0 + alloc"``).
    data : DataFrame, dict or None
        The columns a formula names.
    k : int
        Number of studies (rows the moderators must have).

    Returns
    -------
    Design
        The design matrix, R's term names and the rows kept.

    Raises
    ------
    MetaAnalysisError
        A formula without ``data``, or moderators with the wrong number of rows.
    """
    if isinstance(moderators, str):
        if data is None:
            raise MetaAnalysisError(
                f"moderators = {moderators!r} is a formula: give data= with its columns"
            )
        if not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(data)
        if len(data) != k:
            raise MetaAnalysisError(
                f"data has {len(data)} rows but there are {k} studies; give one row per study"
            )
        formula = moderators if "~" in moderators else f"~ {moderators}"
        return _from_formula(formula, data)
    if isinstance(moderators, pd.Series):
        moderators = moderators.to_frame(name=str(moderators.name or "x1"))
    if isinstance(moderators, pd.DataFrame):
        if len(moderators) != k:
            raise MetaAnalysisError(
                f"moderators has {len(moderators)} rows but there are {k} studies; "
                "give one row per study"
            )
        cols = [str(c) for c in moderators.columns]
        frame = moderators.set_axis(cols, axis=1)
        return _from_formula("~ " + " + ".join(f"`{c}`" for c in cols), frame)
    arr = np.asarray(moderators)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != k:
        raise MetaAnalysisError(
            f"moderators has shape {np.shape(moderators)}; give one row per study ({k} rows), "
            "one column per moderator"
        )
    try:
        values = arr.astype(float)
    except (TypeError, ValueError):
        raise MetaAnalysisError(
            "moderators is an array that is not numeric; give a DataFrame (categorical columns "
            "get treatment coding) or a formula with data="
        ) from None
    keep = np.flatnonzero(np.isfinite(values).all(axis=1))
    X = np.column_stack([np.ones(keep.size), values[keep]])
    names = (INTERCEPT, *(f"x{j + 1}" for j in range(values.shape[1])))
    return Design(X=X, terms=names, rows=keep.astype(np.intp), intercept=True)


def new_design(design: Design, newmods: Any) -> FloatArray:
    """The design rows of new moderator values (for ``predict``).

    Parameters
    ----------
    design : Design
        The design of the fit.
    newmods : DataFrame, dict, or array-like
        New values of the moderators (not of the intercept): columns named as
        the data's moderators for a formula or DataFrame fit; an array with one
        column per moderator (or a 1-D array of values of a single
        moderator) for an array fit.

    Returns
    -------
    ndarray
        ``m x p`` design matrix.

    Raises
    ------
    MetaAnalysisError
        ``newmods`` lacks a moderator or has the wrong number of columns.
    """
    if design.spec is not None:
        frame = newmods if isinstance(newmods, pd.DataFrame) else None
        if frame is None:
            if isinstance(newmods, Mapping):
                frame = pd.DataFrame(
                    {str(key): np.atleast_1d(val) for key, val in newmods.items()}
                )
            else:
                arr = np.atleast_2d(np.asarray(newmods, dtype=float))
                names = [t for t in design.terms if t != INTERCEPT]
                if arr.shape[1] != len(names) and arr.shape[0] == len(names) and len(names) == 1:
                    arr = arr.T
                frame = pd.DataFrame(arr, columns=list(names)[: arr.shape[1]])
        missing = sorted(set(map(str, design.spec.required_variables)) - set(frame.columns))
        if missing:
            raise MetaAnalysisError(
                f"newmods lacks the moderator(s) {', '.join(map(repr, missing))}; give a value "
                "of every moderator of the model"
            )
        mm = design.spec.get_model_matrix(frame.reset_index(drop=True), na_action="raise")
        return np.asarray(mm.to_numpy(dtype=float), dtype=float)
    lead = 1 if design.intercept else 0
    n_mods = design.X.shape[1] - lead
    if isinstance(newmods, (Mapping, pd.DataFrame)):
        mod_names = design.terms[lead:]
        absent = [n for n in mod_names if n not in newmods]
        if absent:
            raise MetaAnalysisError(
                f"newmods lacks the moderator(s) {', '.join(map(repr, absent))}; give a value "
                "of every moderator of the model"
            )
        arr = np.column_stack(
            [np.atleast_1d(np.asarray(newmods[n], dtype=float)) for n in mod_names]
        )
    else:
        arr = np.asarray(newmods, dtype=float)
        arr = arr[:, None] if arr.ndim == 1 and n_mods == 1 else np.atleast_2d(arr)
    if arr.shape[1] != n_mods:
        raise MetaAnalysisError(
            f"newmods has {arr.shape[1]} column(s) but the model has {n_mods} moderator(s); "
            "give one column per moderator (not the intercept)"
        )
    return np.column_stack([np.ones(arr.shape[0]), arr]) if design.intercept else arr


def check_design(X: FloatArray, terms: tuple[str, ...], intercept: bool) -> None:
    """Refuse constant or redundant moderators, and k not larger than the coefficients.

    Parameters
    ----------
    X : ndarray
        ``k x p`` design matrix.
    terms : tuple of str
        Its column names.
    intercept : bool
        Whether the first column is the intercept.

    Raises
    ------
    MetaAnalysisError
        k <= p; a moderator constant beside the intercept; a term that is a
        linear combination of the terms before it.
    """
    k, p = X.shape
    if k <= p:
        raise MetaAnalysisError(
            f"k = {k} studies but the model has {p} coefficients ({', '.join(terms)}); a "
            "meta-regression needs more studies than coefficients"
        )
    for j in range(p):
        col = X[:, j]
        if intercept and j > 0 and np.all(col == col[0]):
            raise MetaAnalysisError(
                f"moderator term {terms[j]!r} is constant (every study has {col[0]:g}); it "
                "cannot be estimated beside the intercept: drop it"
            )
        if np.linalg.matrix_rank(X[:, : j + 1]) < j + 1:
            raise MetaAnalysisError(
                f"moderator term {terms[j]!r} is a linear combination of the terms before it "
                f"({', '.join(terms[:j])}): the design matrix is rank-deficient; drop it"
            )


# --------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class DesignFit:
    """The numbers of one meta-regression fit (see :func:`fit_design`)."""

    coef: FloatArray
    vcov: FloatArray
    se: FloatArray
    statistic: FloatArray
    pvalue: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    df_resid: int | None
    qm: float
    qm_df: int
    qm_pvalue: float
    qe: float
    qe_pvalue: float
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    r2: float
    weights: FloatArray
    iterations: int
    converged: bool
    messages: tuple[tuple[type[Warning], str], ...]


def estimate(
    y: FloatArray, v: FloatArray, method: str, X: FloatArray | None, control: Tau2Control
) -> tuple[float, float, int, bool, list[tuple[type[Warning], str]]]:
    """τ² (data units) with its SE, iterations, convergence and the warnings to emit."""
    k = int(y.shape[0])
    p = 1 if X is None else int(X.shape[1])
    y_w, v_w, units = working_units(y, v, X)
    fit = to_data_units(fit_working(y_w, v_w, method, X, control), units, method, k, p)
    se = math.nan if fit.se is None else float(fit.se)
    return fit.tau2, se, fit.iterations, fit.converged, fit_messages(fit, method, control)


def estimate_designs(
    y: FloatArray, v: FloatArray, method: str, Xs: FloatArray, control: Tau2Control
) -> FloatArray:
    """τ² (data units) of each of n designs, as :func:`estimate` gives it; NaN where that raises.

    ML and REML are fitted for every design at once (:func:`msc_meta.tau2.likelihood_designs`:
    the same grid, brackets, Newton steps and choice of maximum, stacked), and so are the
    closed forms EE, DL, HE, HS, HSk and SJ (:func:`msc_meta.tau2.closed_form_designs`); the
    iterative Q-equation methods (PM, EB, PMM), and any method when a stacked solve fails or
    gives a number that is not finite (a design might then be refused), one design at a time
    by :func:`estimate`.

    Parameters
    ----------
    y, v : ndarray
        Effects and sampling variances (k).
    method : str
        Canonical τ² method code.
    Xs : ndarray
        ``n x k x p`` design matrices (rearrangements of one design).
    control : Tau2Control
        Convergence options.

    Returns
    -------
    ndarray
        τ² of each design, NaN where the fit is not possible.
    """
    n = int(Xs.shape[0])
    if method not in ITERATIVE_METHODS and n:
        try:
            y_w, v_w, units = working_units(y, v, Xs[0])  # the same for every design
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                t_w = closed_form_designs(y_w, v_w, Xs, method)
        except (MetaAnalysisError, np.linalg.LinAlgError):  # one design at a time below
            t_w = np.full(n, np.nan)
        if np.isfinite(t_w).all():
            return np.array([_variance_or_nan(units.variance, float(t)) for t in t_w])
    if method in ("ML", "REML") and n:
        try:
            y_w, v_w, units = working_units(y, v, Xs[0])  # the same for every design
        except MetaAnalysisError:
            return np.full(n, np.nan)
        with np.errstate(over="ignore", invalid="ignore"):
            w = 1.0 / v_w
            # each design's Q is at most sum w y² (its fit at beta = 0): all are finite
            finite = math.isfinite(float(w @ (y_w * y_w))) and math.isfinite(float(w @ w))
        try:
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                t_w = likelihood_designs(y_w, v_w, Xs, control, method == "REML")
        except np.linalg.LinAlgError:  # a singular X'WX somewhere: one design at a time
            finite = False
        if finite:
            return np.array([_variance_or_nan(units.variance, float(t)) for t in t_w])
    out = np.full(n, np.nan)
    for i in range(n):
        try:
            out[i] = estimate(y, v, method, Xs[i], control)[0]
        except (MetaAnalysisError, np.linalg.LinAlgError):
            continue
    return out


def _variance_or_nan(convert: Any, t: float) -> float:
    try:
        return float(convert(t))
    except OverflowError:  # to_data_units refuses it
        return math.nan


def fit_design(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray,
    intercept: bool,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
    *,
    with_r2: bool = True,
) -> DesignFit:
    """Fit metafor's ``rma(yi, vi, mods = X, intercept = FALSE)`` with a checked design.

    Parameters
    ----------
    y, v : ndarray
        Effects and sampling variances.
    X : ndarray
        ``k x p`` design matrix of full column rank, k > p.
    intercept : bool
        Whether the first column is the intercept (the omnibus test then
        leaves it out, and R² is defined).
    method, test : str
        Canonical τ² method and test codes.
    level : float
        Confidence level.
    control : Tau2Control
        Convergence options.
    with_r2 : bool, default True
        Whether to fit the intercept-only model for the pseudo-R² (a
        permutation test does not need it, as metafor's ``skipr2``).

    Returns
    -------
    DesignFit
        Coefficients, their tests, the omnibus test, residual heterogeneity
        and R²; the warnings of the τ² estimator are returned, not emitted.
    """
    k, p = X.shape
    tau2, tau2_se, iterations, converged, messages = estimate(y, v, method, X, control)
    w = 1.0 / (v + tau2)
    tests = wls_tests(y, v, X[None], np.array([tau2]), intercept, test)
    coef, vcov, se, stat = tests.coef[0], tests.vcov[0], tests.se[0], tests.statistic[0]
    df = tests.df_resid
    pval = np.array([two_sided_p(float(s), df) if not math.isnan(s) else math.nan for s in stat])
    half = critical_value(level, df) * se
    m = tests.qm_df
    qm = float(tests.qm[0])
    qm_p = chi2_sf(qm, m) if df is None else float(special.fdtrc(m, df, qm))
    qe = cochran_q(y, v, X)
    if method == "EE":
        i2, h2 = i2_from_q(qe.q, qe.df), h2_from_q(qe.q, qe.df)
    else:
        vt = typical_variance(v, X)
        i2, h2 = i2_from_tau2(tau2, vt), h2_from_tau2(tau2, vt)
    r2 = _pseudo_r2(y, v, method, tau2, qe.q, k, p, control) if intercept and with_r2 else math.nan
    return DesignFit(
        coef=coef,
        vcov=vcov,
        se=se,
        statistic=stat,
        pvalue=pval,
        ci_low=coef - half,
        ci_high=coef + half,
        df_resid=df,
        qm=qm,
        qm_df=m,
        qm_pvalue=qm_p,
        qe=qe.q,
        qe_pvalue=qe.pvalue,
        tau2=tau2,
        tau2_se=tau2_se,
        i2=i2,
        h2=h2,
        r2=r2,
        weights=100.0 * w / float(np.sum(w)),
        iterations=iterations,
        converged=converged,
        messages=tuple(messages),
    )


@dataclass(frozen=True)
class WlsTests:
    """Coefficients and their tests for n designs at once (see :func:`wls_tests`)."""

    coef: FloatArray
    vcov: FloatArray
    se: FloatArray
    statistic: FloatArray
    qm: FloatArray
    qm_df: int
    df_resid: int | None


def wls_tests(
    y: FloatArray,
    v: FloatArray,
    Xs: FloatArray,
    tau2: FloatArray,
    intercept: bool,
    test: str,
) -> WlsTests:
    """The weighted least-squares fits of ``y`` on n designs, each with its τ², and their tests.

    Parameters
    ----------
    y, v : ndarray
        Effects and sampling variances (k).
    Xs : ndarray
        ``n x k x p`` design matrices of full column rank (n = 1 for one fit; n
        rearrangements of one design for a permutation test).
    tau2 : ndarray
        τ² of each design (n).
    intercept : bool
        Whether the first column is the intercept (the omnibus test leaves it out).
    test : str
        Canonical test code.

    Returns
    -------
    WlsTests
        ``coef``, ``se`` and ``statistic`` (n x p), ``vcov`` (n x p x p), and the omnibus
        statistic ``qm`` (n; divided by ``qm_df`` under the t-based tests, an F statistic on
        ``qm_df`` and ``df_resid`` df), ``inf`` where the covariance matrix is singular
        (Hartung-Knapp factor 0).

    Notes
    -----
    With :math:`W = \\operatorname{diag}(1/(v_i + \\hat\\tau^2))` and the QR decomposition
    :math:`W^{1/2}X = QR`: :math:`\\hat\\beta = R^{-1}Q'W^{1/2}y`,
    :math:`\\operatorname{Var}(\\hat\\beta) = R^{-1}R^{-T}`, times the test's variance
    factor of :math:`\\sum_i w_i (y_i - x_i'\\hat\\beta)^2` on k - p df under
    ``knha``/``adhoc``; :math:`Q_M = \\hat\\beta_m'\\operatorname{Var}(\\hat\\beta_m)^{-1}
    \\hat\\beta_m` over the moderators m. Stacked LAPACK calls, one per design.
    """
    n, k, p = Xs.shape
    w = 1.0 / (v[None, :] + tau2[:, None])
    sw = np.sqrt(w)
    q_mat, r_mat = np.linalg.qr(Xs * sw[:, :, None])
    qty = np.einsum("nki,nk->ni", q_mat, sw * y[None, :])
    coef = np.linalg.solve(r_mat, qty[:, :, None])[:, :, 0]
    r_inv = np.linalg.inv(r_mat)
    vcov = r_inv @ r_inv.transpose(0, 2, 1)
    spec = TESTS[test]
    df: int | None = k - p if spec.uses_t else None
    if test in ("knha", "adhoc"):
        resid = y[None, :] - np.einsum("nki,ni->nk", Xs, coef)
        rss = np.einsum("nk,nk->n", w, resid * resid)
        factor = spec.variance_factor(rss, k - p)
        vcov = vcov * factor[:, None, None]
    se = np.sqrt(np.diagonal(vcov, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = coef / se
    btt = np.arange(1 if intercept else 0, p)
    m = int(btt.size)
    b = coef[:, btt]
    v_b = vcov[:, btt[:, None], btt[None, :]]
    try:
        qm = np.einsum("ni,ni->n", b, np.linalg.solve(v_b, b[:, :, None])[:, :, 0])
    except np.linalg.LinAlgError:  # a singular covariance matrix (knha factor 0): row by row
        qm = np.array([_qm_one(b[i], v_b[i]) for i in range(n)])
    if df is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            qm = qm / m
    return WlsTests(coef, vcov, se, stat, qm, m, df)


def _qm_one(b: FloatArray, v_b: FloatArray) -> float:
    """:math:`b'V^{-1}b`, ``inf`` where V is singular (the Hartung-Knapp factor is 0)."""
    try:
        return float(b @ np.linalg.solve(v_b, b))
    except np.linalg.LinAlgError:
        return math.inf


def _pseudo_r2(
    y: FloatArray,
    v: FloatArray,
    method: str,
    tau2: float,
    qe: float,
    k: int,
    p: int,
    control: Tau2Control,
) -> float:
    """The R² (percent) of metafor: τ² explained, or the weighted adjusted R² of a common-effect model.

    Random effects: :math:`\\max(0, 100(\\hat\\tau^2_0 - \\hat\\tau^2)/\\hat\\tau^2_0)` with
    :math:`\\hat\\tau^2_0` from the intercept-only model fitted with the same method (0 when
    :math:`\\hat\\tau^2_0 = 0`). Common effect: the adjusted R² of the weighted regression,
    :math:`1 - (Q_E/Q_0)(k-1)/(k-p)`.
    """
    if method == "EE":
        if np.all(y == y[0]):
            return 0.0
        q0 = cochran_q(y, v).q
        return max(0.0, 100.0 * (1.0 - (qe / q0) * (k - 1) / (k - p)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau2_0 = estimate(y, v, method, None, control)[0]
    if tau2_0 == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_0 - tau2) / tau2_0)


# --------------------------------------------------------------------------- permutations


def n_distinct_permutations(X: FloatArray) -> int:
    """The number of distinct rearrangements of the rows of ``X`` (identical rows are alike).

    Parameters
    ----------
    X : ndarray
        ``k x p`` design matrix.

    Returns
    -------
    int
        :math:`k!/\\prod_g c_g!` over the groups of identical rows.

    Examples
    --------
    >>> import numpy as np
    >>> n_distinct_permutations(np.array([[1, 0], [1, 1], [1, 0], [1, 1]], dtype=float))
    6
    """
    _, counts = np.unique(X, axis=0, return_counts=True)
    out = math.factorial(int(X.shape[0]))
    for c in counts:
        out //= math.factorial(int(c))
    return out


def distinct_permutations(X: FloatArray) -> Iterator[IntArray]:
    """Every distinct rearrangement of the rows of ``X``, as row indices (observed order first).

    Parameters
    ----------
    X : ndarray
        ``k x p`` design matrix.

    Yields
    ------
    ndarray of int
        Row indices ``idx``; ``X[idx]`` is one arrangement. Each distinct
        matrix appears exactly once (metafor's ``.genuperms``).
    """
    uniq, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    first = np.array([int(np.flatnonzero(inverse == g)[0]) for g in range(uniq.shape[0])])
    start = inverse.copy()
    seq = np.sort(inverse)
    yield np.arange(X.shape[0], dtype=np.intp)
    while True:
        if not np.array_equal(seq, start):
            yield first[seq].astype(np.intp)
        if not _next_permutation(seq):
            return


def _next_permutation(a: NDArray[Any]) -> bool:
    """Advance ``a`` in place to its next lexicographic permutation; False after the last."""
    i = len(a) - 2
    while i >= 0 and a[i] >= a[i + 1]:
        i -= 1
    if i < 0:
        return False
    j = len(a) - 1
    while a[j] <= a[i]:
        j -= 1
    a[i], a[j] = a[j], a[i]
    a[i + 1 :] = a[i + 1 :][::-1].copy()
    return True
