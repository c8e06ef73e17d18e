"""Closed-form τ² estimators of many meta-analyses at once, and the batch registry.

The row-wise counterparts of :func:`msc_meta.tau2.working_units` and of the closed forms of
:mod:`msc_meta.tau2` (EE, DL, HE, HS, HSk, SJ) for the intercept-only model, on m x k arrays
whose absent studies are NaN (``mask`` False). The estimators work on the rows laid out
studies first (k x c, one column per row, :func:`studies_first`), whose sums over studies
(:func:`~msc_meta._batch_scan.column_sum`) add each row's studies in order whatever the
chunk. Each follows the one-row formula, including the sums of "all the other weights"
formed without cancellation, so that a row gives the number
:func:`~msc_meta.tau2.estimate_tau2` gives for it to rounding. Also the vectorized root of
the generalised Q equation used by the Q-profile interval (the algorithm of
:func:`msc_meta.tau2.solve_q_equation`, row by row).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._batch_iterative import (
    ITERATIVE_BATCH_METHODS,
    _prepare,
    _q_and_slope,
    row_max,
    row_min,
    solve_q_columns,
)
from ._batch_scan import column_dot, column_sum, others_columns
from ._batch_types import (
    NOT_CONVERGED,
    BatchTau2,
    BatchTau2Fit,
    BoolArray,
    FixedEffectRows,
    FloatArray,
    IntArray,
)
from .tau2 import _TINY, Tau2Control


def _zero(a: FloatArray, mask: BoolArray) -> FloatArray:
    """``a`` with 0 where a study is absent (``a`` itself if every study is present)."""
    return a if mask.all() else np.where(mask, a, 0.0)


#: Rows whose present values all lie in these bounds are fitted unscaled (exponent 0) and
#: centred at their first present effect: their powers of two up to the fourth (weights and
#: squared deviations) stay far from overflow and underflow, so rescaling by a power of two
#: would only multiply every intermediate number exactly, and the core accepts every such row.
SAFE_EFFECT = 2.0**100
SAFE_VARIANCE = (2.0**-120, 2.0**120)


def safe_cells(Y: FloatArray, V: FloatArray) -> bool:
    """Whether every cell is present and in the safe bounds: four reductions, no temporaries."""
    if Y.size == 0:
        return False
    with np.errstate(invalid="ignore"):
        return bool(
            Y.min() >= -SAFE_EFFECT
            and Y.max() <= SAFE_EFFECT
            and SAFE_VARIANCE[0] <= V.min()
            and V.max() <= SAFE_VARIANCE[1]
        )


def batch_working_units(
    Y: FloatArray, V: FloatArray, mask: BoolArray | None, exact_scale: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, BoolArray]:
    """Centre and rescale every row as :func:`~msc_meta.tau2.working_units` does one.

    Returns ``(Y_w, V_w, center, exponent, ok)``: ``ok`` is False for rows the
    one-row function handles otherwise or refuses (effects near the largest
    double, variances that do not fit on one scale); they go through the core.
    ``mask`` None means every cell is present and :func:`safe_cells`. Unless
    ``exact_scale`` (the scale of the core matters where a convergence threshold is
    ``tol * max(1, τ²)``: iterative estimators, Q-profile intervals), rows in the safe
    bounds (:data:`SAFE_EFFECT`, :data:`SAFE_VARIANCE`) keep exponent 0 and are centred
    at their first present effect, whatever the other rows of the chunk, so a row gets
    the same numbers in any chunking.
    """
    m = Y.shape[0]
    if mask is None:
        if not exact_scale:  # every row in the safe bounds: one subtraction
            center = Y[:, 0].copy()
            return Y - center[:, None], V, center, np.zeros(m, np.int64), np.ones(m, np.bool_)
        mask = np.ones(Y.shape, np.bool_)
    k = np.count_nonzero(mask, axis=1)
    full = bool(mask.all())
    if full:  # one k: the median by a partition, not a sort (the same element)
        mid = Y.shape[1] // 2
        center = np.partition(Y, mid, axis=1)[:, mid]
        vmed = np.partition(V, mid, axis=1)[:, mid]
    else:
        at = (k // 2)[:, None]
        ys = np.sort(np.where(mask, Y, np.nan), axis=1)  # NaN last: the present values lead
        center = np.take_along_axis(ys, at, axis=1)[:, 0]
        vs = np.sort(np.where(mask, V, np.nan), axis=1)
        vmed = np.take_along_axis(vs, at, axis=1)[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        D = Y - center[:, None]
        if not full:
            D = _zero(D, mask)
        dmax = row_max(np.abs(D))
    half_v = 0.5 * np.frexp(vmed)[1]
    e_d = np.where(dmax > 0.0, np.frexp(dmax)[1], -1075).astype(np.float64)
    # np.rint rounds half to even, as Python's round in working_units
    exponent = np.rint(0.5 * (half_v + np.maximum(half_v, e_d))).astype(np.int64)
    if np.all(np.abs(exponent) < 500):  # 2^-e and 2^-2e are normal: products are exact ldexp
        scale = np.ldexp(1.0, -exponent)[:, None]
        Y_w = D * scale
        with np.errstate(over="ignore"):
            V_w = V * (scale * scale)
    else:
        Y_w = np.ldexp(D, -exponent[:, None])
        with np.errstate(over="ignore"):
            V_w = np.ldexp(np.where(mask, V, 1.0), -2 * exponent[:, None])
    if full:
        vmin, vmax = row_min(V_w), row_max(V_w)
    else:
        Y_w = np.where(mask, Y_w, np.nan)
        V_w = np.where(mask, V_w, np.nan)
        vmin = row_min(np.where(mask, V_w, np.inf))
        vmax = row_max(np.where(mask, V_w, 0.0))
    ok = np.isfinite(dmax) & (vmin >= _TINY) & (vmax < np.inf)
    if exact_scale:
        return Y_w, V_w, center, exponent, ok
    with np.errstate(invalid="ignore"):
        in_bounds = (np.abs(Y) <= SAFE_EFFECT) & (SAFE_VARIANCE[0] <= V) & (SAFE_VARIANCE[1] >= V)
    safe = np.flatnonzero((in_bounds | ~mask).all(axis=1))
    if safe.size:  # unscaled, centred at the first present effect (as with mask None)
        first = Y[safe, np.argmax(mask[safe], axis=1)]
        present = mask[safe]
        Y_w[safe] = np.where(present, Y[safe] - first[:, None], np.nan)
        V_w[safe] = np.where(present, V[safe], np.nan)
        center[safe], exponent[safe], ok[safe] = first, 0, True
    return Y_w, V_w, center, exponent, ok


def studies_first(
    Y: FloatArray, V: FloatArray, mask: BoolArray | None
) -> tuple[FloatArray, FloatArray, BoolArray | None]:
    """``(Dt, Vt, absent)``: effects and variances as k x c arrays (studies first).

    Absent studies get effect 0 and variance +inf (weight exactly 0); ``absent`` is the
    k x c mask of them, None when every study is present (``mask`` None or all True), and
    then ``Vt`` is a transposed view of ``V``, not a copy.
    """
    Dt = np.empty(Y.shape[::-1])
    np.copyto(Dt, Y.T)
    if mask is None or mask.all():
        return Dt, V.T, None
    absent = np.empty(Dt.shape, np.bool_)
    np.logical_not(mask.T, out=absent)
    Dt[absent] = 0.0
    Vt = np.empty(Dt.shape)
    np.copyto(Vt, V.T)
    Vt[absent] = np.inf
    return Dt, Vt, absent


def trace_p_pp_columns(
    Wt: FloatArray, S: FloatArray, pp: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """tr(P) and (if ``pp``) tr(PP) per row, from the power sums of studies-first weights.

    With S_j the sum of ``w_i**j``: tr P = S_1 - S_2/S_1 and
    tr PP = S_2 - 2 S_3/S_1 + (S_2/S_1)². Where no weight exceeds half its row's total,
    tr P loses at most one bit to cancellation and tr PP at most three (tr PP >= S_2/4
    there, and each term is at most 2 S_2); rows with such a weight take the core's
    forms without cancellation (:func:`_traces_one_heavy`), as the one-row functions do.
    ``Wt`` is k x c (0 where a study is absent), ``S`` its :func:`column_sum`.
    """
    S2 = column_dot(Wt, Wt)
    a = S2 / S
    trP = S - a
    trPP = None
    if pp:
        trPP = S2 - 2.0 * column_dot(Wt, Wt, Wt) / S + a * a
    wmax = np.maximum.reduce(Wt, axis=0)
    big = np.flatnonzero(wmax > 0.5 * S)
    if big.size:
        trP[big], pp_big = _traces_one_heavy(np.take(Wt, big, axis=1), S[big], wmax[big], pp)
        if trPP is not None:
            trPP[big] = pp_big
    return trP, trPP


def _traces_one_heavy(
    Wb: FloatArray, S: FloatArray, wmax: FloatArray, pp: bool
) -> tuple[FloatArray, FloatArray | None]:
    """The traces tr P and tr PP of rows with one weight w_b above half the total S.

    From the power sums O, Q_2, Q_3 of the *other* weights (added up directly, so without
    cancellation) and w_b, the core's sums (``trace_p``, ``_p2_sum``) with ``S - w_b``
    replaced by O, expanded:

    - tr P = sum_i w_i o_i / S = (O (S + w_b) - Q_2) / S (o_i = S - w_i, o_b = O)
      = O (1 + u) - Q_2 / S with u = w_b / S, where Q_2 <= O S/2 (each other weight is
      below S/2): at most one bit lost;
    - tr PP = sum_i (w_i o_i / S)² + sum_{i != j} w_i² w_j² / S²
      = ((w_b O)² + S² Q_2 - 2 S Q_3 + 2 w_b² Q_2 + Q_2²) / S² (the fourth powers cancel
      exactly in the algebra) = (O u)² + (Q_2 - 2 Q_3 / S) + 2 u² Q_2 + (Q_2 / S)²,
      where 2 Q_3 / S <= Q_2 and the positive term 2 u² Q_2 > Q_2 / 2, so the one
      subtraction loses at most two bits. Each term is of the order of a squared weight
      (no product of four weights), so nothing overflows or underflows early.

    ``Wb`` is k x c (studies first, 0 where absent), ``S`` and ``wmax`` its sums and maxima.
    The heavy weight is the only cell equal to the maximum: two weights above half the
    total cannot be equal.
    """
    others = np.where(Wb == wmax, 0.0, Wb)
    rest = column_sum(others)
    Q2 = column_dot(others, others)
    u = wmax / S
    b = Q2 / S
    trP = rest * (1.0 + u) - b
    if not pp:
        return trP, None
    Q3 = column_dot(others, others, others)
    a = rest * u
    return trP, a * a + (Q2 - 2.0 * Q3 / S) + 2.0 * u * u * Q2 + b * b


def _fit(tau2: FloatArray, se: FloatArray, fixed: FixedEffectRows | None = None) -> BatchTau2Fit:
    m = tau2.shape[0]
    return BatchTau2Fit(
        tau2, se, np.zeros(m, np.int64), np.ones(m, np.bool_), np.zeros(m, np.int64), fixed
    )


def studies_per_row(mask: BoolArray) -> FloatArray:
    """The number of studies in each row (as float), not counted when all are present."""
    if mask.all():
        return np.full(mask.shape[0], float(mask.shape[1]))
    return np.asarray(np.count_nonzero(mask, axis=1), dtype=np.float64)


def fixed_effect_rows(
    Y: FloatArray, V: FloatArray, mask: BoolArray, pp: bool = False
) -> FixedEffectRows:
    """The common-effect fit of every row (m x k working units, NaN where absent).

    :func:`fixed_effect_columns` of the rows laid out studies first (:func:`studies_first`).
    """
    Dt, Vt, absent = studies_first(Y, V, mask)
    return fixed_effect_columns(Dt, np.reciprocal(Vt), absent, pp)


def fixed_effect_columns(
    Dt: FloatArray, Wt: FloatArray, absent: BoolArray | None, pp: bool = False
) -> FixedEffectRows:
    """The common-effect fit of every row from studies-first (k x c) effects and weights.

    ``Dt`` holds the effects in working units (0 where absent), ``Wt`` the inverse
    variances (0 where absent), ``absent`` the absent studies (None: none). Weighted mean,
    Q from the residuals (two passes, as the core: a one-pass Q would cancel where the
    effects are far from their mean), tr P and (if ``pp``) tr PP
    (:func:`trace_p_pp_columns`). Every sum is a :func:`column_sum`, so a row's numbers do
    not depend on the other rows of its chunk.
    """
    sw, mean, q = weighted_fit_columns(Dt, Wt, absent)
    assert q is not None  # asked for
    trP, trPP = trace_p_pp_columns(Wt, sw, pp)
    return FixedEffectRows(Wt.T, sw, mean, q, trP, trPP)


def weighted_fit_columns(
    Dt: FloatArray, Wt: FloatArray, absent: BoolArray | None, rss: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Sum of weights, weighted mean and (if ``rss``) weighted residual sum of squares per row.

    ``Dt`` and ``Wt`` are studies-first (k x c) effects and weights, 0 where absent; the
    residual sum :math:`\\sum_i w_i (d_i - \\bar d_w)^2` is formed from the residuals (two
    passes, as the core). Q of the common-effect fit at ``Wt = 1/v``; the Hartung-Knapp sum
    of the random-effects fit at ``Wt = 1/(v + τ²)``.
    """
    sw = column_sum(Wt)
    mean = column_dot(Wt, Dt) / sw
    if not rss:
        return sw, mean, None
    R = np.subtract(Dt, mean)
    if absent is not None:
        R[absent] = 0.0
    return sw, mean, column_dot(R, R, Wt)


