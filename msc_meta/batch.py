"""Many meta-analyses at once: ``meta_analysis_many()`` and :class:`BatchResult`.

The batch engine fits m random-effects (or common-effect) meta-analyses in one
vectorized pass: simulation studies, subsets of studies, per-variant
meta-analysis of genome-wide summary statistics. Each row gives what
:func:`~msc_meta.meta_analysis` gives for it (to rounding); rows the vectorized
path cannot represent are fitted one at a time by the core, and rows that
cannot be fitted at all are flagged in ``codes``, never silently wrong.
"""

from __future__ import annotations

import html
import os
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special
from tqdm import tqdm

from ._batch_tau2 import (
    BATCH_TAU2_METHODS,
    COLUMN_ESTIMATORS,
    MOMENT_ESTIMATORS,
    batch_working_units,
    fixed_effect_columns,
    safe_cells,
    solve_q_rows,
    studies_first,
    weighted_fit_columns,
)
from ._batch_types import (
    MULTIMODAL,
    NOT_CONVERGED,
    BatchTau2Fit,
    BoolArray,
    FixedEffectRows,
    FloatArray,
    IntArray,
)
from ._errors import (
    BoundaryWarning,
    ConvergenceWarning,
    FewStudiesWarning,
    MetaAnalysisError,
    MultimodalLikelihoodWarning,
)
from ._inference import TESTS, canonical_test, chi2_sf_rows, critical_value, critical_values
from ._validation import check_level, check_number
from .pooling import meta_analysis
from .results import MetaAnalysisResult
from .tau2 import (
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    ITERATIVE_METHODS,
    Tau2Control,
    canonical_method,
)

#: Bit flags of :attr:`BatchResult.codes` (besides :data:`NOT_CONVERGED` = 1 and ``MULTIMODAL``
#: = 2 of the τ² fit). k = 1: no heterogeneity, the test falls back to z.
FEW_STUDIES = 4
#: The Hartung-Knapp variance factor is 0 (all effects identical): a zero-width interval.
ZERO_HK_FACTOR = 8
#: The Q-profile interval for τ² did not converge.
Q_PROFILE_NOT_CONVERGED = 16
#: The row cannot be represented in double precision (meta_analysis refuses it): all NaN.
NOT_REPRESENTABLE = 32

#: Default budget of array elements per chunk (each of the k x c work arrays, 1 MiB): small
#: enough that a chunk's work arrays stay in the per-core cache (L2, a few MiB) and peak memory
#: is a small multiple of the input; large enough that NumPy's cost per call (which holds the
#: GIL, so threads cannot share it) stays a small part of each call. Measured here (2 cores,
#: 1e6 x 10, DL): 2**17 took 0.21 s with 2 threads where 2**16 took 0.25 s.
CHUNK_ELEMENTS = 1 << 17

#: Held while the core refits one row and its warnings are recorded: ``warnings.catch_warnings``
#: changes process-wide state and is not thread-safe (Python < 3.14), so refits in several
#: threads (Dask blocks fitted by the threads of one worker) take turns. The vectorized rows,
#: which issue no warnings, run in parallel.
_REFIT_LOCK = threading.Lock()

#: Fields with one number per row, in the order of :meth:`BatchResult.to_frame`.
_SCALARS = (
    "estimate", "se", "ci_low", "ci_high", "statistic", "pvalue", "df", "tau2", "tau2_se",
    "i2", "h2", "q", "q_df", "q_pvalue", "pi_low", "pi_high", "k", "iterations", "converged",
    "codes", "ce_estimate", "ce_se", "ce_ci_low", "ce_ci_high",
)  # fmt: skip
_INTERVALS = ("tau2_ci", "i2_ci", "h2_ci")
#: The type of each field of :data:`_SCALARS` (the intervals are m x 2 float64).
_DTYPES: dict[str, type] = {
    name: np.int64 if name in ("q_df", "k", "iterations", "codes")
    else np.bool_ if name == "converged" else np.float64
    for name in _SCALARS
}  # fmt: skip


