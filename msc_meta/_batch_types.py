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
#: The likelihood may have more than one local maximum on [0, inf): the row was refitted by
#: (or must be refitted by) the core's global search, :func:`msc_meta.tau2.estimate_tau2`.
MULTIMODAL = 2


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
    """

    tau2: FloatArray
    se: FloatArray
    iterations: IntArray
    converged: BoolArray
    codes: IntArray


#: A vectorized estimator: (Y, V, mask, control) -> one fit per row. Y and V are m x k, in
#: working units per row, NaN where ``mask`` is False.
BatchTau2 = Callable[[FloatArray, FloatArray, BoolArray, Tau2Control], BatchTau2Fit]