def _moment_se(t: FloatArray, k: FloatArray, trP: FloatArray, trpp: FloatArray) -> FloatArray:
    """The one-row ``_moment_se`` (DL, HS, HSk) per row, from tr P and tr PP."""
    return np.asarray(
        np.sqrt(2.0 * (k - 1) / trP / trP + 4.0 * t / trP + 2.0 * (t / trP) * t * (trpp / trP)),
        dtype=np.float64,
    )


def _ee_from_fixed(fe: FixedEffectRows, k: FloatArray) -> BatchTau2Fit:
    return _fit(np.zeros(k.shape[0]), np.full(k.shape[0], np.nan), fe)


def _dl_from_fixed(fe: FixedEffectRows, k: FloatArray) -> BatchTau2Fit:
    trP, trpp = fe.trace_p, fe.trace_pp
    assert trpp is not None
    t = np.maximum(0.0, (fe.q - (k - 1)) / trP)
    return _fit(t, _moment_se(t, k, trP, trpp), fe)


def _hunter_schmidt(fe: FixedEffectRows, k: FloatArray, small_sample: bool) -> BatchTau2Fit:
    sw, trP, trpp = fe.sum_w, fe.trace_p, fe.trace_pp
    assert trpp is not None
    if small_sample:
        factor = k / (k - 1)
        t = np.maximum(0.0, (factor * fe.q - k) / sw)
        return _fit(t, factor * (trP / sw) * _moment_se(t, k, trP, trpp), fe)
    t = np.maximum(0.0, (fe.q - k) / sw)
    return _fit(t, (trP / sw) * _moment_se(t, k, trP, trpp), fe)


