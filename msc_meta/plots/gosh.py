"""The GOSH plot: pooled estimate against I² over subsets of studies, with marginals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..gosh import GoshResult
from ._common import new_axes, style_axes
from .diagnostics import POINT_COLOR

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["gosh_data", "gosh_plot"]


def gosh_data(gosh: GoshResult) -> pd.DataFrame:
    """The points of a GOSH plot: one row per subset with a finite estimate and I².

    Parameters
    ----------
    gosh : GoshResult
        Fits on subsets of studies (:func:`msc_meta.gosh.gosh`, ``result.gosh()``).

    Returns
    -------
    pandas.DataFrame
        Columns ``estimate``, ``i2`` (percent) and ``k``.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.5, 0.3, 0.9], [0.04, 0.05, 0.02, 0.08])
    >>> gosh_data(res.gosh()).shape
    (15, 3)
    """
    frame = pd.DataFrame({"estimate": gosh.estimate, "i2": gosh.i2, "k": gosh.k})
    keep = np.isfinite(frame["estimate"]) & np.isfinite(frame["i2"])
    kept: pd.DataFrame = frame[keep].reset_index(drop=True)
    return kept


def gosh_plot(
    gosh: GoshResult, *, ax: Axes | None = None, marginals: bool = True, bins: int = 40
) -> Axes:
    """GOSH plot: the estimate of every subset against its I², with marginal histograms.

    Parameters
    ----------
    gosh : GoshResult
        Fits on subsets of studies.
    ax : matplotlib Axes, optional
        Where to draw the scatter; a new figure when None.
    marginals : bool, default True
        Draw histograms of the estimate (above) and of I² (right) in inset axes.
    bins : int, default 40
        Bins of the marginal histograms.

    Returns
    -------
    matplotlib.axes.Axes
        The scatter's axes.

    References
    ----------
    .. [1] Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of
       study heterogeneity. Res Synth Methods 3(3):214-223.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.5, 0.3, 0.9], [0.04, 0.05, 0.02, 0.08])
    >>> ax = gosh_plot(res.gosh())
    >>> ax.get_xlabel()
    'Estimate'
    >>> plt.close(ax.figure)
    """
    pts = gosh_data(gosh)
    ax, _ = new_axes(ax, (5.6, 5.0))
    style_axes(ax)
    n = len(pts)
    alpha = float(min(0.8, max(0.05, 200.0 / max(n, 1))))
    sc = ax.scatter(
        pts["estimate"], pts["i2"], s=6, color=POINT_COLOR, alpha=alpha, linewidths=0, zorder=3
    )
    sc.set_gid("gosh-points")
    ax.set_xlabel("Estimate")
    ax.set_ylabel("I² (%)")
    if marginals and n:
        top: Any = ax.inset_axes((0.0, 1.02, 1.0, 0.2), sharex=ax)
        right: Any = ax.inset_axes((1.02, 0.0, 0.2, 1.0), sharey=ax)
        top.hist(pts["estimate"], bins=bins, color=POINT_COLOR, alpha=0.6)
        right.hist(pts["i2"], bins=bins, orientation="horizontal", color=POINT_COLOR, alpha=0.6)
        for inset in (top, right):
            inset.set_axis_off()
            inset.set_gid("gosh-marginal")
    return ax
