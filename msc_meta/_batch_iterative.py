"""Vectorized iterative τ² estimators of the batch engine: ML, REML, EB, PM and PMM.

Each estimator takes m rows of effects ``Y`` and variances ``V`` (m x k, in working
units row by row, :func:`msc_meta.tau2.working_units`), with ``mask`` marking the studies
present, and runs the algorithm of the core (:mod:`msc_meta.tau2`) on every row at once:

- ML and REML: the score on the core's grid of τ² (:func:`msc_meta.tau2._scan_grid`,
  built per row), every sign change from + to - refined by safeguarded Newton steps inside
  its bracket (per-candidate convergence, bisection when a step leaves the bracket), τ² = 0
  a candidate when the score there is not positive, and the candidate of largest
  (restricted) log-likelihood taken. A row with several local maxima carries
  :data:`~msc_meta._batch_types.MULTIMODAL` (the global maximum is returned, as the core
  does); where the two largest are tied to rounding, the row is marked ``ambiguous`` and
  the batch engine refits it by the core. The score is evaluated at only those grid points
  where it may change sign (:mod:`msc_meta._batch_scan`).
- PM, EB and PMM: the generalised Q equation solved by the core's Newton steps on 1/Q inside
  a per-row bracket (:func:`msc_meta.tau2.solve_q_equation`).

Absent studies get weight 0 (variance +inf), so rows of different k share one array. Rows
with fewer than 2 studies get τ² = 0 (NaN with none) and SE NaN, as ``meta_analysis`` treats
k = 1. Memory is O(m·k): rows are fitted in chunks of ``_CHUNK`` array elements, and the
grid scan over blocks of rows of at most ``_SCAN_CELLS`` grid points.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy import special

from ._batch_scan import _EPS, ScanGrid, column_dot, column_sum, others_columns, scan_scores
from ._batch_types import (
    MULTIMODAL,
    NOT_CONVERGED,
    BatchTau2,
    BatchTau2Fit,
    BoolArray,
    FloatArray,
    IntArray,
)
from .tau2 import _SCAN_MAX_POINTS, _SCAN_PER_DECADE, Tau2Control, q_at_target

#: Two local maxima whose log-likelihoods differ by at most this (relative) tie: the rounding
#: of the log-likelihood decides which the core takes, so the core fits the row.
_TIE = 1e-9
#: Array elements (rows x k) of one chunk of rows: every temporary is a few times this.
_CHUNK = 1 << 18
#: Grid points (rows x points) of one block of the scan (:func:`~msc_meta._batch_scan.scan_scores`
#: evaluates a few points per row at a time, so its temporaries are far smaller). Measured on
#: 1e6 x 10 REML here: 2**18 took 4.4 s with 2 threads where 2**17 took 5.2 s (fewer NumPy
#: calls, which hold the GIL), and 7.8 s against 7.6 s with one thread.
_SCAN_CELLS = 1 << 18


#: Up to this many studies, row sums, maxima and minima go column by column: a reduction
#: along a short last axis is many times slower than k elementwise passes.
_COLUMNWISE = 32


def row_total(a: FloatArray) -> FloatArray:
    """Sum along the last axis, the same for a row whatever the batch (unlike BLAS products).

    Column by column in order for up to ``_COLUMNWISE`` studies, else numpy's sum.
    """
    if a.shape[-1] == 0 or a.shape[-1] > _COLUMNWISE:
        return np.asarray(a.sum(axis=-1), dtype=np.float64)
    out: FloatArray = a[..., 0].copy()
    for j in range(1, a.shape[-1]):
        out += a[..., j]
    return out


def _others(a: FloatArray) -> FloatArray:
    """``sum(a) - a[i]`` along the last axis for ``a >= 0``, without cancellation.

    The vectorized form of :func:`msc_meta.tau2._others` (any number of leading axes).
    ``total - a[i]`` loses at most a factor 2 of accuracy where ``a[i] <= total / 2``; the
    element above half the total (at most one per row) gets the sum of the others directly.
    """
    total = row_total(a)
    out: FloatArray = total[..., None] - a
    big = a > 0.5 * total[..., None]
    if np.any(big):
        np.copyto(out, row_total(np.where(big, 0.0, a))[..., None], where=big)
    return out


def row_max(a: FloatArray) -> FloatArray:
    """Largest value of each row (NaN if the row has one), as ``a.max(axis=1)``."""
    if a.shape[1] == 0 or a.shape[1] > _COLUMNWISE:
        return np.asarray(a.max(axis=1), dtype=np.float64)
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.maximum(out, a[:, j], out=out)
    return out


def row_min(a: FloatArray) -> FloatArray:
    """Smallest value of each row (NaN if the row has one), as ``a.min(axis=1)``."""
    if a.shape[1] == 0 or a.shape[1] > _COLUMNWISE:
        return np.asarray(a.min(axis=1), dtype=np.float64)
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.minimum(out, a[:, j], out=out)
    return out


def _prepare(
    Y: FloatArray, V: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Effects 0 and variances +inf (weight 0) where absent, and k per row."""
    mask = np.asarray(mask, dtype=bool)
    Yz = np.where(mask, Y, 0.0)
    Vz = np.where(mask, V, np.inf)
    return Yz, Vz, np.count_nonzero(mask, axis=1).astype(np.int64)


