"""The ML/REML score on the core's scan grid, for many rows, evaluating only where it can change sign.

The core (:func:`msc_meta.tau2._likelihood`) evaluates the score of the (restricted)
log-likelihood at every point of a geometric grid of τ² (about ten per decade, from 1/64 of
the smallest sampling variance to a bound above which the score is negative) and refines every
sign change from + to -. The batch engine needs the same sign changes, row by row, but not the
score at every point: where bounds prove that the score keeps one sign over a stretch of the
grid, the points of that stretch are given that sign without being evaluated.

With :math:`A(\\tau^2) = Y'P^2Y` and :math:`B(\\tau^2) = \\operatorname{tr}P` (REML) or
:math:`\\sum_i w_i` (ML), the score is :math:`S = A - B` (Viechtbauer 2005), and:

- A and B are non-increasing in τ², because :math:`dP/d\\tau^2 = -P^2`;
- :math:`B(\\tau^2)(v_{min} + \\tau^2)` is non-decreasing: B is non-decreasing in every weight
  and homogeneous of degree one, and each weight falls by at most the factor of the smallest
  variance; also :math:`B \\ge (k - 1)\\,w_{min}` (REML: the k - 1 non-zero eigenvalues of P
  interlace the weights) or :math:`k\\,w_{min}` (ML);
- :math:`A \\le w_{max}\\,Q` with :math:`Q = Y'PY`, and :math:`Q(\\tau^2)(v_{max} + \\tau^2)`
  is non-increasing (a minimum over the mean of non-increasing sums).

So the score has the sign of S(0) on [0, c] when :math:`A(c) > B(0)` (or :math:`A(0) < B(c)`),
the bottom stretch below a quarter of the smallest variance, where the grid is densest and
the score changes least; and it is negative for every τ² above an evaluated point z with
:math:`S(z) < 0` once the bounds of the two bullets above, taken from z, meet (the top stretch).
Every bound keeps a margin of several times the rounding error of the score, so that the
core's own evaluation at any point of a stretch has the proven sign. Rows whose bounds do not
prove a stretch are evaluated at every point, as before.

The score itself is taken from power sums of the weights, five sums over the studies per
point; where its rounding bound does not decide the sign, the point is evaluated again in
the core's form (the ``careful`` function of :func:`scan_scores`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._batch_types import BoolArray, FloatArray, IntArray

#: ``careful(t, Yt, Vt)``: the score in the core's form at τ² ``t[i]`` of the row in column i
#: of the k x m studies-first arrays ``Yt``, ``Vt``.
ScorePoints = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]

#: The unit roundoff of double precision.
_EPS = float(np.finfo(np.float64).eps)
#: Above the bottom stretch, every _STRIDE-th grid point is evaluated first ...
_STRIDE = 2
#: ... _PASS of them per row in one pass.
_PASS = 4
#: Margin of the bounds, in units of the rounding bound of a score (see module docstring).
_MARGIN = 4.0


def _rounding(k: int) -> float:
    """A bound on the relative rounding error of a power sum of k terms and of its products."""
    return 16.0 * (k + 8) * _EPS


class _Sums:
    """The score and what its bounds need, at c x r points: c values of τ² for each of r rows.

    ``t`` is c x r; ``Yt``, ``Y2t`` (squared effects) and ``Vt`` are k x r, studies first, so
    that every product runs along the rows (contiguous) and every sum over the studies adds
    whole c x r slabs. Attributes (c x r): ``S`` (score), ``err`` (its rounding bound), ``A``,
    ``B``, ``Q`` and their rounding bounds ``eA``, ``eB``, ``eQ``.
    """

    def __init__(
        self, t: FloatArray, Yt: FloatArray, Y2t: FloatArray, Vt: FloatArray, reml: bool
    ) -> None:
        k = Yt.shape[0]
        add = np.add.reduce
        y, y2 = Yt[:, None, :], Y2t[:, None, :]
        W = np.add(Vt[:, None, :], t[None, :, :], order="C")
        np.reciprocal(W, out=W)
        s1 = add(W, axis=0)
        T = W * y
        sy = add(T, axis=0)
        np.multiply(W, y2, out=T)
        s1yy = add(T, axis=0)
        W *= W
        s2 = add(W, axis=0)
        np.multiply(W, y, out=T)
        s2y = add(T, axis=0)
        np.multiply(W, y2, out=T)
        s2yy = add(T, axis=0)
        g = _rounding(k)
        mu = sy / s1
        self.A = s2yy - 2.0 * mu * s2y + mu * mu * s2
        self.eA = g * (s2yy + 2.0 * np.abs(mu * s2y) + mu * mu * s2)
        self.Q = s1yy - mu * sy
        self.eQ = g * s1yy
        if reml:
            ratio = s2 / s1
            self.B = s1 - ratio
            self.eB = g * (s1 + ratio)
        else:
            self.B = s1
            self.eB = g * s1
        self.S = self.A - self.B
        self.err = self.eA + self.eB


def scan_scores(
    grid: FloatArray,
    n: IntArray,
    Yt: FloatArray,
    Vt: FloatArray,
    vmin: FloatArray,
    vmax: FloatArray,
    bound: FloatArray,
    k: IntArray,
    reml: bool,
    careful: ScorePoints,
) -> FloatArray:
    """The score at the grid points of b rows, or a number of its sign where it is proven.

    Parameters
    ----------
    grid : ndarray
        b x width: τ² = 0, then each row's ``n`` geometric points, NaN-padded.
    n : ndarray
        Geometric points per row.
    Yt, Vt : ndarray
        k x b effects (0 where absent) and variances (+inf where absent), studies first.
    vmin, vmax, bound : ndarray
        Per row: the smallest and largest variance present, and ``max(vmax, 4 range²)``,
        above which the score is negative (:func:`msc_meta.tau2._scan_grid`).
    k : ndarray
        Studies per row (at least 2).
    reml : bool
        REML (True) or ML.
    careful : callable
        ``careful(t, Yt, Vt)``: the score at τ² ``t[i]`` of the row in column i, in the core's
        form, for points whose sign the power sums leave in doubt.

    Returns
    -------
    ndarray
        b x width: the score at evaluated points; at points of a proven stretch, the score
        of the evaluated point that proves it (the same sign, so the same sign changes);
        NaN in the padding.
    """
    b, width = grid.shape
    kmax = Yt.shape[0]
    # studies first in memory too, so that each sum over the studies adds contiguous slabs
    Yt, Vt = np.ascontiguousarray(Yt), np.ascontiguousarray(Vt)
    Y2t = Yt * Yt
    scores = np.full((b, width), np.nan)
    rows = np.arange(b)
    last = n  # column of each row's last grid point
    g = _MARGIN * _rounding(kmax)

    def evaluate(r: IntArray, cols: IntArray) -> _Sums:
        """Scores at columns ``cols`` (r.size x c) of rows ``r``, stored; their sums returned."""
        t = np.take_along_axis(grid[r], cols, axis=1).T
        every = r.size == b
        sums = _Sums(
            t, Yt if every else Yt[:, r], Y2t if every else Y2t[:, r],
            Vt if every else Vt[:, r], reml,
        )  # fmt: skip
        S = sums.S
        j, i = np.nonzero(~(np.abs(S) > 2.0 * sums.err))
        if i.size:
            S = S.copy()
            at = r[i]
            S[j, i] = careful(t[j, i], Yt[:, at], Vt[:, at])
        scores[r[:, None], cols] = S.T
        return sums

    def evaluate_points(r: IntArray, cols: IntArray) -> None:
        """Scores at single points (row ``r[i]``, column ``cols[i]``), stored."""
        t = grid[r, cols][None, :]
        sums = _Sums(t, Yt[:, r], Y2t[:, r], Vt[:, r], reml)
        S = sums.S[0]
        doubt = np.flatnonzero(~(np.abs(S) > 2.0 * sums.err[0]))
        if doubt.size:
            S = S.copy()
            S[doubt] = careful(t[0, doubt], Yt[:, r[doubt]], Vt[:, r[doubt]])
        scores[r, cols] = S

    # τ² = 0 and the first point at or above a quarter of the smallest variance
    j0 = np.minimum(np.argmax(grid[:, 1:] >= 0.25 * vmin[:, None], axis=1) + 1, last)
    both = evaluate(rows, np.stack([np.zeros(b, np.int64), j0], axis=1))
    A, B, eA, eB = both.A.T, both.B.T, both.eA.T, both.eB.T
    scale = g * (A[:, 0] + B[:, 0])  # A and B are largest at 0
    up = A[:, 1] - eA[:, 1] - (B[:, 0] + eB[:, 0]) > scale
    down = A[:, 0] + eA[:, 0] - (B[:, 1] - eB[:, 1]) < -scale
    proven = (up | down) & (j0 > 1)
    for j in range(1, int(j0.max(initial=1))):
        fill = proven & (j < j0)
        scores[fill, j] = scores[fill, 0]
    # the rest of the bottom stretch where it is not proven
    todo = np.flatnonzero(~proven & (j0 > 1))
    if todo.size:
        span = int(j0[todo].max()) - 1
        cols = np.minimum(1 + np.arange(span)[None, :], (j0[todo] - 1)[:, None])
        evaluate(todo, cols)
    # upward from j0: every _STRIDE-th point, _PASS of them per pass; the points between two
    # evaluated ones take their sign where the bounds prove it, else are evaluated afterwards
    kk = (k - 1 if reml else k).astype(np.float64)
    cur = j0.copy()  # the last evaluated column
    prev = (both.A[1], both.B[1], both.eA[1], both.eB[1])  # A, B and their bounds there
    prev_a, prev_b, prev_ea, prev_eb = (np.asarray(x).copy() for x in prev)
    cells: list[tuple[IntArray, IntArray, IntArray, BoolArray]] = []  # row, lo, hi, proven
    active = np.flatnonzero(cur < last)
    steps = _STRIDE * np.arange(1, _PASS + 1)
    while active.size:
        cols = np.minimum(cur[active, None] + steps[None, :], last[active, None])
        sums = evaluate(active, cols)
        # each cell between consecutive evaluated points: one sign throughout if the bounds
        # from its ends (A, B non-increasing) prove it, with the margin of the largest values
        a = np.vstack([prev_a[active], sums.A])
        bb = np.vstack([prev_b[active], sums.B])
        ea = np.vstack([prev_ea[active], sums.eA])
        eb = np.vstack([prev_eb[active], sums.eB])
        margin = g * (a[:-1] + bb[:-1])
        pos = a[1:] - ea[1:] - (bb[:-1] + eb[:-1]) > margin
        neg = a[:-1] + ea[:-1] - (bb[1:] - eb[1:]) < -margin
        lo_col = np.vstack([cur[active], cols.T[:-1]])
        cells.append((np.broadcast_to(active, lo_col.shape), lo_col, cols.T, pos | neg))
        # the top stretch, from the last point evaluated in this pass
        z = grid[active, cols[:, -1]]
        a_up = (sums.A[-1] + sums.eA[-1]) * (1.0 + g)
        b_lo = (sums.B[-1] - sums.eB[-1]) * (1.0 - g)
        q_up = (sums.Q[-1] + sums.eQ[-1]) * (1.0 + g)
        lo, hi = vmin[active], vmax[active]
        kl = kk[active] * (1.0 - g)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # S < 0 on [z, reach): A(u) <= A(z) against the two lower bounds of B
            reach = np.maximum((lo + z) * b_lo / a_up - lo, kl / a_up - hi)
            # S < 0 on [tail, inf): A <= w_max Q(z) (vmax + z) / (vmax + u) against them
            tail = np.minimum(q_up * (hi + z) / (b_lo * (lo + z)) - hi, q_up * (hi + z) / kl - lo)
            tail = np.minimum(tail, bound[active])
            done_top = (a_up < b_lo) & (reach * (1.0 - g) >= tail)
        done = done_top | (cols[:, -1] >= last[active])
        for_fill = active[done_top]
        if for_fill.size:
            z_score = scores[for_fill, cols[done_top, -1]]
            beyond = np.arange(width)[None, :] > cols[done_top, -1][:, None]
            beyond &= np.arange(width)[None, :] <= last[for_fill, None]
            rr, cc = np.nonzero(beyond)
            scores[for_fill[rr], cc] = z_score[rr]
        cur[active] = cols[:, -1]
        prev_a[active], prev_b[active] = sums.A[-1], sums.B[-1]
        prev_ea[active], prev_eb[active] = sums.eA[-1], sums.eB[-1]
        active = active[~done]
    if cells:
        row = np.concatenate([c[0].ravel() for c in cells])
        lo_c = np.concatenate([c[1].ravel() for c in cells])
        hi_c = np.concatenate([c[2].ravel() for c in cells])
        proven = np.concatenate([c[3].ravel() for c in cells])
        wide = hi_c - lo_c > 1
        row, lo_c, hi_c, proven = row[wide], lo_c[wide], hi_c[wide], proven[wide]
        todo_r: list[IntArray] = []
        todo_c: list[IntArray] = []
        for o in range(1, _STRIDE):
            inside = lo_c + o < hi_c
            p = inside & proven
            scores[row[p], lo_c[p] + o] = scores[row[p], lo_c[p]]
            q = inside & ~proven
            todo_r.append(row[q])
            todo_c.append(lo_c[q] + o)
        r_todo, c_todo = np.concatenate(todo_r), np.concatenate(todo_c)
        if r_todo.size:
            evaluate_points(r_todo, c_todo)
    return scores
