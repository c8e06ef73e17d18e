"""The types shared by the batch engine's vectorized τ² estimators.

Each estimator of :mod:`msc_meta._batch_tau2` (closed forms) and
:mod:`msc_meta._batch_iterative` (ML, REML, EB, PM, PMM) takes m rows of
effects and variances, in working units row by row, with a mask of the
studies present, and returns one :class:`BatchTau2Fit` entry per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .tau2 import Tau2Control

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Bit flags of :attr:`BatchTau2Fit.codes` (and of the batch result's ``codes``).
NOT_CONVERGED = 1
#: The likelihood has more than one local maximum on [0, inf): the batch took the global one
#: by the core's rule (a row whose two best maxima are tied to rounding is marked
#: ``ambiguous`` and refitted by the core, :func:`msc_meta.tau2.estimate_tau2`).
MULTIMODAL = 2


@dataclass(frozen=True)
class FixedEffectRows:
    """The common-effect (inverse-variance) fit of every row, in working units.

    Computed once per chunk and shared by the moment estimators (DL, HS, HSk) and the
    batch result (common-effect estimate, Q, I² and H²).

    Attributes
    ----------
    weights : numpy.ndarray
        m x k inverse variances, 0 where a study is absent.
    sum_w, mean, q, trace_p : numpy.ndarray
        Per row: the sum of the weights, the weighted mean, Cochran's Q and tr P.
    trace_pp : numpy.ndarray or None
        tr(PP) per row, where it was asked for.
    """

    weights: FloatArray
    sum_w: FloatArray
    mean: FloatArray
    q: FloatArray
    trace_p: FloatArray
    trace_pp: FloatArray | None


@dataclass(frozen=True)
class BatchTau2Fit:
    """τ² of many meta-analyses at once, one entry per row.

    Attributes
    ----------
    tau2 : numpy.ndarray
        Estimates of τ² (working units of each row).
    se : numpy.ndarray
        Their standard errors, as the core computes them for the method (NaN where it has none).
    iterations : numpy.ndarray
        Iterations used per row (0 for closed forms).
    converged : numpy.ndarray
        Whether each row's iteration converged.
    codes : numpy.ndarray
        Bit flags per row: :data:`NOT_CONVERGED`, :data:`MULTIMODAL`.
    fixed : FixedEffectRows or None
        The common-effect fit the estimator computed on the way (DL, HS, HSk), for reuse.
    ambiguous : numpy.ndarray or None
        Rows whose two largest local maxima are tied to rounding (ML, REML): which one the
        core takes, rounding decides, so the batch engine refits them by the core.
    """

    tau2: FloatArray
    se: FloatArray
    iterations: IntArray
    converged: BoolArray
    codes: IntArray
    fixed: FixedEffectRows | None = None
    ambiguous: BoolArray | None = None


#: A vectorized estimator: (Y, V, mask, control) -> one fit per row. Y and V are m x k, in
#: working units per row, NaN where ``mask`` is False.
BatchTau2 = Callable[[FloatArray, FloatArray, BoolArray, Tau2Control], BatchTau2Fit]