# --------------------------------------------------------------------------- ML and REML


def _scan_bounds(
    Y: FloatArray, V: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """Per row, the core's scan grid (:func:`msc_meta.tau2._scan_grid`) and its bounds.

    Returns t_min, t_max and n of the grid; the smallest and largest variance; and the bound
    above which the score is negative (t_max is 1.01 times it).
    """
    with np.errstate(invalid="ignore"):
        rng = row_max(np.where(mask, Y, -np.inf)) - row_min(np.where(mask, Y, np.inf))
        vmax = row_max(np.where(mask, V, -np.inf))
        vmin = row_min(np.where(mask, V, np.inf))
    bound = np.maximum(vmax, 4.0 * rng * rng)
    t_max = 1.01 * bound
    t_min = np.minimum(vmin, t_max) / 64.0
    points = _SCAN_PER_DECADE * np.log10(t_max / t_min)
    # the core takes math.log10, which may differ from NumPy's in the last bit: where the
    # number of points is within rounding of a whole number, its ceiling is the core's
    near = np.flatnonzero(np.abs(points - np.rint(points)) <= 1e-9 * np.maximum(1.0, points))
    for i in near:
        points[i] = _SCAN_PER_DECADE * math.log10(float(t_max[i]) / float(t_min[i]))
    n = np.minimum(_SCAN_MAX_POINTS, np.maximum(16, np.ceil(points)))
    return t_min, t_max, n.astype(np.int64), vmin, vmax, bound


def _score_grid(T: FloatArray, Yt: FloatArray, Vt: FloatArray, reml: bool) -> FloatArray:
    """The score at every τ² of ``T`` (b x n) for the rows of ``Yt``, ``Vt`` (k x b, studies first).

    Sums run over the first axis (whole slabs at once). REML's tr P is taken as
    :math:`S - \\sum w^2/S` and recomputed in the core's cancellation-free form
    (:func:`_others`) wherever the sign of the score is within the rounding of that form.
    """
    k = Yt.shape[0]
    W = Vt[:, :, None] + T[None, :, :]
    np.reciprocal(W, out=W)
    S = W.sum(axis=0)
    # products summed over the studies in one pass each (slab by slab, as the sums above)
    mu = np.einsum("kbn,kb->bn", W, Yt) / S
    tmp = np.subtract(Yt[:, :, None], mu[None, :, :])
    tmp *= W
    yppy = np.einsum("kbn,kbn->bn", tmp, tmp)
    if not reml:
        out: FloatArray = yppy - S
        return out
    out = yppy - (S - np.einsum("kbn,kbn->bn", W, W) / S)
    doubt = np.abs(out) <= 8.0 * (k + 8) * _EPS * (S + yppy)
    if np.any(doubt):
        b, j = np.nonzero(doubt)
        Wd = W[:, b, j].T
        out[b, j] = yppy[b, j] - (Wd * _others(Wd)).sum(axis=1) / S[b, j]
    return out


def _score_points(t: FloatArray, Yt: FloatArray, Vt: FloatArray, reml: bool) -> FloatArray:
    """The score at τ² ``t[i]`` of the row in column i of ``Yt``, ``Vt`` (k x m), as the core."""
    return _score_grid(t[:, None], Yt, Vt, reml)[:, 0]


def _score_slope(
    t: FloatArray, Y: FloatArray, V: FloatArray, reml: bool
) -> tuple[FloatArray, FloatArray]:
    """Score and its derivative per row at ``t`` (as :func:`msc_meta.tau2._score_slope`).

    Computed studies first (k x m copies of the rows), so that every sum over the studies is
    one reduction over whole slabs, in the order of the studies for every row.
    """
    dot = column_dot
    Yt = np.ascontiguousarray(Y.T)
    w = np.add(V.T, t[None, :], order="C")
    np.reciprocal(w, out=w)
    s = column_sum(w)
    py = Yt - dot(w, Yt) / s
    py *= w
    ypppy = dot(w, py, py) - dot(w, py) ** 2 / s
    s2 = dot(w, w)
    yppy = dot(py, py)
    if reml:
        info = s2 - 2.0 * dot(w, w, w) / s + (s2 / s) ** 2
        trp = dot(w, others_columns(w)) / s  # tr P = sum_i w_i S_(-i) / S
        return yppy - trp, -2.0 * ypppy + info
    return yppy - s, -2.0 * ypppy + s2


def _refine(
    rows: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    u_lo: FloatArray,
    u_hi: FloatArray,
    Y: FloatArray,
    V: FloatArray,
    reml: bool,
    control: Tau2Control,
) -> tuple[FloatArray, IntArray, BoolArray]:
    """The root of the score in each bracket, as :func:`msc_meta.tau2._refine`, all at once."""
    lo, hi = lo.copy(), hi.copy()
    t = lo + (hi - lo) * u_lo / (u_lo - u_hi)
    mid = ~((lo < t) & (t < hi))
    t[mid] = 0.5 * (lo[mid] + hi[mid])
    iterations = np.full(t.shape[0], control.max_iter, dtype=np.int64)
    converged = np.zeros(t.shape[0], dtype=bool)
    active = np.arange(t.shape[0])
    for it in range(1, control.max_iter + 1):
        if active.size == 0:
            break
        ta = t[active]
        score, slope = _score_slope(ta, Y[rows[active]], V[rows[active]], reml)
        zero = score == 0.0
        la, ha = lo[active], hi[active]
        up = score > 0.0
        la = np.where(up, ta, la)
        ha = np.where(up, ha, ta)
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = np.where(slope < 0.0, ta - score / slope, np.nan)
        out = ~((la < cand) & (cand < ha))
        cand[out] = 0.5 * (la[out] + ha[out])
        step = cand - ta
        done = zero | (np.abs(step) <= control.tol * np.maximum(1.0, cand))
        lo[active], hi[active] = la, ha
        t[active] = np.where(zero, ta, cand)
        iterations[active[done]] = it
        converged[active[done]] = True
        active = active[~done]
    return t, iterations, converged


def _loglik(
    t: FloatArray, Y: FloatArray, V: FloatArray, mask: BoolArray, reml: bool
) -> FloatArray:
    """The (restricted) log-likelihood per row at ``t``, without the constants of a row."""
    vt = V + t[:, None]
    w = 1.0 / vt
    s = row_total(w)
    r = Y - (row_total(w * Y) / s)[:, None]
    ll: FloatArray = -0.5 * row_total(np.where(mask, np.log(vt), 0.0)) - 0.5 * row_total(w * r * r)
    return ll - 0.5 * np.log(s) if reml else ll


def _likelihood(
    Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control, reml: bool
) -> BatchTau2Fit:
    """ML or REML on every row: the global maximum of the likelihood, as the core finds it."""
    m = Y.shape[0]
    Yz, Vz, k = _prepare(Y, V, mask)
    mask = np.asarray(mask, dtype=bool)
    tau2 = np.where(k >= 1, 0.0, np.nan)
    se = np.full(m, np.nan)
    iterations = np.zeros(m, dtype=np.int64)
    converged = np.ones(m, dtype=bool)
    codes = np.zeros(m, dtype=np.int64)
    ambiguous = np.zeros(m, dtype=bool)
    fit_rows = np.flatnonzero(k >= 2)
    if fit_rows.size == 0:
        return BatchTau2Fit(tau2, se, iterations, converged, codes, ambiguous=ambiguous)
    Yf, Vf, Mf = Yz[fit_rows], Vz[fit_rows], mask[fit_rows]
    t_min, t_max, n, vmin, vmax, bound = _scan_bounds(Yf, Vf, Mf)
    kf = k[fit_rows]
    by_length = np.argsort(n, kind="stable")  # blocks of rows with grids of similar length
    Yt, Vt = Yf.T[:, by_length], Vf.T[:, by_length]
    # candidates: (row in fit_rows, tau2, iterations, converged)
    c_rows: list[IntArray] = []
    c_t: list[FloatArray] = []
    c_it: list[IntArray] = []
    c_ok: list[BoolArray] = []
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        start = 0
        while start < fit_rows.size:
            # grids of at most _SCAN_CELLS points (twice that where grid lengths change)
            block = max(1, _SCAN_CELLS // (int(n[by_length[start]]) + 1))
            width = int(n[by_length[min(fit_rows.size, start + block) - 1]]) + 1
            if width * block > 2 * _SCAN_CELLS:
                block = max(1, _SCAN_CELLS // width)
                width = int(n[by_length[min(fit_rows.size, start + block) - 1]]) + 1
            sl = slice(start, start + block)
            rel = by_length[sl]
            g = ScanGrid(t_min[rel], t_max[rel] / t_min[rel], n[rel])
            scores = scan_scores(
                g, width, Yt[:, sl], Vt[:, sl], vmin[rel], vmax[rel], bound[rel], kf[rel],
                reml, partial(_score_points, reml=reml),
            )  # fmt: skip
            start += block
            at_zero = scores[:, 0] <= 0.0
            c_rows.append(rel[at_zero])
            c_t.append(np.zeros(int(at_zero.sum())))
            c_it.append(np.zeros(int(at_zero.sum()), dtype=np.int64))
            c_ok.append(np.ones(int(at_zero.sum()), dtype=bool))
            r, i = np.nonzero((scores[:, :-1] > 0.0) & (scores[:, 1:] <= 0.0))
            # the scores at the ends of each bracket (the start of its refinement) again, row
            # by row: the scan's sums give their signs, but their last bits depend on the block
            lo, hi = g.at(r, i), g.at(r, i + 1)
            ends = np.concatenate([lo, hi])
            both = np.concatenate([rel[r], rel[r]])
            u = _score_slope(ends, Yf[both], Vf[both], reml)[0]
            scores[r, i], scores[r, i + 1] = u[: r.size], u[r.size :]
            exact = scores[r, i + 1] == 0.0
            c_rows.append(rel[r[exact]])
            c_t.append(hi[exact])
            c_it.append(np.zeros(int(exact.sum()), dtype=np.int64))
            c_ok.append(np.ones(int(exact.sum()), dtype=bool))
            r, i, lo, hi = r[~exact], i[~exact], lo[~exact], hi[~exact]
            t, it, ok = _refine(
                rel[r],
                lo,
                hi,
                scores[r, i],
                scores[r, i + 1],
                Yf,
                Vf,
                reml,
                control,
            )
            c_rows.append(rel[r])
            c_t.append(t)
            c_it.append(it)
            c_ok.append(ok)
        rows = np.concatenate(c_rows)
        cand_t = np.concatenate(c_t)
        cand_it = np.concatenate(c_it)
        cand_ok = np.concatenate(c_ok)
        # the score positive up to the bound only through rounding: the bound, not converged
        none = np.flatnonzero(np.bincount(rows, minlength=fit_rows.size) == 0)
        if none.size:
            last = t_min[none] * (t_max / t_min)[none] ** 1.0  # the last grid point
            rows = np.concatenate((rows, none))
            cand_t = np.concatenate((cand_t, last))
            cand_it = np.concatenate((cand_it, np.zeros(none.size, dtype=np.int64)))
            cand_ok = np.concatenate((cand_ok, np.zeros(none.size, dtype=bool)))
        counts = np.bincount(rows, minlength=fit_rows.size)
        # rows with several candidates: the first (in the core's order: 0, then by tau2) of
        # largest log-likelihood; a row with one candidate needs no likelihood
        several = counts[rows] > 1
        m_rows, m_t = rows[several], cand_t[several]
        ll = _loglik(m_t, Yf[m_rows], Vf[m_rows], Mf[m_rows], reml)
        order = np.lexsort((m_t, -ll, m_rows))
        m_rows, ll = m_rows[order], ll[order]
        first = np.ones(m_rows.size, dtype=bool)
        first[1:] = m_rows[1:] != m_rows[:-1]
        # a runner-up within rounding of the best: which one the core takes, rounding decides
        second = np.flatnonzero(~first[1:] & first[:-1]) + 1
        near = ll[second - 1] - ll[second] <= _TIE * (1.0 + np.abs(ll[second - 1]))
        ambiguous[fit_rows[m_rows[second[near]]]] = True
        # each row's chosen candidate: its only one, or the best of several
        chosen = np.concatenate([np.flatnonzero(~several), np.flatnonzero(several)[order][first]])
        best_rows, t_best = rows[chosen], cand_t[chosen]
        w = 1.0 / (Vf[best_rows] + t_best[:, None])
        if reml:
            s = row_total(w)
            pd = w * _others(w) / s[:, None]
            a = w * w / s[:, None]
            info = row_total(pd * pd) + row_total(a * _others(a))
        else:
            info = row_total(w * w)
        target = fit_rows[best_rows]
        tau2[target] = t_best
        se[target] = np.sqrt(2.0 / info)
        iterations[target] = cand_it[chosen]
        converged[target] = cand_ok[chosen]
        codes[fit_rows[counts > 1]] |= MULTIMODAL
    codes[~converged] |= NOT_CONVERGED
    return BatchTau2Fit(tau2, se, iterations, converged, codes, ambiguous=ambiguous)


def _ml(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Maximum likelihood on every row (:func:`msc_meta.tau2._ml`)."""
    return _likelihood(Y, V, mask, control, reml=False)


def _reml(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Restricted maximum likelihood on every row (:func:`msc_meta.tau2._reml`)."""
    return _likelihood(Y, V, mask, control, reml=True)


# --------------------------------------------------------------------------- Q equation


def _q_and_slope(t: FloatArray, Yt: FloatArray, Vt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Generalised Q and its slope term :math:`\\|Py\\|^2` per row at ``t``.

    ``Yt``, ``Vt`` are k x m, studies first: each sum over the studies is one pass over whole
    slabs, in study order for any number of rows (:func:`column_sum`).
    """
    w = np.add(Vt, t[None, :], order="C")
    np.reciprocal(w, out=w)
    r = Yt - column_dot(w, Yt) / column_sum(w)
    py = w * r
    return column_dot(py, r), column_dot(py, py)


def solve_q_columns(
    Yt: FloatArray,
    Vt: FloatArray,
    n_studies: IntArray,
    target: FloatArray,
    q: FloatArray,
    slopes: FloatArray,
    active: IntArray,
    control: Tau2Control,
) -> tuple[FloatArray, IntArray, BoolArray]:
    """Solve ``Q(τ²) = target`` for the rows ``active``, as :func:`msc_meta.tau2.solve_q_equation`.

    ``Yt``, ``Vt`` are k x m, studies first (effect 0 and variance +inf where absent),
    ``n_studies`` the studies present per row (the rounding band of
    :func:`~msc_meta.tau2.q_at_target`); ``q``
    and ``slopes`` are Q and :math:`\\|Py\\|^2` at τ² = 0 (:func:`_q_and_slope`, updated in
    place). Each row takes the one-row function's steps (Newton on 1/Q inside a bracket, else
    Newton on Q, else bisection) and stops by the same rule; rows that have stopped leave
    the iteration. Returns τ² (0 for the rows not active), the iterations and whether each
    row converged (a row whose slope is not positive has not).
    """
    m = Yt.shape[1]
    t = np.zeros(m)
    iterations = np.zeros(m, dtype=np.int64)
    converged = np.ones(m, dtype=bool)
    lo = np.zeros(m)
    hi = np.full(m, np.inf)
    for it in range(1, control.max_iter + 1):
        if active.size == 0:
            break
        ta, qa, slope, tg = t[active], q[active], slopes[active], target[active]
        stuck = (slope <= 0.0) | ~np.isfinite(slope)
        la, ha = lo[active], hi[active]
        cand = ta + qa * (qa - tg) / (tg * slope)
        out = ~((la < cand) & (cand < ha))
        cand[out] = (ta + (qa - tg) / slope)[out]
        out = ~((la < cand) & (cand < ha))
        cand[out] = 0.5 * (la[out] + ha[out])
        every = active.size == m  # every row, in order (active is increasing)
        qn, sn = _q_and_slope(cand, Yt if every else Yt[:, active], Vt if every else Vt[:, active])
        above = qn > tg
        lo[active] = np.where(above, cand, la)
        hi[active] = np.where(above, ha, cand)
        step = cand - ta
        done = np.abs(step) <= control.tol * np.maximum(1.0, cand)
        done |= q_at_target(qn, tg, n_studies[active])
        keep = ~stuck
        t[active[keep]] = cand[keep]
        q[active[keep]] = qn[keep]
        slopes[active[keep]] = sn[keep]
        iterations[active[stuck | done]] = it
        converged[active[stuck]] = False
        active = active[~(stuck | done)]
    if active.size:
        iterations[active] = control.max_iter
        converged[active] = False
    return t, iterations, converged


def _q_root(
    Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control, median: bool
) -> BatchTau2Fit:
    """Solve Q(τ²) = target on every row, as :func:`msc_meta.tau2.solve_q_equation`.

    The target is k - 1 (PM, EB) or the median of χ²(k - 1) (PMM); the SE is the core's
    :math:`\\sqrt{2k^2/(k-1)} / \\sum w_i`.
    """
    m = Y.shape[0]
    Yz, Vz, k = _prepare(Y, V, mask)
    Yt, Vt = np.ascontiguousarray(Yz.T), np.ascontiguousarray(Vz.T)
    df = (k - 1).astype(np.float64)
    tau2 = np.where(k >= 1, 0.0, np.nan)
    se = np.full(m, np.nan)
    codes = np.zeros(m, dtype=np.int64)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        target = special.chdtri(df, 0.5) if median else df
        q, slopes = _q_and_slope(np.zeros(m), Yt, Vt)
        active = np.flatnonzero((k >= 2) & ~(q <= target))
        t, iterations, converged = solve_q_columns(Yt, Vt, k, target, q, slopes, active, control)
        fit = np.flatnonzero(k >= 2)
        tau2[fit] = t[fit]
        w = 1.0 / (Vt[:, fit] + t[None, fit])
        kf = k[fit].astype(np.float64)
        se[fit] = np.sqrt(2.0 * kf * kf / (kf - 1.0)) / column_sum(w)
    codes[~converged] |= NOT_CONVERGED
    return BatchTau2Fit(tau2, se, iterations, converged, codes)


def _pm(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Paule-Mandel on every row (:func:`msc_meta.tau2._pm`)."""
    return _q_root(Y, V, mask, control, median=False)


def _pmm(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
    """Median-unbiased Paule-Mandel on every row (:func:`msc_meta.tau2._pmm`)."""
    return _q_root(Y, V, mask, control, median=True)


def _chunked(estimator: BatchTau2) -> BatchTau2:
    """The estimator run on chunks of rows (rows are independent): temporaries O(chunk)."""

    def run(Y: FloatArray, V: FloatArray, mask: BoolArray, control: Tau2Control) -> BatchTau2Fit:
        rows = max(1, _CHUNK // max(1, Y.shape[1]))
        if Y.shape[0] <= rows:
            return estimator(Y, V, mask, control)
        parts = [
            estimator(Y[i : i + rows], V[i : i + rows], mask[i : i + rows], control)
            for i in range(0, Y.shape[0], rows)
        ]
        return BatchTau2Fit(
            np.concatenate([p.tau2 for p in parts]),
            np.concatenate([p.se for p in parts]),
            np.concatenate([p.iterations for p in parts]),
            np.concatenate([p.converged for p in parts]),
            np.concatenate([p.codes for p in parts]),
            ambiguous=None
            if parts[0].ambiguous is None
            else np.concatenate([p.ambiguous for p in parts if p.ambiguous is not None]),
        )

    run.__doc__ = estimator.__doc__
    return run


#: The iterative estimators of :data:`msc_meta.tau2.ITERATIVE_METHODS`, vectorized over rows.
#: EB solves the Paule-Mandel equation (as in the core).
ITERATIVE_BATCH_METHODS: dict[str, BatchTau2] = {
    "ML": _chunked(_ml),
    "REML": _chunked(_reml),
    "EB": _chunked(_pm),
    "PM": _chunked(_pm),
    "PMM": _chunked(_pmm),
}
