"""GOSH: the meta-analysis fitted on every subset of its studies (metafor's ``gosh``).

A graphical display of study heterogeneity (Olkin, Dahabreh & Trikalinos 2012) fits the
model of a result on all 2^k − 1 non-empty subsets of its k studies, or on a random sample
of subsets when there are too many, and plots the pooled estimate against I². Clusters in
the plot point at studies that drive heterogeneity. The fits go through the batch engine
(:func:`~msc_meta.meta_analysis_many`, one row per subset, NaN for an absent study), so all
65,535 subsets of k = 16 take a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._batch_types import NOT_CONVERGED, BoolArray, FloatArray, IntArray
from ._errors import MetaAnalysisError
from ._format import count, number
from .batch import NOT_REPRESENTABLE, meta_analysis_many
from .results import MetaAnalysisResult

__all__ = ["GOSH_ALL_MAX_K", "GOSH_SAMPLE", "GoshResult", "gosh", "gosh_subsets"]

#: Up to this many studies every subset is fitted by default (2^16 − 1 = 65,535 subsets).
GOSH_ALL_MAX_K = 16
#: Subsets sampled by default beyond :data:`GOSH_ALL_MAX_K` studies.
GOSH_SAMPLE = 100_000


@dataclass(frozen=True)
class GoshResult:
    """Fits of a meta-analysis on subsets of its studies (metafor's ``gosh.rma``).

    Attributes
    ----------
    incl : numpy.ndarray
        n x k inclusion matrix: ``incl[j, i]`` is True when study i is in subset j.
    k : numpy.ndarray
        Studies in each subset.
    q, i2, h2, tau2, estimate : numpy.ndarray
        Cochran's Q, I² (percent), H², τ² and the pooled estimate of each subset
        (metafor's ``QE``, ``I2``, ``H2``, ``tau2``, ``estimate``).
    converged : numpy.ndarray
        Whether the τ² estimator converged on the subset (non-converged fits are NaN in
        metafor; here they are kept and flagged).
    codes : numpy.ndarray
        Bit flags of each fit, as :attr:`msc_meta.batch.BatchResult.codes` (2: the
        likelihood has several local maxima; the global one is used, where metafor's
        Fisher scoring may stop at another).
    labels : tuple of str
        Study labels (the columns of ``incl``).
    method : str
        τ² estimator of the fits.
    sampled : bool
        Whether the subsets are a random sample (True) or all 2^k − 1 of them.
    """

    incl: BoolArray
    k: IntArray
    q: FloatArray
    i2: FloatArray
    h2: FloatArray
    tau2: FloatArray
    estimate: FloatArray
    converged: BoolArray
    codes: IntArray
    labels: tuple[str, ...]
    method: str
    sampled: bool

    def __len__(self) -> int:
        return int(self.k.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per subset: metafor's ``res`` columns and the inclusion of each study.

        Returns
        -------
        pandas.DataFrame
            Columns ``k``, ``q``, ``i2``, ``h2``, ``tau2``, ``estimate``, ``converged``, then
            one boolean column per study label.
        """
        frame = pd.DataFrame(
            {
                "k": self.k,
                "q": self.q,
                "i2": self.i2,
                "h2": self.h2,
                "tau2": self.tau2,
                "estimate": self.estimate,
                "converged": self.converged,
            }
        )
        incl = pd.DataFrame(self.incl, columns=list(self.labels))
        return pd.concat([frame, incl], axis=1)

    def summary(self) -> str:
        """A short text summary: how many subsets, and the range of the estimate and I².

        Returns
        -------
        str
            A few lines of text.
        """
        kind = "sampled" if self.sampled else "all"
        lines = [
            f"GOSH: {count(len(self))} subsets ({kind}) of {count(len(self.labels))} studies, "
            f"method {self.method}",
        ]
        for name, values in (("estimate", self.estimate), ("I2 (%)", self.i2)):
            lo, med, hi = np.nanquantile(values, [0.0, 0.5, 1.0])
            lines.append(
                f"  {name}: min {number(lo, 4)}, median {number(med, 4)}, max {number(hi, 4)}"
            )
        bad = int(np.count_nonzero(self.codes & NOT_CONVERGED))
        if bad:
            lines.append(f"  not converged: {count(bad)} subsets")
        refused = int(np.count_nonzero(self.codes & NOT_REPRESENTABLE))
        if refused:
            lines.append(f"  not representable (no fit): {count(refused)} subsets")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """The GOSH plot: estimate against I², with marginal histograms.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Passed to :func:`msc_meta.plots.gosh_plot`.

        Returns
        -------
        matplotlib.axes.Axes
            The scatter's axes.
        """
        # lazy: plots (layer 8) imports this module
        from .plots.gosh import gosh_plot

        return gosh_plot(self, ax=ax, **kwargs)


def gosh_subsets(
    k: int, subsets: int | None = None, rng: np.random.Generator | int | None = None
) -> tuple[BoolArray, bool]:
    """The inclusion matrix of a GOSH analysis: every subset, or a random sample.

    Parameters
    ----------
    k : int
        Number of studies.
    subsets : int, optional
        Largest number of subsets: all 2^k − 1 are used when there are at most this many,
        otherwise this many are sampled (each study in with probability 1/2, empty subsets
        drawn again), as metafor's ``gosh``. By default all subsets up to
        k = :data:`GOSH_ALL_MAX_K`, :data:`GOSH_SAMPLE` sampled beyond.
    rng : numpy.random.Generator or int, optional
        Random generator or seed of the sample (the sample is reproducible with a seed).

    Returns
    -------
    incl : numpy.ndarray
        n x k boolean matrix; all subsets come in metafor's order (by size).
    sampled : bool
        Whether the subsets were sampled.

    Examples
    --------
    >>> incl, sampled = gosh_subsets(3)
    >>> incl.astype(int).tolist(), sampled
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], False)
    """
    if subsets is None:
        n = (1 << k) - 1 if k <= GOSH_ALL_MAX_K else GOSH_SAMPLE
    else:
        if isinstance(subsets, bool) or not isinstance(subsets, (int, np.integer)):
            raise MetaAnalysisError(f"subsets: must be a whole number, got {subsets!r}")
        if subsets < 1:
            raise MetaAnalysisError(f"subsets: must be at least 1, got {subsets}")
        n = int(subsets)
    if k < 63 and (1 << k) - 1 <= n:
        masks = np.arange(1, 1 << k, dtype=np.int64)
        incl = ((masks[:, None] >> np.arange(k)) & 1).astype(bool)
        # metafor's order: by size, then by the mask with study 1 as the lowest bit
        order = np.lexsort((masks, incl.sum(axis=1)))
        return incl[order], False
    gen = np.random.default_rng(rng)
    incl = gen.random((n, k)) < 0.5
    empty = ~incl.any(axis=1)
    while empty.any():
        incl[empty] = gen.random((int(empty.sum()), k)) < 0.5
        empty = ~incl.any(axis=1)
    return incl, True


def gosh(
    result: MetaAnalysisResult,
    subsets: int | None = None,
    rng: np.random.Generator | int | None = None,
    *,
    progress: bool | None = None,
) -> GoshResult:
    """Fit the meta-analysis on every subset of its studies (metafor's ``gosh.rma``).

    Each subset is fitted with the result's τ² method, test, level and tolerance through
    :func:`~msc_meta.meta_analysis_many` (subsets as rows, NaN for an absent study).

    Parameters
    ----------
    result : MetaAnalysisResult
        The meta-analysis (without moderators).
    subsets : int, optional
        Largest number of subsets (all of them up to this many, a random sample beyond);
        see :func:`gosh_subsets`.
    rng : numpy.random.Generator or int, optional
        Random generator or seed for sampled subsets.
    progress : bool, optional
        Show a progress bar (by default for long runs, as :func:`~msc_meta.meta_analysis_many`).

    Returns
    -------
    GoshResult
        Q, I², H², τ², the estimate and k of every subset, and the inclusion matrix.

    References
    ----------
    Olkin, I., Dahabreh, I. J., & Trikalinos, T. A. (2012). GOSH – a graphical display of
    study heterogeneity. *Research Synthesis Methods*, 3(3), 214–223.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.5, 0.3, 0.9], [0.04, 0.05, 0.02, 0.08])
    >>> g = gosh(res)
    >>> len(g), int(g.k.max())
    (15, 4)
    """
    if not isinstance(result, MetaAnalysisResult):
        raise MetaAnalysisError(
            f"result: gosh needs a result of meta_analysis, got {type(result).__name__}"
        )
    y = np.asarray(result.effect, dtype=float)
    v = np.asarray(result.variance, dtype=float)
    incl, sampled = gosh_subsets(y.shape[0], subsets, rng)
    spec = result.spec
    options: dict[str, Any] = {} if spec is None else spec.solver_options()
    fits = meta_analysis_many(
        np.where(incl, y, np.nan),
        np.where(incl, v, np.nan),
        method=result.method,
        test=result.test,
        level=result.level,
        progress=progress,
        **options,
    )
    return GoshResult(
        incl=incl,
        k=fits.k,
        q=fits.q,
        i2=fits.i2,
        h2=fits.h2,
        tau2=fits.tau2,
        estimate=fits.estimate,
        converged=fits.converged,
        codes=fits.codes,
        labels=tuple(result.labels),
        method=result.method,
        sampled=sampled,
    )
