"""Bubble plot of a meta-regression (metafor's ``regplot``): effects against one moderator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._errors import MetaAnalysisError
from .._format import percent
from ..moderators import MetaRegressionResult
from ._common import new_axes, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["RegplotData", "regplot", "regplot_data"]

POINT_COLOR = "#1f3552"
LINE_COLOR = "#d55e00"
BAND_COLOR = "#e6e6e6"
#: Marker areas (points²) of the lightest and heaviest study.
SIZE_RANGE = (15.0, 300.0)


@dataclass(frozen=True)
class RegplotData:
    """What a bubble plot draws (see :func:`regplot_data`).

    Attributes
    ----------
    points : pandas.DataFrame
        One row per study: ``study``, ``x`` (the moderator), ``y`` (the
        effect), ``weight`` (percent) and ``size`` (marker area, points²).
    line : pandas.DataFrame
        The fitted line on a grid of the moderator: ``x``, ``pred``,
        ``ci_low``, ``ci_high``, ``pi_low`` and ``pi_high``.
    mod : str
        The term on the x axis.
    """

    points: pd.DataFrame
    line: pd.DataFrame
    mod: str


def _term_index(result: MetaRegressionResult, mod: str | int | None) -> int:
    terms = list(result.terms)
    candidates = [j for j, t in enumerate(terms) if not (result.intercept and j == 0)]
    if mod is None:
        if len(candidates) != 1:
            raise MetaAnalysisError(
                f"mod is missing; the model has {len(candidates)} moderator terms "
                f"({', '.join(terms[j] for j in candidates)}): name the one to plot"
            )
        return candidates[0]
    if isinstance(mod, str):
        if mod not in terms:
            raise MetaAnalysisError(
                f"mod = {mod!r} is not a term of the model ({', '.join(terms)})"
            )
        j = terms.index(mod)
    else:
        j = int(mod)
        if not 0 <= j < len(terms):
            raise MetaAnalysisError(
                f"mod = {mod} is not a column of the model (0 to {len(terms) - 1})"
            )
    if j not in candidates:
        raise MetaAnalysisError(f"mod = {mod!r} is the intercept; choose a moderator term")
    return j


def regplot_data(
    result: MetaRegressionResult, mod: str | int | None = None, *, n_points: int = 100
) -> RegplotData:
    """The points and the fitted line of a bubble plot.

    Parameters
    ----------
    result : MetaRegressionResult
        A meta-regression.
    mod : str or int, optional
        The term on the x axis, by name or column; the only moderator term by
        default.
    n_points : int, default 100
        Points of the grid of the fitted line.

    Returns
    -------
    RegplotData
        The studies (sized by their weight in the model) and the predicted
        line with its confidence and prediction bands, the other terms held
        at their means (as metafor's ``regplot``).

    Raises
    ------
    MetaAnalysisError
        ``mod`` is missing with several moderators, the intercept, or not a term.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_regression([0.1, 0.5, 0.3, 0.9], [0.05, 0.04, 0.06, 0.05], [1, 3, 2, 5])
    >>> data = regplot_data(res, n_points=3)
    >>> data.mod, data.line["x"].tolist()
    ('x1', [1.0, 3.0, 5.0])
    """
    j = _term_index(result, mod)
    design = result.design.to_numpy(dtype=float)
    x = design[:, j]
    grid = np.linspace(float(np.min(x)), float(np.max(x)), int(n_points))
    rows = np.tile(design.mean(axis=0), (grid.size, 1))
    rows[:, j] = grid
    pred = result.predict_design(rows)
    w = np.asarray(result.weights, dtype=float)
    span = float(np.max(w) - np.min(w))
    scaled = (w - np.min(w)) / span if span > 0 else np.full_like(w, 0.5)
    lo, hi = SIZE_RANGE
    points = pd.DataFrame(
        {
            "study": list(result.labels),
            "x": x,
            "y": np.asarray(result.effect, dtype=float),
            "weight": w,
            "size": lo + (hi - lo) * scaled,
        }
    )
    return RegplotData(points=points, line=pred.assign(x=grid), mod=result.terms[j])


def regplot(
    result: MetaRegressionResult,
    mod: str | int | None = None,
    ax: Axes | None = None,
    *,
    pi: bool = False,
    xlabel: str | None = None,
    ylabel: str = "Effect",
    figsize: tuple[float, float] = (6.0, 4.5),
) -> Axes:
    """Bubble plot: effects against a moderator, sized by weight, with the fitted line.

    Parameters
    ----------
    result : MetaRegressionResult
        A meta-regression.
    mod : str or int, optional
        The term on the x axis; the only moderator term by default.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    pi : bool, default False
        Also draw the prediction band (dashed).
    xlabel : str, optional
        Label of the x axis; the term's name by default.
    ylabel : str, default "Effect"
        Label of the y axis.
    figsize : tuple of float, default (6.0, 4.5)
        Size of a new figure, in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    MetaAnalysisError
        As :func:`regplot_data`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_regression([0.1, 0.5, 0.3, 0.9], [0.05, 0.04, 0.06, 0.05], [1, 3, 2, 5])
    >>> ax = regplot(res)
    >>> ax.get_xlabel()
    'x1'
    >>> plt.close("all")
    """
    data = regplot_data(result, mod)
    ax, _ = new_axes(ax, figsize)
    line = data.line
    level = percent(100.0 * result.level, 0)
    ax.fill_between(
        line["x"],
        line["ci_low"],
        line["ci_high"],
        color=BAND_COLOR,
        lw=0,
        label=f"{level} confidence band",
    )
    if pi:
        for col in ("pi_low", "pi_high"):
            ax.plot(
                line["x"],
                line[col],
                color=LINE_COLOR,
                lw=0.8,
                ls="--",
                label=f"{level} prediction band" if col == "pi_low" else None,
            )
    ax.plot(line["x"], line["pred"], color=LINE_COLOR, lw=1.5, label="Fitted")
    pts = data.points
    ax.scatter(
        pts["x"],
        pts["y"],
        s=pts["size"],
        facecolors="none",
        edgecolors=POINT_COLOR,
        linewidths=1.0,
        zorder=3,
    )
    ax.set_xlabel(data.mod if xlabel is None else xlabel)
    ax.set_ylabel(ylabel)
    style_axes(ax)
    return ax