@dataclass(frozen=True)
class BatchResult:
    """Results of :func:`meta_analysis_many`: one entry per meta-analysis (row).

    The fields carry the names of :class:`~msc_meta.MetaAnalysisResult`, each a
    1-D array over the rows (the intervals of τ², I² and H² are m x 2). A field that is the
    same for every row whatever the data (``df`` under the z test, the intervals without
    ``q_profile``, ``k`` and ``q_df`` when every study of every row is present) is one
    read-only value broadcast to m rows, which takes no memory.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, statistic, pvalue : numpy.ndarray
        The pooled estimate, its standard error, confidence interval, test statistic and
        two-sided p-value.
    df : numpy.ndarray
        Degrees of freedom of t-based tests (NaN for z, and for rows with k = 1).
    tau2, tau2_se : numpy.ndarray
        τ² and its standard error (NaN where the method has none).
    tau2_ci, i2_ci, h2_ci : numpy.ndarray
        m x 2 Q-profile intervals (NaN unless ``q_profile=True`` and k >= 2).
    i2, h2, q, q_df, q_pvalue : numpy.ndarray
        I² (percent), H², Cochran's Q, its df and p-value.
    pi_low, pi_high : numpy.ndarray
        Prediction interval.
    k : numpy.ndarray
        Studies per row.
    iterations : numpy.ndarray
        Iterations of the τ² estimator (0 for closed forms).
    converged : numpy.ndarray
        Whether the τ² estimator converged: False where ``codes`` flags it as not converged
        (1) or the row as not representable (32, no fit).
    codes : numpy.ndarray
        Bit flags per row: 1 not converged, 2 multimodal likelihood, 4 k = 1 (test falls back
        to z), 8 Hartung-Knapp factor 0, 16 Q-profile not converged, 32 not representable
        (every number NaN; :func:`~msc_meta.meta_analysis` refuses the row).
    ce_estimate, ce_se, ce_ci_low, ce_ci_high : numpy.ndarray
        The common-effect estimate and its z interval.
    method, test : str
        Canonical τ² method and test codes.
    level : float
        Confidence level.
    effect, variance : numpy.ndarray
        The m x k inputs (NaN = absent), for :meth:`__getitem__`.
    groups : pandas.Index or None
        Group labels of a long DataFrame input (the rows' names in :meth:`to_frame`).
    tol, max_iter : float, int
        Convergence options.
    """

    estimate: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    statistic: FloatArray
    pvalue: FloatArray
    df: FloatArray
    tau2: FloatArray
    tau2_se: FloatArray
    tau2_ci: FloatArray
    i2_ci: FloatArray
    h2_ci: FloatArray
    i2: FloatArray
    h2: FloatArray
    q: FloatArray
    q_df: IntArray
    q_pvalue: FloatArray
    pi_low: FloatArray
    pi_high: FloatArray
    k: IntArray
    iterations: IntArray
    converged: BoolArray
    codes: IntArray
    ce_estimate: FloatArray
    ce_se: FloatArray
    ce_ci_low: FloatArray
    ce_ci_high: FloatArray
    method: str
    test: str
    level: float
    effect: FloatArray
    variance: FloatArray
    groups: pd.Index | None
    tol: float
    max_iter: int

    def __len__(self) -> int:
        return int(self.estimate.shape[0])

    def __getitem__(self, i: int) -> MetaAnalysisResult:
        """The full :func:`~msc_meta.meta_analysis` result of row ``i`` (a refit, same options).

        Parameters
        ----------
        i : int
            Row number (negative counts from the end).

        Returns
        -------
        MetaAnalysisResult
            The row fitted by :func:`~msc_meta.meta_analysis`.
        """
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"a BatchResult is indexed by one row number, not {type(i).__name__}")
        row = range(len(self))[i]
        present = ~np.isnan(self.effect[row]) & ~np.isnan(self.variance[row])
        return meta_analysis(
            self.effect[row][present],
            self.variance[row][present],
            method=self.method,
            test=self.test,
            level=self.level,
            tol=self.tol,
            max_iter=self.max_iter,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis, one column per field (intervals as ``*_low``/``*_high``).

        Returns
        -------
        pandas.DataFrame
            Indexed by the group labels of a long input, else 0..m-1.
        """
        cols: dict[str, Any] = {name: getattr(self, name) for name in _SCALARS}
        for name in _INTERVALS:
            ci = getattr(self, name)
            cols[f"{name}_low"], cols[f"{name}_high"] = ci[:, 0], ci[:, 1]
        return pd.DataFrame(cols, index=self.groups)

    def summary(self) -> str:
        """Counts of rows, of flagged rows, and the ranges of the main numbers.

        Returns
        -------
        str
            A few lines of plain text.
        """
        m = len(self)
        lines = [
            f"{m} meta-analyses (method {self.method}, test {self.test}, level {self.level:g}); "
            f"k from {int(self.k.min()) if m else 0} to {int(self.k.max()) if m else 0}",
            f"not converged: {int(((self.codes & NOT_CONVERGED) != 0).sum())}",
        ]
        for bit, name in (
            (FEW_STUDIES, "k = 1"),
            (ZERO_HK_FACTOR, "Hartung-Knapp factor 0"),
            (Q_PROFILE_NOT_CONVERGED, "Q-profile not converged"),
            (NOT_REPRESENTABLE, "not representable"),
        ):
            n = int(((self.codes & bit) != 0).sum())
            if n:
                lines.append(f"{name}: {n}")
        for name in ("estimate", "tau2", "i2"):
            x = getattr(self, name)
            if np.isfinite(x).any():
                lines.append(f"{name}: {np.nanmin(x):.4g} to {np.nanmax(x):.4g}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"


# --------------------------------------------------------------------------- inputs


def _as_2d(x: ArrayLike, name: str) -> FloatArray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetaAnalysisError(f"{name} cannot be read as an array of numbers") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise MetaAnalysisError(f"{name} must be 2-D (meta-analyses x studies); it is {a.ndim}-D")
    return a


def _check_cells(a: FloatArray, name: str, positive: bool, offset: int = 0) -> None:
    """Raise on the first infinite (or, if ``positive``, non-positive) cell, naming it.

    ``offset`` is the number of the first row of ``a`` in the whole input.
    """
    with np.errstate(invalid="ignore"):
        bad = np.isinf(a) | ((a <= 0.0) if positive else False)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        rule = "> 0 and finite" if positive else "finite"
        raise MetaAnalysisError(
            f"{name}[{offset + i}, {j}] = {a[i, j]:.6g} is not allowed; values must be {rule} "
            "(use NaN for an absent study)"
        )


def _check_squares(S: FloatArray, V: FloatArray) -> None:
    """Raise on the first standard error whose square is 0 or infinite in double precision."""
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(S) & ((V == 0.0) | np.isinf(V))
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise MetaAnalysisError(
            f"se[{i}, {j}] = {S[i, j]:.6g} is not allowed: its square, the variance, is "
            f"{'0' if V[i, j] == 0.0 else 'infinite'} in double precision (standard errors must "
            "lie between about 1e-154 and 1e154)"
        )


def _long_to_wide(
    data: pd.DataFrame, group: str, effect: str, variance: str
) -> tuple[FloatArray, FloatArray, pd.Index]:
    for arg, col in (("group", group), ("effect", effect), ("variance", variance)):
        if col not in data.columns:
            raise MetaAnalysisError(
                f"{arg}={col!r} is not a column of data; its columns are: "
                + ", ".join(map(str, data.columns))
            )
    codes, groups = pd.factorize(data[group], sort=False)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise MetaAnalysisError(f"data[{group!r}] is missing in row {i}; every row needs a group")
    pos = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    Y = np.full((len(groups), int(pos.max()) + 1 if len(pos) else 0), np.nan)
    V = Y.copy()
    Y[codes, pos] = pd.to_numeric(data[effect]).to_numpy(dtype=np.float64)
    V[codes, pos] = pd.to_numeric(data[variance]).to_numpy(dtype=np.float64)
    return Y, V, pd.Index(groups, name=group)


# --------------------------------------------------------------------------- main


def meta_analysis_many(
    effect: ArrayLike | str | None = None,
    variance: ArrayLike | str | None = None,
    *,
    se: ArrayLike | None = None,
    data: pd.DataFrame | None = None,
    group: str | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
    q_profile: bool = False,
    chunk_size: int | None = None,
    progress: bool | None = None,
    n_jobs: int | None = None,
) -> BatchResult:
    """Fit many meta-analyses at once, each as :func:`~msc_meta.meta_analysis` would.

    Parameters
    ----------
    effect : array-like or str, optional
        m x k effects, one meta-analysis per row, NaN for an absent study (rows may have
        different k); or, with ``data``, the name of its effect column.
    variance : array-like or str, optional
        m x k sampling variances (> 0), NaN where absent; or, with ``data``, a column name.
    se : array-like, optional
        m x k standard errors, instead of ``variance``.
    data : pandas.DataFrame, optional
        A long table: one study per line, with ``group``, ``effect`` and ``variance`` columns.
    group : str, optional
        The column of ``data`` naming each line's meta-analysis (rows in order of appearance).
    method : str, default "REML"
        τ² estimator, a code of :data:`msc_meta.tau2.TAU2_METHODS` (every one is vectorized).
    test : {"z", "t", "knha", "adhoc"}, default "z"
        Test of the pooled estimate, as in :func:`~msc_meta.meta_analysis`.
    level : float, default 0.95
        Confidence level in (0, 1).
    tol : float, default 1e-10
        Relative convergence threshold of iterative estimators and of the Q-profile search.
    max_iter : int, default 1000
        Iteration limit of the same searches.
    q_profile : bool, default False
        Also compute Q-profile intervals for τ², I² and H² (vectorized root finding).
    chunk_size : int, optional
        Rows per chunk; by default about 2**17 array elements per chunk, so peak memory is a
        small multiple of the input.
    progress : bool, optional
        Show a tqdm progress bar: True always, False never, None (default) when the run
        takes longer than 2 s.
    n_jobs : int, optional
        Threads that fit chunks at the same time (NumPy releases the GIL inside its loops);
        None (default) uses every core (:func:`os.cpu_count`), 1 fits the chunks one after
        the other in the calling thread. The numbers are the same, bit for bit, for every
        ``n_jobs`` and ``chunk_size``. Dask inputs ignore it: each block is fitted by one
        thread, and Dask runs the blocks in parallel.

    Returns
    -------
    BatchResult
        One entry per row, with the field names of :class:`~msc_meta.MetaAnalysisResult`,
        ``converged`` and ``codes`` (bit flags, see :class:`BatchResult`). For Dask arrays
        (chunked along rows) or a long Dask DataFrame, a lazy
        :class:`~msc_meta._batch_dask.DaskBatchResult` of the same fields as Dask arrays.

    Raises
    ------
    MetaAnalysisError
        Unknown or not yet vectorized method, unknown test, level outside (0, 1), arrays of
        different shapes, infinite values, non-positive variances, a row with no study,
        ``n_jobs`` not a positive integer.

    Notes
    -----
    Each row is centred and rescaled by powers of two as in
    :func:`~msc_meta.tau2.working_units`, and every formula of
    :func:`~msc_meta.meta_analysis` is applied to all rows of a chunk at once, with absent
    studies carrying weight 0. Rows that the core would refuse (numbers beyond double
    precision) are flagged ``NOT_REPRESENTABLE`` with NaN results; no warnings are issued per
    row, their conditions are in ``codes`` instead.

    References
    ----------
    .. [1] DerSimonian R, Laird N (1986). Meta-analysis in clinical trials.
       Control Clin Trials 7(3):177-188.
    .. [2] Viechtbauer W (2007). Confidence intervals for the amount of
       heterogeneity in meta-analysis. Stat Med 26(1):37-52.

    Examples
    --------
    >>> import numpy as np
    >>> import msc_meta as mm
    >>> y = np.array([[0.1, 0.3, 0.35, np.nan], [-0.2, 0.0, 0.4, 0.5]])
    >>> v = np.array([[0.01, 0.02, 0.015, np.nan], [0.03, 0.01, 0.02, 0.04]])
    >>> res = mm.meta_analysis_many(y, v, method="DL")
    >>> res.k.tolist(), res.estimate.round(4).tolist()
    ([3, 4], [0.2323, 0.1633])
    >>> round(res[1].estimate, 4)
    0.1633
    """
    jobs = _check_n_jobs(n_jobs)
    if any(hasattr(x, "__dask_graph__") for x in (effect, variance, se, data)):
        from ._batch_dask import meta_analysis_many_dask  # Dask only for a Dask input

        return meta_analysis_many_dask(
            effect, variance, se, data, group, method=method, test=test, level=level, tol=tol,
            max_iter=max_iter, q_profile=q_profile, chunk_size=chunk_size, progress=progress,
            n_jobs=1,  # one thread per block: Dask runs the blocks in parallel
        )  # fmt: skip
    groups = None
    if data is not None:
        if (
            not isinstance(group, str)
            or not isinstance(effect, str)
            or not isinstance(variance, str)
        ):
            raise MetaAnalysisError(
                "with data=, give group=, effect= and variance= as column names of data"
            )
        Y, V, groups = _long_to_wide(data, group, effect, variance)
    else:
        if effect is None or isinstance(effect, str):
            raise MetaAnalysisError("effect= must be an m x k array (or a column name with data=)")
        if (variance is None) == (se is None):
            raise MetaAnalysisError("give exactly one of variance= and se=")
        Y = _as_2d(effect, "effect")
        if se is not None:
            S = _as_2d(se, "se")
            _check_cells(S, "se", positive=True)
            with np.errstate(under="ignore", over="ignore"):
                V = S * S
            _check_squares(S, V)
        else:
            V = _as_2d(variance, "variance")  # type: ignore[arg-type]
    if Y.shape != V.shape:
        raise MetaAnalysisError(
            f"effect has shape {Y.shape} but {'se' if se is not None else 'variance'} has "
            f"shape {V.shape}; they must match (meta-analyses x studies)"
        )
    method_code = canonical_method(method)
    if method_code not in BATCH_TAU2_METHODS:
        raise MetaAnalysisError(
            f"method={method!r} is not vectorized in the batch engine yet; use one of "
            + ", ".join(BATCH_TAU2_METHODS)
        )
    test_code = canonical_test(test)
    level = check_level(level)
    tol = check_number(tol, "tol", low=0.0)
    max_iter = int(check_number(max_iter, "max_iter", integer=True, low=1, strict=False))
    control = Tau2Control(tol, max_iter)

    m, k_max = Y.shape
    step = max(1, CHUNK_ELEMENTS // max(1, k_max)) if chunk_size is None else chunk_size
    step = int(check_number(step, "chunk_size", integer=True, low=1, strict=False))
    starts = range(0, m, step)
    if m == 0:
        _chunk_mask(Y, V, 0)
    errors = np.geterr()  # the caller's floating-point error handling, for every thread
    # the whole result, allocated once; each chunk writes its rows of it (no second copy)
    out = _allocate(m, k_max, method_code, test_code, q_profile)
    masked: list[int] = []  # the chunks with an absent study (list.append is thread-safe)

    def fit(start: int) -> IntArray:
        """Check the chunk's cells (cheap reductions, cell by cell only if needed), fit it."""
        sl = slice(start, start + step)
        with np.errstate(**errors):
            mask = _chunk_mask(Y[sl], V[sl], start)
            o = {name: a[sl] for name, a in out.items()}
            if mask is None:  # k and q_df: written below, once every chunk is known
                del o["k"], o["q_df"]
            else:
                masked.append(start)
            todo = _fit_rows(
                Y[sl], V[sl], mask, method_code, test_code, level, control, q_profile, o
            )
        return start + todo

    refits: list[IntArray] = []
    jobs = min(jobs, len(starts))
    with (
        tqdm(
            total=len(starts),
            disable=progress is False or len(starts) < 2,
            delay=0.0 if progress else 2.0,
        ) as bar,
        ThreadPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool,
    ):
        # in order: the first bad cell of the input is the one reported
        for todo in _in_order(pool, jobs, fit, starts):
            refits.append(todo)
            bar.update(1)
    if m and not masked:  # every study of every row present: k and q_df are constants
        out["k"] = np.broadcast_to(np.int64(k_max), (m,))
        out["q_df"] = np.broadcast_to(np.int64(k_max - 1), (m,))
    else:
        for start in sorted(set(starts) - set(masked)):
            out["k"][start : start + step] = k_max
            out["q_df"][start : start + step] = k_max - 1
    # rows the vectorized path cannot represent, through the core in the calling thread (its
    # warnings are caught there: warnings.catch_warnings is not thread-safe)
    for i in np.concatenate(refits) if refits else ():
        present = ~np.isnan(Y[i]) & ~np.isnan(V[i])
        _fit_one(
            out, int(i), Y[i][present], V[i][present], method_code, test_code, level, control,
            q_profile,
        )  # fmt: skip
    return BatchResult(
        **out,
        method=method_code,
        test=test_code,
        level=level,
        effect=Y,
        variance=V,
        groups=groups,
        tol=tol,
        max_iter=max_iter,
    )


def _allocate(m: int, k_max: int, method: str, test: str, q_profile: bool) -> dict[str, Any]:
    """The arrays of the whole result, which each chunk fills with its rows.

    A field that is the same for every row whatever the data (``df`` under the z test, the
    Q-profile intervals when not asked for) is one read-only value broadcast to m rows: no
    memory, nothing to write (``k`` and ``q_df`` become so when every study of every row is
    present). ``codes`` and ``iterations`` start as zeros (pages the system maps on
    demand), so chunks whose rows are all 0 there write nothing. The other fields are
    written once per row.
    """
    out: dict[str, Any] = {}
    for name, dtype in _DTYPES.items():
        if name == "df" and test == "z":
            out[name] = np.broadcast_to(np.float64(np.nan), (m,))
        elif name in ("codes", "iterations", "k", "q_df"):
            out[name] = np.zeros(m, dtype)
        else:
            out[name] = np.empty(m, dtype)
    for name in _INTERVALS:
        out[name] = np.broadcast_to(np.nan, (m, 2)) if not q_profile else np.empty((m, 2))
    return out


def _check_n_jobs(n_jobs: object) -> int:
    """``n_jobs`` as a positive number of threads (None: every core)."""
    if n_jobs is None:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise MetaAnalysisError(
            f"n_jobs={n_jobs!r} is not allowed; it must be a positive whole number of threads "
            "(1 fits the chunks one after the other), or None for every core"
        )
    return int(n_jobs)


def _in_order(
    pool: ThreadPoolExecutor | None,
    jobs: int,
    fit: Callable[[int], IntArray],
    starts: range,
) -> Iterator[IntArray]:
    """The rows to refit of each chunk, in order, as the chunks are fitted.

    Without a pool they are fitted here, one after the other; with one, at most two chunks
    per thread are in flight, so their work arrays stay a small multiple of a chunk. A
    chunk's error (a bad cell) is raised when its turn comes, so the first in row order is
    the one reported.
    """
    todo = iter(starts)
    if pool is None:
        for start in todo:
            yield fit(start)
        return
    running: deque[Future[IntArray]] = deque()
    for start in todo:
        running.append(pool.submit(fit, start))
        if len(running) >= 2 * jobs:
            break
    while running:
        yield running.popleft().result()
        nxt = next(todo, None)
        if nxt is not None:
            running.append(pool.submit(fit, nxt))


def _chunk_mask(Y: FloatArray, V: FloatArray, offset: int) -> BoolArray | None:
    """The studies present in a chunk of rows, or None if all are and all are in safe bounds.

    Raises on infinite effects, non-positive or infinite variances and rows with no study,
    naming the cell or row (``offset`` is the chunk's first row in the whole input).
    """
    if safe_cells(Y, V):
        return None
    _check_cells(Y, "effect", positive=False, offset=offset)
    _check_cells(V, "variance", positive=True, offset=offset)
    mask = ~np.isnan(Y) & ~np.isnan(V)
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise MetaAnalysisError(
            f"row {offset + int(empty[0])} of effect has no study with both an effect and a "
            "variance; every meta-analysis needs at least one"
        )
    return mask


def _fit_rows(
    Y: FloatArray,
    V: FloatArray,
    mask: BoolArray | None,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
    q_profile: bool,
    o: dict[str, Any],
) -> IntArray:
    """Every number of :class:`BatchResult` for one chunk of rows, written into ``o``.

    ``o`` maps each field to its rows of the whole result (views, written once).
    ``mask`` None: every study is present and in the safe bounds of
    :func:`~msc_meta._batch_tau2.batch_working_units` (no masking, no rescaling passes).
    The sums over studies run on studies-first (k x c) arrays (:func:`~msc_meta._batch_scan.column_sum`), so a
    row gets the same bits in any chunk, masked or not. Returns the rows (numbered in the
    chunk) that the vectorized path cannot represent; the caller refits them by the core
    (:func:`_fit_one`).
    """
    m, k_max = Y.shape
    k = np.full(m, k_max, np.int64) if mask is None else np.count_nonzero(mask, axis=1)
    kf = k.astype(np.float64)
    one = k == 1
    any_one = bool(one.any())
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        # closed forms without Q-profile: no threshold depends on the scale of a row
        exact_scale = q_profile or method in ITERATIVE_METHODS
        moment = MOMENT_ESTIMATORS.get(method)
        units: tuple[FloatArray, FloatArray, BoolArray | None] | None = None
        if mask is None and not exact_scale:
            # every row in the safe bounds: unscaled and centred at its first effect, as
            # batch_working_units would, straight into the studies-first layout
            center = Y[:, 0].copy()
            Dt = np.subtract(Y.T, center, out=np.empty((k_max, m)))
            Vt, absent = V.T, None
            exponent, ok = np.zeros(m, np.int64), np.ones(m, np.bool_)
        else:
            Y_w, V_w, center, exponent, ok = batch_working_units(Y, V, mask, exact_scale)
            Dt, Vt, absent = studies_first(Y_w, V_w, mask)
            units = (Y_w, V_w, mask)
        Wt = np.reciprocal(Vt, out=np.empty(Dt.shape))  # studies first, as every sum needs
        column = COLUMN_ESTIMATORS.get(method)
        if moment is not None:
            fe = fixed_effect_columns(Dt, Wt, absent, pp=method != "EE")
            fit = moment(fe, kf)
        elif column is not None:
            fit = column(Dt, Vt, absent, kf)
            fe = fixed_effect_columns(Dt, Wt, absent)
        else:
            if units is None:  # the m x k working units the estimator takes
                units = (Y - center[:, None], V, mask)
            mask_ = np.ones((m, k_max), np.bool_) if mask is None else mask
            fit = BATCH_TAU2_METHODS[method](units[0], units[1], mask_, control)
            fe = fixed_effect_columns(Dt, Wt, absent) if fit.fixed is None else fit.fixed
        t_w = np.where(one, 0.0, fit.tau2) if any_one else fit.tau2
        # the random-effects fit: weights 1/(v + τ²), exactly 0 where absent (v = inf)
        Wt = np.add(Vt, t_w, out=np.empty(Dt.shape))
        np.reciprocal(Wt, out=Wt)
        sw, mu_w, rss = weighted_fit_columns(Dt, Wt, absent, rss=test in ("knha", "adhoc"))
        del Wt, Dt
        return _assemble(
            o, k, kf, one, any_one, t_w, fit, fe, sw, mu_w, rss, center, exponent, ok, method,
            test, level, control, q_profile, units,
        )  # fmt: skip


def _per_k(k: IntArray, value: Callable[[IntArray], FloatArray]) -> FloatArray:
    """``value(k)`` per row, computed once per distinct k (one value when k is constant)."""
    if k.size and k.min() == k.max():
        return np.full(k.shape, value(k[:1])[0])
    ks, inverse = np.unique(k, return_inverse=True)
    return np.asarray(value(ks), dtype=np.float64)[inverse.reshape(k.shape)]


def _assemble(
    o: dict[str, Any],
    k: IntArray,
    kf: FloatArray,
    one: BoolArray,
    any_one: bool,
    t_w: FloatArray,
    fit: BatchTau2Fit,
    fe: FixedEffectRows,
    sw: FloatArray,
    mu_w: FloatArray,
    rss: FloatArray | None,
    center: FloatArray,
    exponent: IntArray,
    ok: BoolArray,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
    q_profile: bool,
    units: tuple[FloatArray, FloatArray, BoolArray | None] | None,
) -> IntArray:
    """The fields of :class:`BatchResult` from the fits of a chunk, written into ``o``.

    Each output is computed into its slice of the whole result where NumPy allows
    (``out=``), so every number is written once. Returns the rows to refit by the core.
    """
    m = k.shape[0]
    spec = TESTS[test]
    z_crit = critical_value(level)
    # codes: the fit's flags; k = 1 rows are not fitted (τ² = 0), whatever the estimator said
    codes = fit.codes.copy()
    if not fit.converged.all():
        codes |= np.where(fit.converged, 0, NOT_CONVERGED)
    if any_one:
        codes[one] = FEW_STUDIES
    good = np.ones(m, np.bool_)  # rows that need no refit by the core
    # the variance of the estimate, the Hartung-Knapp factor, critical values
    var_w = np.reciprocal(sw)
    if rss is not None:
        factor = np.ones(m)  # the registry's rule, element by element; 1 for k = 1
        factor[~one] = spec.variance_factor(rss[~one], k[~one] - 1)
        codes |= np.where(factor == 0.0, ZERO_HK_FACTOR, 0)
        var_w *= factor
    if spec.uses_t:
        df = np.subtract(kf, 1.0, out=o["df"])
        crit: FloatArray | float = _per_k(k, lambda ks: critical_values(level, ks - 1))
        if any_one:
            df[one] = np.nan
            crit = np.where(one, z_crit, crit)
    else:  # df is NaN for every row (a constant field)
        crit = z_crit
    e1 = exponent if exponent.any() else None
    # the estimate, its SE, interval, test and prediction interval
    est, se = o["estimate"], o["se"]
    np.sqrt(var_w, out=se)
    pi_half = var_w
    pi_half += t_w
    np.sqrt(pi_half, out=pi_half)
    pi_half *= crit
    if e1 is not None:
        np.ldexp(mu_w, e1, out=mu_w)
        np.ldexp(se, e1, out=se)
        np.ldexp(pi_half, e1, out=pi_half)
    np.add(center, mu_w, out=est)
    half = np.multiply(se, crit, out=mu_w)
    np.subtract(est, half, out=o["ci_low"])
    np.add(est, half, out=o["ci_high"])
    np.subtract(est, pi_half, out=o["pi_low"])
    np.add(est, pi_half, out=o["pi_high"])
    # est / se is ±inf at a zero SE (NaN if est is 0 too), as the core's statistic
    stat = np.divide(est, se, out=o["statistic"])
    p = o["pvalue"]
    np.abs(stat, out=p)
    if spec.uses_t:
        uses_t = ~one
        a = -p
        p[uses_t] = special.stdtr(df[uses_t], a[uses_t])
        if any_one:
            p[one] = special.ndtr(a[one])
        p *= 2.0
    else:  # 2 Φ(-|z|) = erfc(|z| / √2): cephes computes ndtr by erfc (erf below |z| = 1)
        p *= np.sqrt(0.5)
        special.erfc(p, out=p)
    nan_stat = np.isnan(stat)
    if nan_stat.any():
        p[nan_stat] = 1.0
    # τ² and its SE (NaN where the method has none, and for k = 1)
    tau2, tau2_se = o["tau2"], o["tau2_se"]
    np.copyto(tau2, t_w)
    np.copyto(tau2_se, fit.se)
    if e1 is not None:
        e2 = 2 * e1
        np.ldexp(tau2, e2, out=tau2)
        np.ldexp(tau2_se, e2, out=tau2_se)
    if any_one:
        tau2_se[one] = np.nan
    # heterogeneity: Q, its p-value, I², H²
    q = np.maximum(fe.q, 0.0, out=o["q"])
    q_df = k - 1
    if any_one:
        q[one] = 0.0
    np.copyto(o["q_pvalue"], _q_pvalues(q, q_df))
    vt = np.divide(kf - 1.0, fe.trace_p)
    i2, h2 = o["i2"], o["h2"]
    if method == "EE":
        np.copyto(i2, np.where(q > 0.0, np.maximum(0.0, 100.0 * (q - q_df) / q), 0.0))
        np.divide(q, q_df, out=h2)
    else:
        np.add(vt, t_w, out=i2)
        np.divide(t_w, i2, out=i2)
        i2 *= 100.0
        np.divide(t_w, vt, out=h2)
        h2 += 1.0
    if any_one:
        i2[one] = 0.0
        h2[one] = 1.0
    # Q-profile intervals of τ², I², H²
    tau2_ci, i2_ci, h2_ci = o["tau2_ci"], o["i2_ci"], o["h2_ci"]
    if q_profile:
        assert units is not None  # Q-profile rows are in the working units of the core
        Y_w, V_w, mask = units
        mask = np.ones(Y_w.shape, np.bool_) if mask is None else mask
        ci_w = np.full((m, 2), np.nan)
        alpha = 1.0 - level
        rows = np.flatnonzero(~one)
        for j, tail in enumerate((alpha / 2, 1 - alpha / 2)):
            target = special.chdtri(q_df[rows], tail)
            root, conv = solve_q_rows(Y_w[rows], V_w[rows], mask[rows], target, control)
            ci_w[rows, j] = root
            codes[rows] |= np.where(conv, 0, Q_PROFILE_NOT_CONVERGED)
        np.copyto(i2_ci, 100.0 * ci_w / (vt[:, None] + ci_w))
        np.copyto(h2_ci, ci_w / vt[:, None] + 1.0)
        np.copyto(tau2_ci, ci_w if e1 is None else np.ldexp(ci_w, 2 * e1[:, None]))
    # (without q_profile the intervals are NaN for every row: constant fields)
    # the common-effect fit
    ce_est, ce_se = o["ce_estimate"], o["ce_se"]
    np.reciprocal(fe.sum_w, out=ce_se)
    np.sqrt(ce_se, out=ce_se)
    ce_w = fe.mean
    if e1 is not None:
        ce_w = np.ldexp(ce_w, e1)
        np.ldexp(ce_se, e1, out=ce_se)
    np.add(center, ce_w, out=ce_est)
    ce_half = np.multiply(ce_se, z_crit, out=ce_w if e1 is not None else None)
    np.subtract(ce_est, ce_half, out=o["ce_ci_low"])
    np.add(ce_est, ce_half, out=o["ce_ci_high"])
    # counts and convergence
    for name, value in (("k", k), ("q_df", q_df)):
        if name in o:  # else written by the caller (every study present)
            np.copyto(o[name], value)
    if fit.iterations.any():  # else the zeros the field starts with
        np.copyto(o["iterations"], np.where(one, 0, fit.iterations))
    np.logical_or(fit.converged, one, out=o["converged"])
    # rows whose numbers are not all finite go to the core: one sum carries any NaN or inf
    # (an overflow of the sum only sends a good row to the core, which gives its numbers)
    total = sw + est
    for name in ("se", "ci_low", "ci_high", "tau2", "pi_low", "pi_high", "ce_estimate", "ce_se"):
        total += o[name]
    total += q
    total += i2
    total += h2
    good &= ok
    good &= np.isfinite(total)
    good &= sw > 0.0
    if fit.ambiguous is not None:  # maxima tied to rounding: the core's search decides them
        good &= ~fit.ambiguous
    if codes.any():  # else the zeros the field starts with
        np.copyto(o["codes"], codes)
    return np.flatnonzero(~good).astype(np.int64)


def _q_pvalues(q: FloatArray, q_df: IntArray) -> FloatArray:
    """Upper-tail p-values of Q, 1 where df = 0 (k = 1); one vectorized call per df."""
    if q_df.size and q_df.min() == q_df.max():  # one k, one call
        return np.ones_like(q) if q_df[0] == 0 else chi2_sf_rows(q, int(q_df[0]))
    p = np.ones_like(q)
    for df in np.unique(q_df[q_df > 0]):
        rows = q_df == df
        p[rows] = chi2_sf_rows(q[rows], int(df))
    return p


def _fit_one(
    out: dict[str, Any],
    i: int,
    y: FloatArray,
    v: FloatArray,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
    q_profile: bool,
) -> None:
    """Row ``i`` through the core (numbers the vectorized path cannot represent)."""
    try:
        with _REFIT_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = meta_analysis(
                y, v, method=method, test=test, level=level, tol=control.tol,
                max_iter=control.max_iter,
            )  # fmt: skip
    except (MetaAnalysisError, ArithmeticError):  # the core refuses (or fails on) the row
        for col in out.values():
            if col.dtype.kind == "f" and col.flags.writeable:  # constant fields: as they are
                col[i] = np.nan
        # no fit, whatever the vectorized path had flagged: the same for every method
        out["codes"][i] = NOT_REPRESENTABLE
        out["converged"][i] = False
        out["iterations"][i] = 0
        return
    # the conditions meta_analysis warned about, as the vectorized rows flag them
    out["codes"][i] = _codes_of(caught, res.converged)
    for name in (*_SCALARS, *_INTERVALS):
        # constant fields (the same for every row, read-only) hold the core's value already
        if name in ("codes", "k") or not out[name].flags.writeable:
            continue
        value = getattr(res, name)
        out[name][i] = np.nan if value is None else value


def _codes_of(caught: list[warnings.WarningMessage], converged: bool) -> int:
    """The bits of ``codes`` for the warnings :func:`~msc_meta.meta_analysis` raised on a row."""
    code = 0 if converged else NOT_CONVERGED
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, FewStudiesWarning):
            code |= FEW_STUDIES
        elif issubclass(w.category, MultimodalLikelihoodWarning):
            code |= MULTIMODAL
        elif issubclass(w.category, BoundaryWarning) and text.startswith("Hartung-Knapp"):
            code |= ZERO_HK_FACTOR
        elif issubclass(w.category, ConvergenceWarning) and text.startswith("Q-profile"):
            code |= Q_PROFILE_NOT_CONVERGED
    return code
