"""Sensitivity analyses: refits of a pooled result on subsets of its studies.

Every refit goes through :meth:`MetaAnalysisResult.subset` (or that of
:class:`~msc_meta.results.BinaryPooledResult`), so it keeps every option of
the original fit (τ² method, test, level, ``tol``/``max_iter``, the zero-cell
options ``add``/``to``/``drop00``, MH's ``correct``, the measure and the study
sizes). Leave-one-out refits feed the Baujat coordinates here; leave-one-out
tables, cumulative meta-analysis and influence diagnostics belong here too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ._errors import BoundaryWarning, MetaAnalysisError, MetaAnalysisWarning
from .results import BinaryPooledResult, MetaAnalysisResult

__all__ = ["baujat"]

PooledResult = MetaAnalysisResult | BinaryPooledResult
FloatArray = NDArray[np.float64]


def _leave_one_out(result: PooledResult) -> list[PooledResult | None]:
    """The result refitted without each study in turn (``None`` where the refit fails).

    The refits' own warnings (k = 1, zero cells) are not shown, and a refit
    that raises (nothing left to pool, an undefined MH estimate) gives
    ``None``, as metafor's ``try()`` in ``leave1out`` and ``baujat``.
    """
    k = result.k
    out: list[PooledResult | None] = []
    if k < 2:
        return [None] * k
    for i in range(k):
        keep = np.arange(k) != i
        with warnings.catch_warnings():
            # the refits' own warnings (k = 1, zero cells) are not the user's concern here
            warnings.simplefilter("ignore", MetaAnalysisWarning)
            try:
                out.append(result.subset(keep))
            except MetaAnalysisError:
                out.append(None)
    return out


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
    est = np.array([np.nan if f is None else f.estimate for f in fits], dtype=float)
    var = np.array([np.nan if f is None else f.se**2 for f in fits], dtype=float)
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
