"""Sensitivity analyses: refits of a pooled result on subsets of its studies.

Every refit goes through :meth:`MetaAnalysisResult.subset` (or that of
:class:`~msc_meta.results.BinaryPooledResult`), so it keeps every option of
the original fit (τ² method, test, level, ``tol``/``max_iter``, the zero-cell
options ``add``/``to``/``drop00``, MH's ``correct``, the measure and the study
sizes). Leave-one-out refits feed the leave-one-out table
(:func:`leave_one_out`, metafor's ``leave1out``), the influence diagnostics
(:func:`influence`, ``influence.rma.uni``) and the Baujat coordinates
(:func:`baujat`); cumulative meta-analysis (:func:`cumulative`, ``cumul``)
refits growing prefixes of the studies.

The refits of an inverse-variance result (:class:`MetaAnalysisResult`) are
fitted all at once by the batch engine (:func:`~msc_meta.meta_analysis_many`,
one row per subset, NaN for the studies left out), which gives what
``result.subset`` gives (to rounding) many times faster; rows it flags as not
converged, multimodal or not representable are refitted by ``result.subset``,
so every number is the core's. Mantel-Haenszel and Peto results, and results
without a fit specification, are refitted one subset at a time.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from tqdm import tqdm

from . import _format
from ._errors import BoundaryWarning, FewStudiesWarning, MetaAnalysisError, MetaAnalysisWarning
from .batch import FEW_STUDIES, ZERO_HK_FACTOR, meta_analysis_many
from .results import BinaryPooledResult, MetaAnalysisResult, Summary

__all__ = ["InfluenceResult", "baujat", "cumulative", "influence", "leave_one_out"]

PooledResult = MetaAnalysisResult | BinaryPooledResult
FloatArray = NDArray[np.float64]


BoolArray = NDArray[np.bool_]

#: Which studies each refit keeps: ``rows(start, stop)`` gives the masks of refits
#: ``start..stop-1`` (one row per refit, one column per study), built block by block.
SubsetRows = Callable[[int, int], BoolArray]

#: Bits of :attr:`BatchResult.codes <msc_meta.BatchResult>` on rows that the batch engine
#: fits exactly as :func:`~msc_meta.meta_analysis` does (k = 1: τ² = 0 and the z test;
#: Hartung-Knapp factor 0: a zero standard error). A row with any other bit (τ² not
#: converged, a multimodal likelihood, not representable) is refitted by ``result.subset``,
#: so that its numbers, or its failure, are the core's.
_BATCH_AS_CORE = FEW_STUDIES | ZERO_HK_FACTOR

#: Most cells (refits x studies) given to one :func:`~msc_meta.meta_analysis_many` call: the
#: k x k masks of leave-one-out at k in the thousands are built and fitted in blocks of rows,
#: so memory stays at a few arrays of this size (32 MiB each) whatever k.
REFIT_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True, eq=False)
class _Refits:
    """Refits of a result on subsets of its studies, one entry per refit.

    ``columns`` holds :data:`REFIT_COLUMNS` as arrays (``tau2`` is 0 for common-effect
    refits, as :func:`_tau2`); ``failed`` marks the refits that were not possible (a
    ``result.subset`` that raised), whose entries are NaN.
    """

    columns: dict[str, FloatArray]
    failed: BoolArray


def _without_each(k: int) -> SubsetRows:
    """Refit i keeps every study but study i (leave-one-out)."""
    return lambda start, stop: np.arange(k)[None, :] != np.arange(start, stop)[:, None]


def _prefixes(k: int) -> SubsetRows:
    """Refit j keeps the first j + 1 studies (cumulative)."""
    return lambda start, stop: np.arange(k)[None, :] <= np.arange(start, stop)[:, None]


def _leave_one_out(result: PooledResult) -> _Refits:
    """The result refitted without each study in turn (NaN where the refit fails).

    The refits' own warnings (k = 1, zero cells) are not shown, and a refit
    that raises (nothing left to pool, an undefined MH estimate) is marked
    ``failed``, as metafor's ``try()`` in ``leave1out`` and ``baujat``.
    """
    k = result.k
    if k < 2:
        return _Refits(_nan_columns(k), np.ones(k, dtype=bool))
    return _refits(result, k, _without_each(k), np.arange(k, dtype=np.intp))


def _nan_columns(n: int) -> dict[str, FloatArray]:
    return {c: np.full(n, np.nan) for c in REFIT_COLUMNS}


def _refits(result: PooledResult, n: int, rows: SubsetRows, pos: NDArray[np.intp]) -> _Refits:
    """``n`` refits of ``result`` on the studies ``pos[rows(i, i + 1)[0]]`` (see :class:`_Refits`).

    An inverse-variance result with a fit specification goes through the batch engine in
    blocks of :data:`REFIT_BLOCK_CELLS`; rows it does not fit as the core does, and every
    other result, go through ``result.subset`` one refit at a time.
    """
    spec = result.spec
    if isinstance(result, MetaAnalysisResult) and spec is not None:
        y = np.asarray(result.effect, dtype=np.float64)[pos]
        v = np.asarray(result.variance, dtype=np.float64)[pos]
        step = max(1, REFIT_BLOCK_CELLS // max(1, result.k))
        starts = range(0, n, step)
        columns = _nan_columns(n)
        redo: list[NDArray[np.intp]] = []
        try:
            for start in tqdm(starts, disable=len(starts) < 2, delay=2.0, leave=False):
                stop = min(n, start + step)
                keep = rows(start, stop)
                fits = meta_analysis_many(
                    np.where(keep, y, np.nan),
                    np.where(keep, v, np.nan),
                    method=spec.method,
                    test=spec.test,
                    level=spec.level,
                    progress=False,
                    **spec.solver_options(),
                )
                for c in REFIT_COLUMNS:
                    columns[c][start:stop] = getattr(fits, c)
                core = ~fits.converged | ((fits.codes & ~_BATCH_AS_CORE) != 0)
                redo.append(start + np.flatnonzero(core))
        except MetaAnalysisError:  # options the batch engine does not take: the core's path
            return _core_refits(result, range(n), rows, pos, _nan_columns(n), np.zeros(n, bool))
        failed = np.zeros(n, dtype=bool)
        return _core_refits(result, np.concatenate(redo), rows, pos, columns, failed)
    return _core_refits(result, range(n), rows, pos, _nan_columns(n), np.zeros(n, dtype=bool))


def _core_refits(
    result: PooledResult,
    which: Sequence[int] | NDArray[np.intp],
    rows: SubsetRows,
    pos: NDArray[np.intp],
    columns: dict[str, FloatArray],
    failed: BoolArray,
) -> _Refits:
    """Refits ``which`` through ``result.subset``, written into ``columns`` and ``failed``."""
    for row in which:
        i = int(row)
        fit = _quiet_subset(result, pos[rows(i, i + 1)[0]])
        failed[i] = fit is None
        for c in REFIT_COLUMNS:
            if fit is None:
                columns[c][i] = np.nan
            else:
                columns[c][i] = _tau2(fit) if c == "tau2" else float(getattr(fit, c))
    return _Refits(columns, failed)


def _quiet_subset(result: PooledResult, rows: NDArray[np.intp]) -> PooledResult | None:
    """``result.subset(rows)`` without its warnings; ``None`` where the refit raises."""
    with warnings.catch_warnings():
        # the refits' own warnings (k = 1, zero cells) are not the user's concern here
        warnings.simplefilter("ignore", MetaAnalysisWarning)
        try:
            fit: PooledResult = result.subset(rows)
        except MetaAnalysisError:
            return None
    return fit


def _tau2(result: PooledResult) -> float:
    """τ² of a random-effects model, 0 for common-effect models (MH and Peto too)."""
    if isinstance(result, MetaAnalysisResult) and result.is_random:
        return float(result.tau2)
    return 0.0


def baujat(result: PooledResult) -> pd.DataFrame:
    """Baujat coordinates: each study's contribution to Q and influence on the estimate.

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis.

    Returns
    -------
    pandas.DataFrame
        Columns ``study``, ``x`` (squared Pearson residual
        :math:`(y_i - \\hat\\mu)^2/(v_i + \\hat\\tau^2)`; for a common-effect
        model the study's contribution to Q) and ``y`` (influence:
        :math:`(\\hat\\mu_{(-i)} - \\hat\\mu)^2 / \\operatorname{Var}(\\hat\\mu_{(-i)})`,
        from the result refitted without study i by :meth:`~MetaAnalysisResult.subset`,
        with every option of the original fit).

    Warns
    -----
    BoundaryWarning
        A refit has standard error 0 (Hartung-Knapp with identical remaining
        effects): that study's ``y`` is NaN.

    Notes
    -----
    As metafor's ``baujat.rma``. Warnings of the refits (e.g. k = 1) are not
    shown, as metafor does; studies whose refit is not possible get NaN.

    References
    ----------
    .. [1] Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for
       exploring heterogeneity in meta-analyses: application to a
       meta-analysis of 65 trials. Stat Med 21(18):2641-2652.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="EE")
    >>> bj = baujat(res)
    >>> round(float(bj["x"].sum()), 6) == round(res.q, 6)
    True
    """
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    mu = float(result.estimate)
    x = (y - mu) ** 2 / (v + _tau2(result))
    fits = _leave_one_out(result)
    est = fits.columns["estimate"]
    var = fits.columns["se"] ** 2
    zero = var == 0.0
    if zero.any():
        names = ", ".join(repr(str(s)) for s, z in zip(result.labels, zero, strict=True) if z)
        warnings.warn(
            f"the influence of {names} on the estimate is undefined: without it the refitted "
            f"estimate has standard error 0 (test={getattr(result, 'test', 'z')!r} with "
            "identical remaining effects: Hartung-Knapp factor 0); its y is NaN. test='adhoc' "
            "or 'z' gives a positive standard error.",
            BoundaryWarning,
            stacklevel=3,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        infl = np.where(zero, np.nan, (est - mu) ** 2 / np.where(zero, 1.0, var))
    return pd.DataFrame({"study": [str(s) for s in result.labels], "x": x, "y": infl})


# --------------------------------------------------------------------------- leave-one-out, cumulative

#: The columns of :func:`leave_one_out` and :func:`cumulative`, in metafor's order (``tau2``
#: only for random-effects models, as metafor's ``leave1out`` and ``cumul``).
REFIT_COLUMNS = (
    "estimate",
    "se",
    "statistic",
    "pvalue",
    "ci_low",
    "ci_high",
    "q",
    "q_pvalue",
    "tau2",
    "i2",
    "h2",
)

#: Fewest studies for which leaving one out leaves a meta-analysis (two studies).
LOO_MIN_K = 3


def _columns(result: PooledResult) -> tuple[str, ...]:
    """The columns of the refit tables of ``result`` (no ``tau2`` for common-effect models)."""
    if _tau2_shown(result):
        return REFIT_COLUMNS
    return tuple(c for c in REFIT_COLUMNS if c != "tau2")


def _tau2_shown(result: PooledResult) -> bool:
    return isinstance(result, MetaAnalysisResult) and result.is_random


def _refit_table(result: PooledResult, fits: _Refits, labels: Sequence[str]) -> pd.DataFrame:
    """One row per refit (NaN where it failed), indexed by ``labels``."""
    columns = _columns(result)
    index = pd.Index([str(s) for s in labels], name="study")
    data = {c: np.asarray(fits.columns[c], dtype=np.float64) for c in columns}
    return pd.DataFrame(data, index=index, columns=list(columns), dtype=np.float64)


def _failed_note(labels: Sequence[str], fits: _Refits, what: str) -> str:
    names = ", ".join(repr(str(s)) for s, f in zip(labels, fits.failed, strict=True) if f)
    return f"{what} {names}: the refit is not possible (nothing or no estimate left); NaN row"


def leave_one_out(result: PooledResult) -> pd.DataFrame:
    """The meta-analysis refitted without each study in turn (metafor's ``leave1out``).

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis (inverse-variance, Mantel-Haenszel or Peto).

    Returns
    -------
    pandas.DataFrame
        One row per omitted study (its label as index ``study``), columns
        ``estimate, se, statistic, pvalue, ci_low, ci_high, q, q_pvalue, tau2,
        i2, h2`` of the refit without that study (``tau2`` only for
        random-effects models, as metafor), on the analysis scale. A refit
        that is not possible (no study left, an undefined MH estimate) gives a
        NaN row; ``frame.attrs["notes"]`` says which, and why.

    Warns
    -----
    FewStudiesWarning
        Fewer than 3 studies: leaving one out leaves at most one study, which
        says little about the others (also in ``frame.attrs["notes"]``).

    Notes
    -----
    Each refit is ``result.subset(...)``, so it keeps every option of the
    fit (τ² method, test, level, iteration control, zero-cell options); the
    refits' own warnings are not shown, as metafor's ``suppressWarnings``.

    References
    ----------
    .. [1] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3):1-48.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="DL")
    >>> loo = leave_one_out(res)
    >>> list(loo.index), round(float(loo.loc["Study 4", "estimate"]), 4)
    (['Study 1', 'Study 2', 'Study 3', 'Study 4'], 0.0327)
    """
    return _leave_one_out_frame(result, stacklevel=3)


def _leave_one_out_frame(result: PooledResult, *, stacklevel: int) -> pd.DataFrame:
    """:func:`leave_one_out`, warning at ``stacklevel`` (the user's line)."""
    notes: list[str] = []
    if result.k < LOO_MIN_K:
        notes.append(
            f"only k = {result.k} studies: leaving one out leaves at most one study "
            f"(leave-one-out needs k >= {LOO_MIN_K} to mean much)"
        )
        warnings.warn(f"leave_one_out: {notes[-1]}", FewStudiesWarning, stacklevel=stacklevel)
    fits = _leave_one_out(result)
    if fits.failed.any():
        notes.append(_failed_note(result.labels, fits, "without"))
    frame = _refit_table(result, fits, result.labels)
    frame.attrs["notes"] = tuple(notes)
    return frame


def influence_cutoffs(k: int, p: int = 1) -> dict[str, float]:
    """Metafor's cut-offs for flagging a study as influential (``influence.rma.uni``).

    A study is flagged when any of |DFFITS| > 3√(p/(k−p)), Cook's distance above the median
    of χ²ₚ, hat > 3p/k or |DFBETAS| > 1 holds (Viechtbauer & Cheung 2010).

    Parameters
    ----------
    k : int
        Number of studies.
    p : int, default 1
        Number of coefficients (1 without moderators).

    Returns
    -------
    dict of str to float
        The cut-offs of ``dffits``, ``cook_d``, ``hat`` and ``dfbetas``.

    References
    ----------
    .. [1] Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for
       meta-analysis. Res Synth Methods 1(2):112-125.

    Examples
    --------
    >>> {key: round(val, 4) for key, val in influence_cutoffs(13).items()}
    {'dffits': 0.866, 'cook_d': 0.4549, 'hat': 0.2308, 'dfbetas': 1.0}
    """
    return {
        "dffits": 3.0 * math.sqrt(p / (k - p)) if k > p else math.nan,
        "cook_d": float(stats.chi2.ppf(0.5, p)),
        "hat": 3.0 * p / k,
        "dfbetas": 1.0,
    }


def _cumulative_order(result: PooledResult, order: ArrayLike | str | None) -> NDArray[np.intp]:
    """Positions of the studies in the order they are added (see :func:`cumulative`)."""
    k = result.k
    if order is None:
        return np.arange(k, dtype=np.intp)
    if isinstance(order, str):
        if order == "precision":
            keys: NDArray[Any] = np.asarray(result.variance, dtype=float)
        else:
            data = result.study_data
            if data is None or order not in data.columns:
                have = [] if data is None else [str(c) for c in data.columns]
                raise MetaAnalysisError(
                    f"order={order!r} is neither 'precision' nor a column of the result's "
                    f"study data (columns: {', '.join(have) or 'none'}); give the values to "
                    f"order by as an array, one per study (e.g. order=data[{order!r}].to_numpy())"
                )
            keys = data[order].to_numpy()
            missing = np.flatnonzero(pd.isna(keys))
            if missing.size:
                i = int(missing[0])
                raise MetaAnalysisError(
                    f"order={order!r}: study_data[{order!r}][{i}] ({result.labels[i]!r}) is "
                    "missing; every study needs a value to be ordered by"
                )
        return np.argsort(keys, kind="stable").astype(np.intp)
    arr = np.asarray(order)
    if arr.ndim != 1 or arr.shape[0] != k:
        raise MetaAnalysisError(
            f"order has shape {arr.shape}; give one sort key or label per study (k = {k})"
        )
    if arr.dtype.kind in "OUS":
        labels = [str(s) for s in result.labels]
        wanted = [str(s) for s in arr]
        if sorted(wanted) != sorted(labels) or len(set(labels)) != k:
            raise MetaAnalysisError(
                "order: an array of labels must name every study once (the result's labels: "
                f"{', '.join(labels)})"
            )
        return np.array([labels.index(s) for s in wanted], dtype=np.intp)
    missing = np.flatnonzero(pd.isna(arr))
    if missing.size:
        raise MetaAnalysisError(
            f"order[{int(missing[0])}] is missing; every study needs a sort key"
        )
    return np.argsort(arr, kind="stable").astype(np.intp)


def cumulative(result: PooledResult, order: ArrayLike | str | None = None) -> pd.DataFrame:
    """Cumulative meta-analysis: the studies added one at a time (metafor's ``cumul``).

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis.
    order : str or array_like, optional
        The order in which studies are added: ``None`` (default) as given;
        ``"precision"``, by increasing sampling variance; the name of a column
        of ``result.study_data`` (e.g. a year), by its values; an array of
        sort keys, one per study, by its values (metafor's ``cumul(order=)``);
        or an array of the studies' labels, in that order. Ties keep the
        given order.

    Returns
    -------
    pandas.DataFrame
        Row j is the fit of the first j + 1 studies, indexed by the label of
        the study added last (``study``); the columns of
        :func:`leave_one_out`.

    Raises
    ------
    MetaAnalysisError
        ``order`` names no column, has the wrong length, a missing key, or
        labels that are not the studies'.

    Notes
    -----
    Each fit is ``result.subset(...)``, with every option of the original
    fit; its warnings (k = 1 for the first row) are not shown. The first row
    is the first study alone.

    References
    ----------
    .. [1] Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F,
       Chalmers TC (1992). Cumulative meta-analysis of therapeutic trials for
       myocardial infarction. N Engl J Med 327(4):248-254.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="EE")
    >>> cum = cumulative(res, order="precision")
    >>> list(cum.index)
    ['Study 4', 'Study 1', 'Study 3', 'Study 2']
    >>> bool(abs(cum["estimate"].iloc[-1] - res.estimate) < 1e-12)
    True
    """
    pos = _cumulative_order(result, order)
    fits = _refits(result, result.k, _prefixes(result.k), pos)
    labels = [result.labels[i] for i in pos]
    frame = _refit_table(result, fits, labels)
    frame.attrs["notes"] = (_failed_note(labels, fits, "up to"),) if fits.failed.any() else ()
    return frame


# --------------------------------------------------------------------------- influence

#: The columns of :meth:`InfluenceResult.to_frame`, metafor's names in msc_meta's style.
INFLUENCE_COLUMNS = (
    "rstudent",
    "dffits",
    "cook_d",
    "cov_r",
    "tau2_del",
    "q_del",
    "hat",
    "weight",
    "dfbetas",
    "influential",
)


@dataclass(frozen=True, eq=False)
class InfluenceResult:
    """Influence diagnostics of each study (metafor's ``influence.rma.uni``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per study (index ``study``), columns :data:`INFLUENCE_COLUMNS`.
    k : int
        Number of studies.
    tau2 : float
        τ² of the full fit.
    q : float
        Q of the full fit.
    notes : tuple of str
        Caveats (few studies, refits not possible).
    """

    table: pd.DataFrame
    k: int
    tau2: float
    q: float
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The diagnostics, one row per study (a copy).

        Returns
        -------
        pandas.DataFrame
            Columns ``rstudent, dffits, cook_d, cov_r, tau2_del, q_del, hat,
            weight, dfbetas, influential``; index ``study``.
        """
        return self.table.copy()

    @property
    def influential(self) -> tuple[str, ...]:
        """Labels of the studies flagged as influential by metafor's rule."""
        return tuple(str(s) for s in self.table.index[self.table["influential"].to_numpy()])

    def summary(self, digits: int = 4) -> Summary:
        """A printable summary: the rule, the flagged studies and the table.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            Printable text; ``_repr_html_`` in notebooks.
        """
        flagged = self.influential
        lines = (
            ("Studies (k)", _format.count(self.k)),
            ("tau^2", _format.number(self.tau2, digits)),
            ("Q", _format.number(self.q, digits)),
            ("Influential (*)", ", ".join(flagged) if flagged else "none"),
        )
        table = self.table.round(digits)
        table["influential"] = np.where(self.table["influential"], "*", "")
        rule = (
            "influential (*): |dffits| > 3 sqrt(p/(k - p)), or the chi-square(p) cdf of cook_d "
            "> 0.5, or hat > 3 p/k, or |dfbetas| > 1 (p = 1; metafor's rule)"
        )
        return Summary(
            title="Influence diagnostics (msc_meta)",
            lines=lines,
            table=table,
            notes=(*self.notes, rule),
            max_rows=None,
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __str__(self) -> str:
        return str(self.summary())

    def plot(self, axes: Any = None) -> Any:
        """One panel per diagnostic, influential studies marked (metafor's ``plot(influence(res))``).

        Parameters
        ----------
        axes : sequence of matplotlib.axes.Axes, optional
            Nine Axes to draw on; a new figure by default.

        Returns
        -------
        numpy.ndarray
            The Axes drawn on.
        """
        from .plots import influence_plot  # plots imports sensitivity

        return influence_plot(self, axes=axes)


def influence(result: MetaAnalysisResult) -> InfluenceResult:
    """Influence diagnostics of each study (metafor's ``influence.rma.uni``).

    Parameters
    ----------
    result : MetaAnalysisResult
        An inverse-variance meta-analysis (metafor has no influence
        diagnostics for MH and Peto fits).

    Returns
    -------
    InfluenceResult
        Per study: externally studentized residual ``rstudent``, ``dffits``,
        Cook's distance ``cook_d``, covariance ratio ``cov_r``, τ² and Q
        without the study (``tau2_del``, ``q_del``), ``hat`` value, ``weight``
        (%), ``dfbetas`` and the ``influential`` flag (metafor's rule).

    Raises
    ------
    MetaAnalysisError
        ``result`` is not an inverse-variance meta-analysis, or has one study.

    Warns
    -----
    FewStudiesWarning
        Fewer than 3 studies (also in the summary's notes).

    Notes
    -----
    With :math:`w_i = 1/(v_i + \\hat\\tau^2)`, :math:`h_i = w_i/\\sum w`, and
    :math:`\\hat\\mu_{(-i)}`, :math:`\\hat\\tau^2_{(-i)}`,
    :math:`\\operatorname{Var}(\\hat\\mu_{(-i)})` and the test's variance factor
    :math:`s^2_{(-i)}` of the refit without study i (1 for z and t tests):
    rstudent :math:`= (y_i - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{(-i)}(v_i +
    \\hat\\tau^2_{(-i)}) + \\operatorname{Var}(\\hat\\mu_{(-i)})}`; dffits
    :math:`= (\\hat\\mu - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{(-i)} h_i (v_i +
    \\hat\\tau^2_{(-i)})}`; Cook's distance :math:`= (\\hat\\mu -
    \\hat\\mu_{(-i)})^2 / \\operatorname{Var}(\\hat\\mu)`; cov_r :math:`=
    \\operatorname{Var}(\\hat\\mu_{(-i)}) / \\operatorname{Var}(\\hat\\mu)`;
    dfbetas :math:`= (\\hat\\mu - \\hat\\mu_{(-i)}) / \\sqrt{s^2_{(-i)} /
    \\sum_j 1/(v_j + \\hat\\tau^2_{(-i)})}`. A study is influential when
    :math:`|\\text{dffits}| > 3\\sqrt{p/(k-p)}`, the :math:`\\chi^2_p` cdf of
    its Cook's distance exceeds 0.5, :math:`h_i > 3p/k` or
    :math:`|\\text{dfbetas}| > 1` (p = 1). Refits keep every option of the
    fit (``result.subset``).

    References
    ----------
    .. [1] Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics
       for meta-analysis. Res Synth Methods 1(2):112-125.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5, 1.9], [0.04, 0.09, 0.05, 0.02, 0.03])
    >>> inf = influence(res)
    >>> inf.influential
    ('Study 5',)
    """
    return _influence(result, stacklevel=3)


def _influence(result: MetaAnalysisResult, *, stacklevel: int) -> InfluenceResult:
    """:func:`influence`, warning at ``stacklevel`` (the user's line)."""
    if not isinstance(result, MetaAnalysisResult):
        raise MetaAnalysisError(
            "influence() needs an inverse-variance meta-analysis (meta_analysis); MH and Peto "
            "fits have no influence diagnostics (as in metafor); use leave_one_out()"
        )
    k = result.k
    if k < 2:
        raise MetaAnalysisError("influence() needs at least 2 studies; the result has k = 1")
    notes: list[str] = []
    if k < LOO_MIN_K:
        notes.append(
            f"only k = {k} studies: each diagnostic rests on a refit of one study "
            f"(influence needs k >= {LOO_MIN_K} to mean much)"
        )
        warnings.warn(f"influence: {notes[-1]}", FewStudiesWarning, stacklevel=stacklevel)
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    tau2 = _tau2(result)
    w = 1.0 / (v + tau2)
    hat = w / w.sum()
    vb = result.se**2
    fits = _leave_one_out(result)
    if fits.failed.any():
        notes.append(_failed_note(result.labels, fits, "without"))
    mu_del = fits.columns["estimate"]
    vb_del = fits.columns["se"] ** 2
    tau2_del = fits.columns["tau2"]
    q_del = fits.columns["q"]
    keep = [np.arange(k) != i for i in range(k)]
    with np.errstate(divide="ignore", invalid="ignore"):
        # the test's variance factor of each refit, from its variance of the estimate
        s2w = np.array([vb_del[i] * np.sum(1.0 / (v[keep[i]] + tau2_del[i])) for i in range(k)])
        dfb = result.estimate - mu_del
        resid = y - mu_del
        resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
        rstudent = resid / np.sqrt(v * s2w + vb_del + tau2_del * s2w)
        dffits = dfb / np.sqrt(s2w * hat * (tau2_del + v))
        vb_all = np.array([1.0 / np.sum(1.0 / (v + t)) for t in tau2_del])
        dfbetas = dfb / np.sqrt(s2w * vb_all)
        cook = dfb**2 / vb
        cov_r = vb_del / vb
    cut = influence_cutoffs(k)
    flagged = (
        (np.abs(dffits) > cut["dffits"])
        | (cook > cut["cook_d"])
        | (hat > cut["hat"])
        | (np.abs(dfbetas) > cut["dfbetas"])
    )
    table = pd.DataFrame(
        {
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook,
            "cov_r": cov_r,
            "tau2_del": tau2_del,
            "q_del": q_del,
            "hat": hat,
            "weight": 100.0 * hat,
            "dfbetas": dfbetas,
            "influential": flagged,
        },
        index=pd.Index([str(s) for s in result.labels], name="study"),
    )
    return InfluenceResult(table=table, k=k, tau2=tau2, q=float(result.q), notes=tuple(notes))
