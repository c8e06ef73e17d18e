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
the bottom stretch below a quarter of the smallest variance, where the score changes least
between neighbouring grid points; and it is negative for every τ² above an evaluated point z with
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
from dataclasses import dataclass

import numpy as np

from ._batch_types import FloatArray, IntArray

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


@dataclass(frozen=True)
class ScanGrid:
    """The core's scan grids of some rows (:func:`msc_meta.tau2._scan_grid`), computed where asked.

    Row i's grid is 0, then ``n[i]`` geometric points from ``t_min[i]`` to ``t_min[i] *
    ratio[i]``; column j >= 1 is ``t_min * ratio ** ((j - 1) / (n - 1))``, the same
    operations as the core's, so the same bits. The scan needs only a third of the points.
    """

    t_min: FloatArray
    ratio: FloatArray
    n: IntArray

    def at(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """τ² at columns ``cols`` of rows ``rows`` (arrays of one shape, or broadcast)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            steps = np.maximum(cols - 1, 0).astype(np.float64)
            t = self.t_min[rows] * self.ratio[rows] ** (steps / (self.n[rows] - 1))
        return np.asarray(np.where(cols == 0, 0.0, t), dtype=np.float64)

    def full(self, width: int) -> FloatArray:
        """Every row's whole grid, NaN-padded to ``width`` columns."""
        rows = np.arange(self.n.shape[0])[:, None]
        cols = np.arange(width)[None, :]
        return np.where(cols <= self.n[:, None], self.at(rows, cols), np.nan)

    def first_above(self, target: FloatArray) -> IntArray:
        """Per row, the first column >= 1 whose τ² is at least ``target`` (n if none is)."""
        rows = np.arange(self.n.shape[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            guess = 1.0 + np.ceil((self.n - 1) * np.log(target / self.t_min) / np.log(self.ratio))
        j = np.clip(np.nan_to_num(guess, nan=1.0), 1, self.n).astype(np.int64)
        for _ in range(2):  # the logarithms may be off by a column either way
            down = (j > 1) & (self.at(rows, j - 1) >= target)
            j = j - down
            up = (j < self.n) & (self.at(rows, j) < target)
            j = j + up
        return j


def others_columns(A: FloatArray) -> FloatArray:
    """``sum(A) - a_i`` per cell of a studies-first array ``A >= 0``, without cancellation.

    The studies-first :func:`msc_meta.tau2._others`: ``total - a_i`` loses at most a factor 2
    where ``a_i <= total / 2``; the one cell of a row above half its total gets the sum of the
    row's other cells, added up directly.
    """
    total = column_sum(A)
    out: FloatArray = total - A
    heavy = np.greater(A, 0.5 * total)
    if heavy.any():
        rest = column_sum(np.where(heavy, 0.0, A))
        np.copyto(out, np.broadcast_to(rest, A.shape), where=heavy)
    return out


def column_sum(a: FloatArray) -> FloatArray:
    """Sum over the studies of a studies-first (k x c, C-contiguous) array, one per row.

    Each row's sum is formed study by study, ``((a_0 + a_1) + a_2) + ...``, whatever the
    number of rows c, so a row gets the same bits in any chunk: NumPy reduces axis 0 of a
    k x c array by adding whole rows of c numbers in order (c >= 2); a single column would
    be summed pairwise, so it is added up here in the same order as the others. About
    twice as fast as a reduction along the short last axis of the m x k layout.
    """
    a = np.ascontiguousarray(a)  # (a no-op for the arrays of the batch engine)
    if a.shape[1] != 1:
        return np.asarray(np.add.reduce(a, axis=0), dtype=np.float64)
    out: FloatArray = a[0].copy()
    for j in range(1, a.shape[0]):
        out += a[j]
    return out


def _einsum_adds_rounded_products() -> bool:
    """Whether ``einsum`` rounds each product before adding it, as ``column_sum(a * b)`` does.

    Where NumPy's einsum kernels fuse the multiply and the add (``npyv_muladd`` is a fused
    multiply-add on ARM's NEON, and on x86 builds whose baseline has FMA3), a sum of products
    differs in its last bits from the sum of the rounded products. The probe's second
    product, (1 + 2^-27)², is 1 + 2^-26 + 2^-54: rounded, it cancels the first term
    exactly; fused, 2^-54 remains. Checked for 2 and 3 factors (the third in every place),
    on 67 columns (the vector loop and its tail).
    """
    c = 67
    x = 1.0 + 2.0**-27
    a = np.array([[-(1.0 + 2.0**-26)] * c, [x] * c])
    b = np.array([[1.0] * c, [x] * c])
    ones = np.ones_like(a)
    cases = [(a, b), (a, b, ones), (a, ones, b), (ones, a, b)]
    for factors in cases:
        spec = ",".join("kc" for _ in factors) + "->c"
        product = factors[0] * factors[1]
        for f in factors[2:]:
            product = product * f
        if not np.array_equal(np.einsum(spec, *factors), np.add.reduce(product, axis=0)):
            return False
    return True


#: Whether :func:`column_dot` may use ``einsum`` (no fused multiply-add in its kernels here).
_EINSUM_ROUNDS = _einsum_adds_rounded_products()


def column_dot(*factors: FloatArray) -> FloatArray:
    """``column_sum`` of the product of two or three studies-first arrays, without the product.

    The same bits as ``column_sum(a * b)`` or ``column_sum(a * b * c)`` (the product formed
    left to right, then the studies added in order): ``einsum`` walks the c columns in the
    inner loop and the studies in the outer one, adding each study's products to the
    running sums, in one pass and with no k x c temporary. A single column would be reduced
    in another order, and a NumPy whose einsum fuses multiply and add
    (:func:`_einsum_adds_rounded_products`) would round differently, so there the product
    is formed and added up by :func:`column_sum`.
    """
    arrays = [np.ascontiguousarray(f) for f in factors]
    if arrays[0].shape[1] == 1 or not _EINSUM_ROUNDS:
        product = arrays[0] * arrays[1]
        for f in arrays[2:]:
            product *= f
        return column_sum(product)
    spec = ",".join("kc" for _ in arrays) + "->c"
    return np.asarray(np.einsum(spec, *arrays), dtype=np.float64)


class _Sums:
    """The score and what its bounds need, at c x r points: c values of τ² for each of r rows.

    ``t`` is c x r; ``Yt``, ``Y2t`` (squared effects) and ``Vt`` are k x r, studies first, so
    that every sum over the studies runs over whole c x r slabs (``einsum``, which keeps one
    order of summation per point whatever c and r). Attributes (c x r): ``S`` (score),
    ``err`` (its rounding bound), ``A``, ``B`` and their rounding bounds ``eA``, ``eB``; and,
    for the last of the c values only (r), ``Q`` and its bound ``eQ``.
    """

    def __init__(
        self, t: FloatArray, Yt: FloatArray, Y2t: FloatArray, Vt: FloatArray, reml: bool
    ) -> None:
        k = Yt.shape[0]
        W = np.add(Vt[:, None, :], t[None, :, :], order="C")
        np.reciprocal(W, out=W)
        s1 = np.add.reduce(W, axis=0)
        sy = np.einsum("kcr,kr->cr", W, Yt)
        g = _rounding(k)
        # Q = Y'PY at the last value of each row (the bounds of the top stretch need it)
        s1yy = np.einsum("kr,kr->r", W[:, -1, :], Y2t)
        mu_last = sy[-1] / s1[-1]
        self.Q = s1yy - mu_last * sy[-1]
        self.eQ = g * s1yy
        W *= W
        s2 = np.add.reduce(W, axis=0)
        s2y = np.einsum("kcr,kr->cr", W, Yt)
        s2yy = np.einsum("kcr,kr->cr", W, Y2t)
        mu = sy / s1
        self.A = s2yy - 2.0 * mu * s2y + mu * mu * s2
        self.eA = g * (s2yy + 2.0 * np.abs(mu * s2y) + mu * mu * s2)
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
    grid: ScanGrid,
    width: int,
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
    grid : ScanGrid
        The grids of the b rows: τ² = 0, then each row's ``n`` geometric points.
    width : int
        Columns of the result (at least the largest ``n`` + 1).
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
        b x width: the score at evaluated points, NaN elsewhere (the points of proven
        stretches and cells, and the padding). Every point of a proven stretch or cell has
        the sign of the evaluated points at its ends, and the points of a cell not proven
        are evaluated, so the score changes sign between neighbouring grid points only where
        both are evaluated: the sign changes of this array (NaN compares false) are those of
        the full scan. :func:`filled` gives every point its proven sign.
    """
    b, n = grid.n.shape[0], grid.n
    # studies first in memory too, so that each sum over the studies adds contiguous slabs
    Yt, Vt = np.ascontiguousarray(Yt), np.ascontiguousarray(Vt)
    Y2t = Yt * Yt
    g = _MARGIN * _rounding(Yt.shape[0])
    scores = np.full((b, width), np.nan)
    last = n  # column of each row's last grid point

    def evaluate(r: IntArray, cols: IntArray, every: bool = False) -> _Sums:
        """Scores at columns ``cols`` (r.size x c) of rows ``r``, stored; their sums returned.

        ``every``: ``r`` is every row in order (no copies of the rows' studies).
        """
        t = grid.at(r[:, None], cols).T
        sums = _Sums(
            t, Yt if every else Yt[:, r], Y2t if every else Y2t[:, r],
            Vt if every else Vt[:, r], reml,
        )  # fmt: skip
        S = sums.S
        j, i = np.nonzero(~(np.abs(S) > 2.0 * sums.err))
        if i.size:  # the sign is in doubt: the core's form decides
            S = S.copy()
            at = r[i]
            S[j, i] = careful(t[j, i], Yt[:, at], Vt[:, at])
        scores[r[:, None], cols] = S.T
        return sums

    # τ² = 0 and the first point at or above a quarter of the smallest variance: the bottom
    # stretch between them has the sign of S(0) if A(c) > B(0) or A(0) < B(c)
    j0 = grid.first_above(0.25 * vmin)
    rows = np.arange(b)
    both = evaluate(rows, np.stack([np.zeros(b, np.int64), j0], axis=1), every=True)
    A, B, eA, eB = both.A, both.B, both.eA, both.eB
    margin = g * (A[0] + B[0])  # A and B are largest at 0
    up = A[1] - eA[1] - (B[0] + eB[0]) > margin
    down = A[0] + eA[0] - (B[1] - eB[1]) < -margin
    bottom = up | down
    # upward from j0 (from τ² = 0 where the bottom stretch is not proven): every _STRIDE-th
    # point, _PASS of them per pass, until the top stretch is proven; a point between two
    # evaluated ones has their sign if the bounds from the two (A and B non-increasing) prove
    # it, else it is evaluated after the passes
    kk = (k - 1 if reml else k).astype(np.float64)
    cur = np.where(bottom, j0, 0)  # the last evaluated column
    prev = [np.where(bottom, x[1], x[0]) for x in (A, B, eA, eB)]  # A, B and bounds there
    doubt_r: list[IntArray] = []
    doubt_c: list[IntArray] = []
    active = np.flatnonzero(cur < last)
    steps = _STRIDE * np.arange(1, _PASS + 1)
    while active.size:
        cols = np.minimum(cur[active, None] + steps[None, :], last[active, None])
        sums = evaluate(active, cols)
        a = np.concatenate([prev[0][None, active], sums.A])
        bb = np.concatenate([prev[1][None, active], sums.B])
        ea = np.concatenate([prev[2][None, active], sums.eA])
        eb = np.concatenate([prev[3][None, active], sums.eB])
        margin = g * (a[:-1] + bb[:-1])
        proven = a[1:] - ea[1:] - (bb[:-1] + eb[:-1]) > margin  # positive throughout
        proven |= a[:-1] + ea[:-1] - (bb[1:] - eb[1:]) < -margin  # negative throughout
        lo_col = np.concatenate([cur[None, active], cols.T[:-1]])
        for o in range(1, _STRIDE):
            ci, ri = np.nonzero(~proven & (lo_col + o < cols.T))
            doubt_r.append(active[ri])
            doubt_c.append(lo_col[ci, ri] + o)
        # the top stretch, from the last point evaluated in this pass
        z = grid.at(active, cols[:, -1])
        a_up = (sums.A[-1] + sums.eA[-1]) * (1.0 + g)
        b_lo = (sums.B[-1] - sums.eB[-1]) * (1.0 - g)
        q_up = (sums.Q + sums.eQ) * (1.0 + g)
        lo, hi = vmin[active], vmax[active]
        kl = kk[active] * (1.0 - g)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # S < 0 on [z, reach): A(u) <= A(z) against the two lower bounds of B
            reach = np.maximum((lo + z) * b_lo / a_up - lo, kl / a_up - hi)
            # S < 0 on [tail, inf): A <= w_max Q(z) (vmax + z) / (vmax + u) against them
            tail = np.minimum(q_up * (hi + z) / (b_lo * (lo + z)) - hi, q_up * (hi + z) / kl - lo)
            tail = np.minimum(tail, bound[active])
            top = (a_up < b_lo) & (reach * (1.0 - g) >= tail)
        cur[active] = cols[:, -1]
        for x, y in zip(prev, (sums.A, sums.B, sums.eA, sums.eB), strict=True):
            x[active] = y[-1]
        active = active[~top & (cur[active] < last[active])]
    r_doubt, c_doubt = np.concatenate(doubt_r or [rows[:0]]), np.concatenate(doubt_c or [rows[:0]])
    if r_doubt.size:
        evaluate(r_doubt, c_doubt[:, None])
    return scores


def filled(scores: FloatArray, n: IntArray) -> FloatArray:
    """:func:`scan_scores`' scores with every grid point given the proven sign.

    A point not evaluated takes the score of the last evaluated point before it (the proven
    stretches and cells); the padding beyond each row's ``n`` + 1 points stays NaN.
    """
    width = scores.shape[1]
    at = np.where(np.isnan(scores), 0, np.arange(width)[None, :])
    np.maximum.accumulate(at, axis=1, out=at)
    out: FloatArray = np.take_along_axis(scores, at, axis=1)
    out[np.arange(width)[None, :] > n[:, None]] = np.nan
    return out
