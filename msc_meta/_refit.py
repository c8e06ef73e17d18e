"""The fit specification a pooled result keeps, and its ``subset`` and ``refit``.

:class:`FitSpec` records what a result was fitted from and how; the result
classes of :mod:`msc_meta.results` take ``subset`` and ``refit`` from
:class:`_Refittable`, which fit again through the same public function
(:func:`~msc_meta.meta_analysis`, :func:`~msc_meta.mantel_haenszel`,
:func:`~msc_meta.peto`), so every warning, note and check is that of a fresh
fit. Refits on subsets of studies (leave-one-out, cumulative, influence)
build on this, in :mod:`msc_meta.sensitivity`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ._errors import MetaAnalysisError
from .effects import EffectSizes

__all__ = ["REFIT_OPTIONS", "TABLE_COLUMNS", "FitSpec"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

FitKind = Literal["inverse-variance", "mantel-haenszel", "peto"]

#: The options :meth:`MetaAnalysisResult.refit` and :meth:`BinaryPooledResult.refit`
#: accept, by pooling kind (each a keyword of the function that fitted the result).
REFIT_OPTIONS: dict[str, tuple[str, ...]] = {
    "inverse-variance": ("method", "test", "level", "tol", "max_iter"),
    "mantel-haenszel": ("measure", "level", "add", "to", "drop00", "correct"),
    "peto": ("level", "add", "to", "drop00"),
}

#: The arm counts of a 2x2 table, as :func:`msc_meta.mantel_haenszel` takes them.
TABLE_COLUMNS = ("events_t", "n_t", "events_c", "n_c")


@dataclass(frozen=True, eq=False)
class FitSpec:
    """What a pooled result was fitted from, and how: enough to fit it again.

    Kept by every pooled result (``result.spec``); :meth:`MetaAnalysisResult.subset`
    and :meth:`MetaAnalysisResult.refit` (and those of :class:`BinaryPooledResult`)
    call ``fitter``, the public function that made the result, with these
    inputs and options, so a refit gives every warning, note and check of a
    fresh fit. The per-study inputs are those given, including studies left
    out for missing values; ``kept`` says which of them the result pooled.

    Attributes
    ----------
    kind : {"inverse-variance", "mantel-haenszel", "peto"}
        The pooling.
    fitter : callable
        The public function that fitted the result (:func:`~msc_meta.meta_analysis`,
        :func:`~msc_meta.mantel_haenszel` or :func:`~msc_meta.peto`).
    measure : str or None
        The effect-size measure.
    method : str
        τ² estimator code, ``"MH"`` or ``"Peto"``.
    test : str
        Test of the pooled estimate as requested (``"z"`` for MH and Peto).
    level : float
        Confidence level.
    labels : tuple of str
        Labels of every study given.
    kept : numpy.ndarray
        Positions (in the inputs) of the pooled studies, in the order of the
        result's rows.
    effect : numpy.ndarray or None
        Effects of every study given (inverse-variance only).
    variance : numpy.ndarray or None
        Their sampling variances (inverse-variance only).
    n_total : numpy.ndarray or None
        Study sizes of every study given (the PFT back-transform needs them).
    study_data : pandas.DataFrame or None
        Arm data of every study given: the 2x2 counts for MH and Peto, the
        arguments of :func:`~msc_meta.effect_sizes` otherwise (when known).
    tol : float or None
        Convergence tolerance of the iterative estimators (inverse-variance only).
    max_iter : int or None
        Their iteration limit (inverse-variance only).
    add : float or None
        Zero-cell correction of the study-level effects (MH and Peto only).
    to : str or None
        Which tables receive ``add`` (MH and Peto only).
    drop00 : bool or None
        Whether double-zero studies leave the study-level effects (MH and Peto only).
    correct : bool or None
        Continuity correction of the Cochran-Mantel-Haenszel test (MH only).
    """

    kind: FitKind
    fitter: Callable[..., Any]
    measure: str | None
    method: str
    test: str
    level: float
    labels: tuple[str, ...]
    kept: IntArray
    effect: FloatArray | None = None
    variance: FloatArray | None = None
    n_total: FloatArray | None = None
    study_data: pd.DataFrame | None = None
    tol: float | None = None
    max_iter: int | None = None
    add: float | None = None
    to: str | None = None
    drop00: bool | None = None
    correct: bool | None = None

    def options(self) -> dict[str, Any]:
        """The options of the fit, as keywords of ``fitter`` (see :data:`REFIT_OPTIONS`).

        Returns
        -------
        dict
            Option name to value.
        """
        return {name: getattr(self, name) for name in REFIT_OPTIONS[self.kind]}

    def solver_options(self) -> dict[str, Any]:
        """``tol`` and ``max_iter`` as given to the fit (unset ones left out), for refits elsewhere.

        Returns
        -------
        dict
            The iteration options the user set, so that a refit by another engine (the
            batch engine of ``gosh`` and the leave-one-out family) uses its own defaults,
            which are the core's, for the others.
        """
        return {
            name: getattr(self, name)
            for name in ("tol", "max_iter")
            if getattr(self, name) is not None
        }

    def fit(self, rows: IntArray | None = None, **changes: Any) -> Any:
        """Call ``fitter`` on the inputs (or the input ``rows``) with the options and ``changes``.

        Parameters
        ----------
        rows : numpy.ndarray, optional
            Positions in the inputs of the studies to fit; all of them by default.
        **changes
            Options replacing those of the fit (names of :data:`REFIT_OPTIONS`).

        Returns
        -------
        MetaAnalysisResult or BinaryPooledResult
            The new fit. Its warnings are those of a fresh fit, shown as coming from the
            line that called ``subset`` or ``refit``.
        """
        take = np.arange(len(self.labels)) if rows is None else rows
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = self._call(take, {**self.options(), **changes})
        for w in caught:  # fit -> subset/refit -> the user's line
            warnings.warn(w.message, w.category, stacklevel=3)
        return result

    def _call(self, take: IntArray, opts: dict[str, Any]) -> Any:
        """The public fitting function on the studies ``take`` with the options ``opts``."""
        labels = [self.labels[i] for i in take]
        if self.kind == "inverse-variance":
            assert self.effect is not None and self.variance is not None
            frame = EffectSizes({"study": labels})
            frame["effect"] = self.effect[take]
            frame["variance"] = self.variance[take]
            frame.measure = cast(str, self.measure)
            frame.n_total = cast(FloatArray, None if self.n_total is None else self.n_total[take])
            frame.zero_cell_studies = ()
            frame.study_data = cast(pd.DataFrame, _rows(self.study_data, take))
            return self.fitter(frame, **opts)
        cells = cast(pd.DataFrame, _rows(self.study_data, take))
        counts = {c: cells[c].to_numpy(dtype=np.float64) for c in TABLE_COLUMNS}
        return self.fitter(**counts, labels=labels, **opts)  # MH takes measure= among opts


def _rows(frame: pd.DataFrame | None, take: IntArray) -> pd.DataFrame | None:
    """Rows ``take`` of ``frame`` (positions), renumbered from 0."""
    return None if frame is None else frame.iloc[take].reset_index(drop=True)


def _positions(mask: ArrayLike, k: int) -> IntArray:
    """Positions of the studies selected by a boolean mask or integer positions."""
    arr = np.asarray(mask)
    if arr.ndim != 1:
        raise MetaAnalysisError(
            f"mask must be one-dimensional (a boolean mask of length k = {k} or integer "
            f"positions); it has shape {arr.shape}"
        )
    if arr.dtype == np.bool_:
        if arr.shape[0] != k:
            raise MetaAnalysisError(
                f"mask has {arr.shape[0]} values but the result has k = {k} studies; give a "
                "boolean mask with one value per study, or integer positions"
            )
        pos = np.flatnonzero(arr)
    elif arr.size == 0 or np.issubdtype(arr.dtype, np.integer):
        pos = arr.astype(np.intp)
        bad = pos[(pos < 0) | (pos >= k)]
        if bad.size:
            raise MetaAnalysisError(
                f"mask[{int(np.flatnonzero((pos < 0) | (pos >= k))[0])}] = {int(bad[0])} is not a "
                f"position of a study; positions run from 0 to {k - 1} (k = {k})"
            )
        if np.unique(pos).size != pos.size:
            raise MetaAnalysisError("mask repeats a position; give each study at most once")
    else:
        raise MetaAnalysisError(
            f"mask has dtype {arr.dtype}; give a boolean mask of length k = {k} or integer "
            "positions"
        )
    if pos.size < 1:
        raise MetaAnalysisError("mask selects no study; at least one study must be left to fit")
    return pos


class _Refittable:
    """``subset`` and ``refit``, shared by the pooled-result classes."""

    spec: FitSpec | None
    k: int

    def _spec(self) -> FitSpec:
        if self.spec is None:
            raise MetaAnalysisError(
                "this result has no fit specification (spec is None: it was not made by "
                "meta_analysis, mantel_haenszel or peto), so it cannot be refitted"
            )
        return self.spec

    def subset(self, mask: ArrayLike) -> Any:
        """The same analysis of some of the pooled studies.

        Parameters
        ----------
        mask : array_like of bool or int
            A boolean mask with one value per pooled study (in the order of
            ``labels``), or the integer positions of the studies to keep.

        Returns
        -------
        MetaAnalysisResult or BinaryPooledResult
            A fresh fit of the selected studies by the same function with the
            same options (method, test, level, iteration control, zero-cell
            options, measure, study sizes and arm data).

        Raises
        ------
        MetaAnalysisError
            ``mask`` has the wrong length or dtype, names a position out of
            range or twice, or selects no study.

        Examples
        --------
        >>> import msc_meta as mm
        >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="DL")
        >>> sub = res.subset([True, True, False, True])
        >>> sub.k, sub.method, sub.labels
        (3, 'DL', ('Study 1', 'Study 2', 'Study 4'))
        """
        spec = self._spec()
        return spec.fit(spec.kept[_positions(mask, self.k)])

    def refit(self, **changes: Any) -> Any:
        """The same studies fitted again with some options changed.

        Parameters
        ----------
        **changes
            Options of the function that fitted the result:
            ``method, test, level, tol, max_iter`` for
            :func:`~msc_meta.meta_analysis`; ``measure, level, add, to, drop00,
            correct`` for :func:`~msc_meta.mantel_haenszel`; ``level, add, to,
            drop00`` for :func:`~msc_meta.peto`. The others stay as they were.

        Returns
        -------
        MetaAnalysisResult or BinaryPooledResult
            The new fit (of every study given, including those left out for
            missing values, which are left out again).

        Raises
        ------
        MetaAnalysisError
            An option that does not exist, or does not apply to this kind of
            result; or any error of the fitting function.

        Examples
        --------
        >>> import msc_meta as mm
        >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
        >>> res.refit(method="DL", test="knha").method
        'DL'
        """
        spec = self._spec()
        allowed = REFIT_OPTIONS[spec.kind]
        for name in changes:
            if name in allowed:
                continue
            elsewhere = [k for k, opts in REFIT_OPTIONS.items() if name in opts]
            if elsewhere:
                raise MetaAnalysisError(
                    f"refit({name}=...) does not apply to a result of {spec.fitter.__name__}; "
                    f"its options are: {', '.join(allowed)}"
                )
            raise MetaAnalysisError(
                f"refit({name}=...): unknown option; the options of a result of "
                f"{spec.fitter.__name__} are: {', '.join(allowed)}"
            )
        return spec.fit(None, **changes)