def _hs_from_fixed(fe: FixedEffectRows, k: FloatArray) -> BatchTau2Fit:
    return _hunter_schmidt(fe, k, small_sample=False)


def _hsk_from_fixed(fe: FixedEffectRows, k: FloatArray) -> BatchTau2Fit:
    return _hunter_schmidt(fe, k, small_sample=True)


#: The estimators that are functions of the common-effect fit alone (its Q, tr P, tr PP and
#: sum of weights) and the number of studies k per row: the batch result computes that fit
#: once and hands it to them (:data:`BATCH_TAU2_METHODS` wraps them for m x k inputs).
MOMENT_ESTIMATORS: dict[str, Callable[[FixedEffectRows, FloatArray], BatchTau2Fit]] = {
    "EE": _ee_from_fixed,
    "DL": _dl_from_fixed,
    "HS": _hs_from_fixed,
    "HSk": _hsk_from_fixed,
}


def _moment(code: str) -> BatchTau2:
    """The m x k estimator of :data:`MOMENT_ESTIMATORS` ``[code]``."""
    pp = code != "EE"

    def estimate(
        Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control
    ) -> BatchTau2Fit:
        return MOMENT_ESTIMATORS[code](fixed_effect_rows(Y, V, mask, pp), studies_per_row(mask))

    estimate.__name__ = f"batch_{code.lower()}"
    estimate.__doc__ = f"{code} per row, from the common-effect fit (:data:`MOMENT_ESTIMATORS`)."
    return estimate


