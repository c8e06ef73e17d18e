"""Named errors and warnings of msc_meta.

Every error raised for bad user input is a subclass of :class:`ValueError`, so
``except ValueError`` keeps working, and its message names the argument, the
row (0-based) and what is allowed. Every warning is a named subclass of
:class:`UserWarning`, so it can be filtered precisely.
"""

from __future__ import annotations

__all__ = [
    "BoundaryWarning",
    "ConvergenceWarning",
    "DroppedStudiesWarning",
    "FewStudiesWarning",
    "LargePlotWarning",
    "MetaAnalysisError",
    "MetaAnalysisWarning",
    "MultimodalLikelihoodWarning",
    "ZeroCellWarning",
]


class MetaAnalysisError(ValueError):
    """Bad input to a msc_meta function (a :class:`ValueError`).

    The message names the argument, the offending row (0-based) and value, and
    what is allowed.
    """


class MetaAnalysisWarning(UserWarning):
    """Base class of the warnings msc_meta raises."""


class ZeroCellWarning(MetaAnalysisWarning):
    """Zero cells were corrected (``add``) or double-zero studies dropped."""


class ConvergenceWarning(MetaAnalysisWarning):
    """An iterative estimator did not converge to the requested tolerance."""


class FewStudiesWarning(MetaAnalysisWarning):
    """Too few studies for the requested quantity (e.g. k = 1: no heterogeneity)."""


class MultimodalLikelihoodWarning(MetaAnalysisWarning):
    """The ML or REML likelihood has several local maxima in τ²; the global one is used."""


class BoundaryWarning(MetaAnalysisWarning):
    """A quantity sits on or beyond the boundary of its parameter space."""


class DroppedStudiesWarning(MetaAnalysisWarning):
    """Studies with missing (NaN) values were dropped from the analysis."""


class LargePlotWarning(MetaAnalysisWarning):
    """A plot has so many rows that it is slow to draw and too tall to read.

    The message says how to proceed: show fewer rows (``max_rows=``), plot a
    subset, or use a plot made for many studies (a funnel plot).
    """
