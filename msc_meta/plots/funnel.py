"""Funnel plots, with pseudo confidence limits and contour-enhanced significance regions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import MetaAnalysisError
from .._format import alpha, tick
from .._inference import critical_value
from ..bias import TrimAndFill
from ._common import (
    AnyResult,
    analysis_name,
    measure_of,
    new_axes,
    nice_linear,
    root_result,
    style_axes,
    ticks_within_log,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["funnel_data", "funnel_plot"]

POINT_COLOR = "#1f3552"


def funnel_data(result: AnyResult | TrimAndFill) -> pd.DataFrame:
    """The points of a funnel plot: each study's effect and standard error.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult, SubgroupResult or TrimAndFill
        For a subgroup analysis, the studies of ``result.overall``; for a
        trim-and-fill analysis, the observed and the filled studies (a
        ``filled`` column says which).

    Returns
    -------
    DataFrame
        Columns ``study`` (label), ``effect`` (analysis scale: log for ratio
        measures), ``se`` and ``x`` (the horizontal position: the
        exponentiated effect for ratio measures, drawn on a log axis; the
        effect otherwise). Studies without an estimable effect are left out.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2], [0.04, 0.09, 0.05])
    >>> funnel_data(res)["se"].round(2).tolist()
    [0.2, 0.3, 0.22]
    """
    root = root_result(result.result if isinstance(result, TrimAndFill) else result)
    y = np.asarray(root.effect, dtype=float)
    v = np.asarray(root.variance, dtype=float)
    keep = np.isfinite(y) & np.isfinite(v)
    frame = pd.DataFrame(
        {
            "study": [str(s) for s, k in zip(root.labels, keep, strict=True) if k],
            "effect": y[keep],
            "se": np.sqrt(v[keep]),
        }
    )
    spec = measure_of(root.measure)
    frame["x"] = np.exp(frame["effect"]) if spec is not None and spec.is_ratio else frame["effect"]
    if isinstance(result, TrimAndFill):
        frame["filled"] = result.is_filled[keep]
    return frame


def funnel_plot(
    result: AnyResult | TrimAndFill,
    *,
    ax: Axes | None = None,
    contours: Sequence[float] | None = (0.90, 0.95, 0.99),
    pseudo_ci: bool = True,
    null: float | None = None,
    legend: bool = True,
) -> Axes:
    """Funnel plot: study effects against their standard errors.

    The vertical axis is the standard error, inverted so that the largest
    studies are at the top. Dashed pseudo confidence limits
    :math:`\\hat\\mu \\pm z_{1-\\alpha/2}\\,\\mathrm{SE}` (at the result's
    level) form the funnel around the pooled estimate; in the absence of
    heterogeneity and small-study effects about that share of the studies
    fall inside it (Sterne & Egger 2001). Contour-enhanced shading marks
    where a study's two-sided test of no effect would be significant at each
    of ``contours`` (Peters et al. 2008): if missing studies sit in the
    regions of non-significance, publication bias is a plausible cause of the
    asymmetry; if they sit in regions of significance, other causes are more
    likely.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult, SubgroupResult or TrimAndFill
        The meta-analysis (for subgroups, its ``overall`` studies; for
        trim-and-fill, the observed studies and, as open markers, the filled
        ones, around the adjusted estimate).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    contours : sequence of float, default (0.9, 0.95, 0.99)
        Confidence levels whose significance contours are shaded, around the
        null value (the default gives the regions p > 0.10,
        0.05-0.10, 0.01-0.05 and p < 0.01). None or ``()`` for no contours.
        Not drawn for one-group measures (proportions, means) unless ``null``
        is given.
    pseudo_ci : bool, default True
        Draw the pseudo confidence limits and the pooled estimate.
    null : float, optional
        The effect of no difference on the analysis scale (default 0: a
        ratio of 1 for ratio measures).
    legend : bool, default True
        Add a legend of the contour regions.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    As metafor's ``funnel(res, level = c(90, 95, 99), shade = ..., refline = 0)``:
    study effects on the analysis scale (exponentiated on a log axis for
    ratio measures) with their standard errors :math:`\\sqrt{v_i}`; the pseudo
    limits are centred on the pooled estimate of the model and do not add
    τ² (metafor's default ``addtau2 = FALSE``).

    References
    ----------
    .. [1] Sterne JAC, Egger M (2001). Funnel plots for detecting bias in
       meta-analysis: guidelines on choice of axis. J Clin Epidemiol
       54(10):1046-1055.
    .. [2] Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2008).
       Contour-enhanced meta-analysis funnel plots help distinguish
       publication bias from other causes of asymmetry. J Clin Epidemiol
       61(10):991-996.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> ax = funnel_plot(mm.meta_analysis(es))
    >>> ax.get_xscale(), ax.get_ylabel(), bool(ax.yaxis_inverted())
    ('log', 'Standard error', True)
    >>> plt.close(ax.figure)
    """
    from matplotlib.patches import Patch, Polygon

    root = root_result(result.result if isinstance(result, TrimAndFill) else result)
    pts = funnel_data(result)
    filled = (
        pts.pop("filled").to_numpy(dtype=bool) if "filled" in pts else np.zeros(len(pts), bool)
    )
    if len(pts) == 0:
        raise MetaAnalysisError("no study has an estimable effect; nothing to draw")
    spec = measure_of(root.measure)
    log = spec is not None and spec.is_ratio
    levels = _check_levels(contours)
    if null is None and not (spec is not None and spec.null is None):
        null = 0.0
    z_ci = critical_value(root.level)
    se_max = float(pts["se"].max()) * 1.08
    center = float(root.estimate)

    def disp(x: float) -> float:
        return math.exp(x) if log else x

    created = ax is None
    ax, fig = new_axes(ax, (6.6, 4.2) if legend else (5.0, 4.2))
    if created and legend:
        fig.subplots_adjust(left=0.1, right=0.7)
    style_axes(ax)
    if log:
        ax.set_xscale("log")

    # x range: the points and the pseudo limits at the bottom, padded by 10% (as metafor)
    lows = [float(pts["effect"].min()), center - z_ci * se_max]
    highs = [float(pts["effect"].max()), center + z_ci * se_max]
    lo, hi = min(lows), max(highs)
    pad = 0.1 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    handles: list[Any] = []
    if levels and null is not None:
        shades = _shades(len(levels))
        ax.set_facecolor(shades[0])
        regions = [
            Patch(facecolor=shades[0], edgecolor="0.6", label=f"p < {alpha(1 - levels[-1])}")
        ]
        for j, level in enumerate(reversed(levels)):  # widest first
            z = critical_value(level)
            inner = j == len(levels) - 1
            color = "white" if inner else shades[j + 1]
            tri = Polygon(
                [
                    (disp(null - z * se_max * 1.5), se_max * 1.5),
                    (disp(null), 0.0),
                    (disp(null + z * se_max * 1.5), se_max * 1.5),
                ],
                closed=True,
                facecolor=color,
                edgecolor="none",
                zorder=0,
            )
            tri.set_gid("funnel-contour")
            ax.add_patch(tri)
            upper = 1 - level
            if inner:
                label = f"p > {alpha(upper)}"
            else:
                lower = 1 - list(reversed(levels))[j + 1]
                label = f"{alpha(upper)} < p < {alpha(lower)}"
            regions.append(Patch(facecolor=color, edgecolor="0.6", label=label))
        handles += regions[::-1]  # the non-significant centre first

    if pseudo_ci:
        se_grid = np.array([0.0, se_max])
        for sign in (-1, 1):
            xs = [disp(center + sign * z_ci * s) for s in se_grid]
            (line,) = ax.plot(xs, se_grid, linestyle=(0, (4, 3)), color="0.25", linewidth=0.9)
            line.set_gid("funnel-pseudo-ci")
        est_line = ax.vlines(disp(center), 0, se_max, colors="0.25", linewidth=0.9)
        est_line.set_gid("funnel-estimate")
        handles.append(
            ax.plot(
                [],
                [],
                linestyle=(0, (4, 3)),
                color="0.25",
                label=f"Pseudo {100 * root.level:g}% limits",
            )[0]
        )

    seen = pts[~filled]
    pts_art = ax.scatter(
        seen["x"],
        seen["se"],
        s=28,
        color=POINT_COLOR,
        edgecolors="white",
        linewidths=0.6,
        zorder=5,
    )
    pts_art.set_gid("funnel-points")
    if filled.any():
        fill = pts[filled]
        fill_art = ax.scatter(
            fill["x"],
            fill["se"],
            s=28,
            facecolors="white",
            edgecolors=POINT_COLOR,
            linewidths=1.0,
            zorder=5,
            label="Filled studies",
        )
        fill_art.set_gid("funnel-filled")
        handles.append(fill_art)

    ax.set_ylim(se_max, 0.0)
    if log:
        ax.set_xlim(math.exp(lo), math.exp(hi))
        ticks = ticks_within_log(math.exp(lo), math.exp(hi))
        from matplotlib.ticker import NullLocator

        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(list(ticks), labels=[tick(t) for t in ticks])
        ax.set_xlabel(f"{spec.axis_name if spec is not None else 'Effect'} (log scale)")
    else:
        ax.set_xlim(lo, hi)
        ax.set_xlabel(analysis_name(root.measure))
    ticks_y = [t for t in nice_linear(0.0, se_max, max_ticks=6) if t <= se_max]
    ax.set_yticks(ticks_y, labels=[tick(t) for t in ticks_y])
    ax.set_ylabel("Standard error")
    if legend and handles:
        if created:  # beside the graph, in the room made for it
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                fontsize="small",
                frameon=False,
                borderaxespad=0.0,
            )
        else:  # inside the given Axes, so as not to spill over its neighbours
            ax.legend(handles=handles, loc="best", fontsize="x-small", framealpha=0.9)
    return ax


def _check_levels(contours: Sequence[float] | None) -> list[float]:
    if contours is None:
        return []
    levels = sorted(float(c) for c in contours)
    for c in levels:
        if not 0.0 < c < 1.0:
            raise MetaAnalysisError(
                f"contours contains {c!r}; give confidence levels in (0, 1) such as 0.95"
            )
    if len(set(levels)) != len(levels):
        raise MetaAnalysisError(f"contours={list(contours)!r} has repeated levels")
    return levels


def _shades(n: int) -> list[str]:
    """Background (most significant region) light, darker towards the non-significant centre."""
    greys = np.linspace(0.93, 0.62, n)
    return [f"{g:.3f}" for g in greys]