def _finite_columns(Vt: FloatArray, absent: BoolArray | None) -> FloatArray:
    """The studies-first variances as a C-contiguous array with 0 (not +inf) where absent."""
    Vz = np.empty(Vt.shape)
    np.copyto(Vz, Vt)
    if absent is not None:
        Vz[absent] = 0.0
    return Vz


def he_columns(
    Dt: FloatArray, Vt: FloatArray, absent: BoolArray | None, k: FloatArray
) -> BatchTau2Fit:
    """Hedges' unweighted method of moments per row, from studies-first effects and variances.

    As the core's ``_he``: the residuals from the unweighted mean, tr(PV) with the
    unweighted P (whose diagonal is (k - 1)/k) and metafor's SE, whose tr(PVPV) is
    ``((k-1)/k)² sum v² + sum_i (v_i/k)(sum_j v_j/k - v_i/k)``, the last factor added up
    without cancellation (:func:`~msc_meta._batch_scan.others_columns`). ``Dt`` holds 0 and ``Vt`` +inf where a
    study is absent (:func:`studies_first`).
    """
    R = Dt - column_sum(Dt) / k
    if absent is not None:
        R[absent] = 0.0
    R *= R
    rss = column_sum(R)
    Vz = _finite_columns(Vt, absent)
    pdiag = (k - 1) / k  # the diagonal of the unweighted P, one value per row
    trpv = pdiag * column_sum(Vz)
    t = np.maximum(0.0, (rss - trpv) / (k - 1))
    A = Vz / k
    np.multiply(Vz, Vz, out=R)
    trpvpv = pdiag * pdiag * column_sum(R) + column_dot(A, others_columns(A))
    se = np.sqrt(2.0 * trpvpv + 4.0 * t * trpv + 2.0 * t * t * (k - 1)) / (k - 1)
    return _fit(t, se)


