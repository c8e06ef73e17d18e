"""Closed-form τ² estimators of many meta-analyses at once, and the batch registry.

The row-wise counterparts of :func:`msc_meta.tau2.working_units` and of the
closed forms of :mod:`msc_meta.tau2` (EE, DL, HE, HS, HSk, SJ) for the
intercept-only model, on m x k arrays whose absent studies are NaN (``mask``
False). Each follows the one-row formula term for term, including the sums of
"all the other weights" formed without cancellation, so that a row gives the
number :func:`~msc_meta.tau2.estimate_tau2` gives for it to rounding. Also the
vectorized root of the generalised Q equation used by the Q-profile interval
(the algorithm of :func:`msc_meta.tau2.solve_q_equation`, row by row).
"""

from __future__ import annotations

import numpy as np

from ._batch_iterative import ITERATIVE_BATCH_METHODS, _others, row_max, row_min
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


def row_sum(a: FloatArray) -> FloatArray:
    """Sum along the study axis, by ``einsum``: one pass, the same bits for a row in any batch.

    Several times faster than a reduction along a short last axis. A product with ones
    (BLAS) is faster still, but its kernels sum a row in an order that depends on the row's
    position in the block, so a row's bits would depend on the chunking.
    """
    return np.asarray(np.einsum("ij->i", a), dtype=np.float64)


def row_dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """``row_sum(a * b)`` in one pass, without the m x k product (the same bits in any batch)."""
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=np.float64)


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


def residuals(Y: FloatArray, W: FloatArray) -> FloatArray:
    """Residuals from each row's weighted mean (``W`` is 0 where a study is absent)."""
    return Y - (row_dot(W, Y) / row_sum(W))[:, None]


def p_diag(W: FloatArray) -> FloatArray:
    """Diagonal of P per row: ``w_i (S - w_i) / S`` (the one-row ``_p_diag``)."""
    return W * _others(W) / row_sum(W)[:, None]


def trace_p_rows(W: FloatArray) -> FloatArray:
    """tr(P) per row (:func:`msc_meta.tau2.trace_p`)."""
    return trace_p_pp_rows(W, pp=False)[0]


def trace_p_pp_rows(
    W: FloatArray, pp: bool = True, S: FloatArray | None = None
) -> tuple[FloatArray, FloatArray | None]:
    """tr(P) and (if ``pp``) tr(PP) per row, from the power sums of the weights.

    With S_j the sum of ``w_i**j``: tr P = S_1 - S_2/S_1 and
    tr PP = S_2 - 2 S_3/S_1 + (S_2/S_1)². Where no weight exceeds half its row's total,
    tr P loses at most one bit to cancellation and tr PP at most three (tr PP >= S_2/4
    there, and each term is at most 2 S_2); rows with such a weight take the core's
    cancellation-free forms (:func:`p_diag`, :func:`_p2_sum`), as the one-row functions do.
    Only rows with S_2 >= S_1²/4 can hold such a weight (w > S_1/2 gives w² > S_1²/4), so
    only those are searched for it. ``S`` is S_1 where the caller has it.
    """
    S = row_sum(W) if S is None else S
    W2 = W * W
    S2 = row_sum(W2)
    a = S2 / S
    trP = S - a
    trPP = None
    if pp:
        trPP = S2 - 2.0 * row_dot(W2, W) / S + a * a
    maybe = np.flatnonzero(S2 >= 0.24 * S * S)  # 0.24, not 0.25: a margin for rounding
    big = maybe[row_max(W[maybe]) > 0.5 * S[maybe]] if maybe.size else maybe
    if big.size:
        Wb = W[big]
        trP[big] = row_sum(p_diag(Wb))
        if trPP is not None:
            trPP[big] = _p2_sum(Wb, None, None)
    return trP, trPP


def _p2_sum(W: FloatArray, D1: FloatArray | None, D2: FloatArray | None) -> FloatArray:
    """The one-row ``_p2_sum`` per row: sum of P_ij² d1_i d2_j without cancellation.

    ``None`` for ``D1`` or ``D2`` stands for ones (no product).
    """
    sw = row_sum(W)[:, None]
    pd = W * _others(W) / sw
    A = W * W / sw
    pp = pd * pd
    A1 = A if D1 is None else A * D1
    A2 = A if D2 is None else A * D2
    if D1 is not None:
        pp *= D1
    if D2 is not None:
        pp *= D2
    return row_sum(pp) + row_sum(A1 * _others(A2))


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