def sj_columns(
    Dt: FloatArray, Vt: FloatArray, absent: BoolArray | None, k: FloatArray
) -> BatchTau2Fit:
    """Sidik-Jonkman per row, with metafor's starting value var(y)(k-1)/k (studies first).

    As the core's ``_sj``: τ²_0 the unweighted variance, Q at τ²_0, and metafor's SE from
    ``sum P_ij² d1_i d2_j`` for d = 1 or v, each as the core's ``_p2_sum``: the squared
    diagonal of P plus ``sum_i (A_i d1_i)(sum_j A_j d2_j - A_i d2_i)`` with
    ``A = w² / S``, the "sums of the others" without cancellation (:func:`~msc_meta._batch_scan.others_columns`).
    ``Dt`` holds 0 and ``Vt`` +inf where a study is absent (:func:`studies_first`).
    """
    dev = Dt - column_sum(Dt) / k
    if absent is not None:
        dev[absent] = 0.0
    dev *= dev
    t0 = column_sum(dev) / k
    W = np.add(Vt, t0, out=dev)  # weight 0 where absent (v = +inf)
    np.reciprocal(W, out=W)
    S = column_sum(W)
    R = Dt - column_dot(W, Dt) / S
    if absent is not None:
        R[absent] = 0.0
    R *= R
    R *= W
    q = column_sum(R)
    t = np.maximum(0.0, t0 * q / (k - 1))
    Vz = _finite_columns(Vt, absent)
    pdiag = W * others_columns(W)
    pdiag /= S
    pdiag *= pdiag  # the squared diagonal of P
    A = W * W
    A /= S
    AV = A * Vz
    others_av = others_columns(AV)
    np.multiply(pdiag, Vz, out=R)
    p2_1v = column_sum(R) + column_dot(A, others_av)
    R *= Vz
    p2_vv = column_sum(R) + column_dot(AV, others_av)
    p2_11 = column_sum(pdiag) + column_dot(A, others_columns(A))
    inner = 2.0 * p2_vv + 4.0 * t * p2_1v + 2.0 * t * t * p2_11
    return _fit(t, t0 / (k - 1) * np.sqrt(inner))


#: The closed forms computed from the rows laid out studies first (effects, 0 where absent;
#: variances, +inf where absent; the absent cells; k per row): the batch result lays a chunk
#: out so once for them and for its own sums (:data:`BATCH_TAU2_METHODS` wraps them for
#: m x k inputs).
COLUMN_ESTIMATORS: dict[
    str, Callable[[FloatArray, FloatArray, BoolArray | None, FloatArray], BatchTau2Fit]
] = {"HE": he_columns, "SJ": sj_columns}


def _by_columns(code: str) -> BatchTau2:
    """The m x k estimator of :data:`COLUMN_ESTIMATORS` ``[code]``."""

    def estimate(
        Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control
    ) -> BatchTau2Fit:
        Dt, Vt, absent = studies_first(_zero(Y, mask), V, mask)
        if absent is None:
            Vt = np.ascontiguousarray(Vt)
        return COLUMN_ESTIMATORS[code](Dt, Vt, absent, studies_per_row(mask))

    estimate.__name__ = f"batch_{code.lower()}"
    estimate.__doc__ = f"{code} per row, laid out studies first (:data:`COLUMN_ESTIMATORS`)."
    return estimate


def solve_q_rows(
    Y: FloatArray, V: FloatArray, mask: BoolArray, target: FloatArray, control: Tau2Control
) -> tuple[FloatArray, BoolArray]:
    """Solve ``Q(τ²) = target`` per row: :func:`msc_meta.tau2.solve_q_equation`, vectorized.

    The steps of PM's batch estimator (:func:`~msc_meta._batch_iterative.solve_q_columns`),
    on the rows whose Q at τ² = 0 exceeds the target. Returns the roots (working units) and
    whether each row converged.
    """
    Yz, Vz, k = _prepare(Y, V, mask)
    Yt, Vt = np.ascontiguousarray(Yz.T), np.ascontiguousarray(Vz.T)
    q, slopes = _q_and_slope(np.zeros(Y.shape[0]), Yt, Vt)
    active = np.flatnonzero(q > target)
    t, _, converged = solve_q_columns(Yt, Vt, k, target, q, slopes, active, control)
    return t, converged


#: Vectorized τ² estimators by metafor's code (the keys of :data:`msc_meta.tau2.TAU2_METHODS`).
#: The iterative ones (ML, REML, EB, PM, PMM) join from ``msc_meta._batch_iterative``.
BATCH_TAU2_METHODS: dict[str, BatchTau2] = {
    "EE": _moment("EE"),
    "DL": _moment("DL"),
    "HE": _by_columns("HE"),
    "HS": _moment("HS"),
    "HSk": _moment("HSk"),
    "SJ": _by_columns("SJ"),
    **ITERATIVE_BATCH_METHODS,  # ML, REML, EB, PM, PMM
}

__all__ = [
    "BATCH_TAU2_METHODS",
    "COLUMN_ESTIMATORS",
    "MOMENT_ESTIMATORS",
    "NOT_CONVERGED",
    "batch_working_units",
    "column_sum",
    "fixed_effect_columns",
    "fixed_effect_rows",
    "solve_q_rows",
]