def _prep(
    Y: FloatArray, V: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(k, Y with 0 for absent, V with 1 for absent, inverse-variance weights with 0)."""
    k = studies_per_row(mask)
    if mask.all():
        return k, Y, V, np.reciprocal(V)
    Vz = np.where(mask, V, 1.0)
    W = np.reciprocal(Vz)
    W[~mask] = 0.0
    return k, np.where(mask, Y, 0.0), Vz, W


def fixed_effect_rows(
    Y: FloatArray, V: FloatArray, mask: BoolArray, pp: bool = False
) -> FixedEffectRows:
    """The common-effect fit of every row (working units, NaN where absent).

    Weighted mean, Q from the residuals (two passes, as the core), tr P and (if ``pp``)
    tr PP (:func:`trace_p_pp_rows`).
    """
    _, Yz, _, W = _prep(Y, V, mask)
    sw = row_sum(W)
    mean = row_dot(W, Yz) / sw
    R = Yz - mean[:, None]
    if not mask.all():
        R[~mask] = 0.0
    R *= R
    q = row_dot(R, W)
    trP, trPP = trace_p_pp_rows(W, pp, sw)
    return FixedEffectRows(W, sw, mean, q, trP, trPP)


def _moment_se(t: FloatArray, k: FloatArray, trP: FloatArray, trpp: FloatArray) -> FloatArray:
    """The one-row ``_moment_se`` (DL, HS, HSk) per row, from tr P and tr PP."""
    return np.asarray(
        np.sqrt(2.0 * (k - 1) / trP / trP + 4.0 * t / trP + 2.0 * (t / trP) * t * (trpp / trP)),
        dtype=np.float64,
    )


def batch_ee(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Common effect: τ² = 0 (no standard error)."""
    m = Y.shape[0]
    return _fit(np.zeros(m), np.full(m, np.nan))


def batch_dl(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """DerSimonian-Laird per row."""
    k = studies_per_row(mask)
    fe = fixed_effect_rows(Y, V, mask, pp=True)
    trP, trpp = fe.trace_p, fe.trace_pp
    assert trpp is not None
    t = np.maximum(0.0, (fe.q - (k - 1)) / trP)
    return _fit(t, _moment_se(t, k, trP, trpp), fe)


def _hunter_schmidt(
    Y: FloatArray, V: FloatArray, mask: BoolArray, small_sample: bool
) -> BatchTau2Fit:
    k = studies_per_row(mask)
    factor = k / (k - 1) if small_sample else np.ones_like(k)
    fe = fixed_effect_rows(Y, V, mask, pp=True)
    sw, trP, trpp = fe.sum_w, fe.trace_p, fe.trace_pp
    assert trpp is not None
    t = np.maximum(0.0, (factor * fe.q - k) / sw)
    return _fit(t, factor * (trP / sw) * _moment_se(t, k, trP, trpp), fe)


def batch_hs(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Hunter-Schmidt per row."""
    return _hunter_schmidt(Y, V, mask, small_sample=False)


def batch_hsk(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Hunter-Schmidt with the small-sample factor k/(k-1) per row."""
    return _hunter_schmidt(Y, V, mask, small_sample=True)


def batch_he(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Hedges' unweighted method of moments per row."""
    k, Yz, Vz, _ = _prep(Y, V, mask)
    ones = mask.astype(np.float64)
    R = _zero(residuals(Yz, ones), mask)
    rss = row_sum(R * R)
    Vz = _zero(Vz, mask)
    trpv = row_sum(p_diag(ones) * Vz)
    t = np.maximum(0.0, (rss - trpv) / (k - 1))
    trpvpv = _p2_sum(ones, Vz, Vz)
    se = np.sqrt(2.0 * trpvpv + 4.0 * t * trpv + 2.0 * t * t * (k - 1)) / (k - 1)
    return _fit(t, se)


def batch_sj(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Sidik-Jonkman per row, with metafor's starting value var(y)(k-1)/k."""
    k, Yz, Vz, _ = _prep(Y, V, mask)
    dev = _zero(Yz - (row_sum(Yz) / k)[:, None], mask)
    t0 = row_sum(dev * dev) / k
    W = _zero(1.0 / (Vz + t0[:, None]), mask)
    R = _zero(residuals(Yz, W), mask)
    q = row_dot(W, R * R)
    t = np.maximum(0.0, t0 * q / (k - 1))
    Vz = _zero(Vz, mask)
    inner = (
        2.0 * _p2_sum(W, Vz, Vz)
        + 4.0 * t * _p2_sum(W, None, Vz)
        + 2.0 * t * t * _p2_sum(W, None, None)
    )
    return _fit(t, t0 / (k - 1) * np.sqrt(inner))


def solve_q_rows(
    Y: FloatArray, V: FloatArray, mask: BoolArray, target: FloatArray, control: Tau2Control
) -> tuple[FloatArray, BoolArray]:
    """Solve ``Q(τ²) = target`` per row: :func:`msc_meta.tau2.solve_q_equation`, vectorized.

    Each row takes the one-row function's steps (Newton on 1/Q inside a bracket, else Newton on
    Q, else bisection) and stops by the same rule; rows that have stopped leave the iteration.
    Returns the roots (working units) and whether each row converged.
    """
    m = Y.shape[0]
    Yz, Vz = _zero(Y, mask), np.where(mask, V, 1.0)
    t = np.zeros(m)
    converged = np.ones(m, np.bool_)
    W = _zero(1.0 / Vz, mask)
    R = residuals(Yz, W)
    PY = _zero(W * R, mask)
    q = row_sum(PY * R)
    lo, hi = np.zeros(m), np.full(m, np.inf)
    active = np.flatnonzero(q > target)
    converged[active] = False
    for _ in range(control.max_iter):
        if active.size == 0:
            break
        a_py, a_q, a_t, a_tg = PY[active], q[active], t[active], target[active]
        slope = row_sum(a_py * a_py)
        stuck = ~((slope > 0.0) & np.isfinite(slope))
        cand = a_t + a_q * (a_q - a_tg) / (a_tg * slope)
        a_lo, a_hi = lo[active], hi[active]
        out = ~((a_lo < cand) & (cand < a_hi))
        cand = np.where(out, a_t + (a_q - a_tg) / slope, cand)
        out = ~((a_lo < cand) & (cand < a_hi))
        cand = np.where(out, 0.5 * (a_lo + a_hi), cand)
        cand = np.where(stuck, a_t, cand)
        a_mask = mask[active]
        W = _zero(1.0 / (Vz[active] + cand[:, None]), a_mask)
        R = residuals(Yz[active], W)
        a_py = _zero(W * R, a_mask)
        a_q = row_sum(a_py * R)
        above = a_q > a_tg
        lo[active] = np.where(above & ~stuck, cand, a_lo)
        hi[active] = np.where(~above & ~stuck, cand, a_hi)
        step = cand - a_t
        t[active] = cand
        q[active] = np.where(stuck, q[active], a_q)
        PY[active] = np.where(stuck[:, None], PY[active], a_py)
        done = (np.abs(step) <= control.tol * np.maximum(1.0, cand)) | (a_q == a_tg)
        converged[active] = done & ~stuck
        active = active[~(done | stuck)]
    return t, converged


#: Vectorized τ² estimators by metafor's code (the keys of :data:`msc_meta.tau2.TAU2_METHODS`).
#: The iterative ones (ML, REML, EB, PM, PMM) join from ``msc_meta._batch_iterative``.
BATCH_TAU2_METHODS: dict[str, BatchTau2] = {
    "EE": batch_ee,
    "DL": batch_dl,
    "HE": batch_he,
    "HS": batch_hs,
    "HSk": batch_hsk,
    "SJ": batch_sj,
    **ITERATIVE_BATCH_METHODS,  # ML, REML, EB, PM, PMM
}

__all__ = [
    "BATCH_TAU2_METHODS",
    "NOT_CONVERGED",
    "batch_working_units",
    "fixed_effect_rows",
    "solve_q_rows",
]
