"""Plots of the sensitivity analyses: leave-one-out and cumulative forest plots, influence.

The refits come from :mod:`msc_meta.sensitivity` (nothing is fitted here). The
forest plots reuse the forest machinery (:class:`~msc_meta.plots.ForestData`
drawn by :func:`~msc_meta.plots.forest_plot`): one row per refit, then the
pooled estimate of all studies as a diamond with its heterogeneity line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._errors import MetaAnalysisError
from .._format import percent
from .._inference import critical_value
from ..sensitivity import InfluenceResult, cumulative, influence_cutoffs, leave_one_out
from ._common import (
    PooledResult,
    can_back_transform,
    display_kind,
    measure_of,
    style_axes,
)
from ._forest_rows import ForestColumn, RowContext, null_value_of, pooled_block
from .forest import ForestData, finish_rows, forest_plot

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "cumulative_forest_plot",
    "influence_data",
    "influence_plot",
    "leave_one_out_plot",
    "refit_forest_data",
]

POINT_COLOR = "#1f3552"
FLAG_COLOR = "#d55e00"

#: The panels of :func:`influence_plot`, in metafor's order, with their titles.
INFLUENCE_PANELS = {
    "rstudent": "rstudent",
    "dffits": "dffits",
    "cook_d": "Cook's distance",
    "cov_r": "covariance ratio",
    "tau2_del": "τ² (study left out)",
    "q_del": "Q (study left out)",
    "hat": "hat",
    "weight": "weight (%)",
    "dfbetas": "dfbetas",
}


def refit_forest_data(
    result: PooledResult,
    kind: Literal["leave_one_out", "cumulative"] = "leave_one_out",
    *,
    order: ArrayLike | str | None = None,
    back_transform: bool = True,
    digits: int = 2,
    xlim: tuple[float, float] | None = None,
) -> ForestData:
    """Rows of a leave-one-out or cumulative forest plot, without drawing.

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis.
    kind : {"leave_one_out", "cumulative"}, default "leave_one_out"
        One row per omitted study (:func:`~msc_meta.sensitivity.leave_one_out`)
        or per added study (:func:`~msc_meta.sensitivity.cumulative`).
    order : str or array_like, optional
        Order of a cumulative meta-analysis (see
        :func:`~msc_meta.sensitivity.cumulative`).
    back_transform : bool, default True
        Show effects on the display scale (ratios on a log axis).
    digits : int, default 2
        Decimals of the texts.
    xlim : (float, float), optional
        Limits of the x axis (display scale).

    Returns
    -------
    ForestData
        Study rows (``kind == "study"``) are the refits, with their I² in
        ``i2_text``; then the pooled rows of ``result``.

    Raises
    ------
    MetaAnalysisError
        An unknown ``kind``, or an error of the refits' ``order``.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
    >>> fd = refit_forest_data(res)
    >>> fd.studies["label"].tolist()
    ['Study 1', 'Study 2', 'Study 3', 'Study 4']
    """
    if kind == "leave_one_out":
        table = leave_one_out(result)
        header = "Omitted study"
    elif kind == "cumulative":
        table = cumulative(result, order)
        header = "Study added"
    else:
        raise MetaAnalysisError(f"kind={kind!r}: use 'leave_one_out' or 'cumulative'")
    back_transform = back_transform and can_back_transform(result)
    shown = display_kind(result.measure) if back_transform else "identity"
    log_scale = shown == "log"
    ctx = RowContext(
        root=result,
        transform=back_transform,
        digits=digits,
        arm_digits=digits,
        family=None,
        extra={},
        level=result.level,
    )
    n_hm = ctx.n_of(list(range(result.k)))
    rows: list[dict[str, Any]] = []
    for y, (label, fit) in enumerate(table.iterrows()):
        est, lo, hi = (
            float(v)
            for v in ctx.disp(np.array([fit["estimate"], fit["ci_low"], fit["ci_high"]]), n=n_hm)
        )
        rows.append(
            {
                "kind": "study",
                "label": str(label),
                "group": "",
                "study": y,
                "y": float(y),
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "weight": 100.0 / result.k,
                "i2_text": percent(fit["i2"]) if math.isfinite(fit["i2"]) else "",
                **ctx.interval_texts(est, lo, hi),
            }
        )
    pooled_block(
        rows,
        ctx,
        result,
        list(range(result.k)),
        result.k + 0.3,
        group="",
        common=False,
        prediction=False,
        subtotal=False,
        tests=False,
    )
    null_value = null_value_of(result.measure, None, log_scale, shown)
    frame, lim, ticks = finish_rows(rows, log_scale, null_value, shown, result.measure, xlim, None)
    spec = measure_of(result.measure)
    short = spec.short_name if spec is not None and back_transform else "Effect"
    columns = (
        ForestColumn("label", header, "left", "left"),
        ForestColumn("estimate_text", short, "right", "right"),
        ForestColumn("ci_text", f"{100 * result.level:g}% CI", "right", "right"),
        ForestColumn("i2_text", "I²", "right", "right"),
    )
    axis = spec.axis_name if spec is not None and back_transform else "Effect"
    return ForestData(
        rows=frame,
        columns=columns,
        log_scale=log_scale,
        xlim=lim,
        xticks=ticks,
        null_value=null_value,
        effect_label=axis,
        measure=result.measure,
        level=result.level,
    )


def leave_one_out_plot(result: PooledResult, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Forest plot of the meta-analysis refitted without each study in turn.

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    **kwargs
        ``back_transform``, ``digits``, ``xlim`` of :func:`refit_forest_data`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the graph.

    References
    ----------
    .. [1] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3):1-48.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
    >>> ax = leave_one_out_plot(res)
    >>> plt.close(ax.figure)
    """
    return forest_plot(refit_forest_data(result, "leave_one_out", **kwargs), ax=ax)


def cumulative_forest_plot(
    result: PooledResult,
    order: ArrayLike | str | None = None,
    *,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Cumulative forest plot: the pooled estimate as studies are added one at a time.

    Parameters
    ----------
    result : MetaAnalysisResult or BinaryPooledResult
        The meta-analysis.
    order : str or array_like, optional
        Order in which studies are added (see
        :func:`~msc_meta.sensitivity.cumulative`); as given by default.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    **kwargs
        ``back_transform``, ``digits``, ``xlim`` of :func:`refit_forest_data`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the graph.

    References
    ----------
    .. [1] Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F,
       Chalmers TC (1992). Cumulative meta-analysis of therapeutic trials for
       myocardial infarction. N Engl J Med 327(4):248-254.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
    >>> ax = cumulative_forest_plot(res, order="precision")
    >>> plt.close(ax.figure)
    """
    return forest_plot(refit_forest_data(result, "cumulative", order=order, **kwargs), ax=ax)


def influence_data(influence: InfluenceResult) -> pd.DataFrame:
    """The points and reference lines of :func:`influence_plot`, in long form.

    Parameters
    ----------
    influence : InfluenceResult
        From :func:`msc_meta.sensitivity.influence` (``result.influence()``).

    Returns
    -------
    pandas.DataFrame
        One row per study and statistic: ``statistic`` (a column of
        ``influence.to_frame()``), ``position`` (1-based study number),
        ``study``, ``value``, ``influential``, and ``reference`` (the line
        drawn in the panel: a cut-off of metafor's rule, the full fit's τ²
        or Q, or the mean weight; NaN for none).

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5, 1.9], [0.04, 0.09, 0.05, 0.02, 0.03])
    >>> data = influence_data(res.influence())
    >>> sorted(set(data["statistic"])) == sorted(INFLUENCE_PANELS)
    True
    """
    frame = influence.to_frame()
    k = influence.k
    refs = {
        "rstudent": critical_value(0.95),
        "cov_r": 1.0,
        "tau2_del": influence.tau2,
        "q_del": influence.q,
        "weight": 100.0 / k,
        **influence_cutoffs(k),
    }
    parts = [
        pd.DataFrame(
            {
                "statistic": name,
                "position": np.arange(1, k + 1),
                "study": frame.index.astype(str),
                "value": frame[name].to_numpy(dtype=float),
                "influential": frame["influential"].to_numpy(dtype=bool),
                "reference": refs[name],
            }
        )
        for name in INFLUENCE_PANELS
    ]
    return pd.concat(parts, ignore_index=True)


def influence_plot(influence: InfluenceResult, *, axes: Any = None) -> Any:
    """Influence diagnostics, one panel per statistic (metafor's ``plot(influence(res))``).

    Parameters
    ----------
    influence : InfluenceResult
        From :func:`msc_meta.sensitivity.influence` (``result.influence()``).
    axes : sequence of matplotlib.axes.Axes, optional
        Nine Axes to draw on (in the order of :data:`INFLUENCE_PANELS`); a new
        3 × 3 figure by default.

    Returns
    -------
    numpy.ndarray
        The nine Axes, in the order of :data:`INFLUENCE_PANELS`.

    Raises
    ------
    MetaAnalysisError
        ``axes`` does not hold nine Axes.

    Notes
    -----
    Studies flagged as influential by metafor's rule are drawn in orange.
    The dashed lines are the cut-offs of that rule (dffits, Cook's
    distance, hat, dfbetas), ±1.96 for the studentized residuals, 1 for the
    covariance ratio, the full fit's τ² and Q, and the mean weight.

    References
    ----------
    .. [1] Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics
       for meta-analysis. Res Synth Methods 1(2):112-125.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5, 1.9], [0.04, 0.09, 0.05, 0.02, 0.03])
    >>> axes = influence_plot(res.influence())
    >>> len(axes)
    9
    >>> plt.close(axes[0].figure)
    """
    data = influence_data(influence)
    if axes is None:
        import matplotlib.pyplot as plt  # lazy: matplotlib loads only when drawing

        fig, grid = plt.subplots(3, 3, figsize=(9.0, 7.5), sharex=True)
        axes = grid.ravel()
    else:
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size != len(INFLUENCE_PANELS):
            raise MetaAnalysisError(
                f"axes holds {axes.size} Axes; influence_plot draws {len(INFLUENCE_PANELS)} panels"
            )
        fig = axes[0].get_figure(root=True)
    for ax, (name, title) in zip(axes, INFLUENCE_PANELS.items(), strict=True):
        part = data[data["statistic"] == name]
        style_axes(ax)
        ax.plot(part["position"], part["value"], color="0.6", linewidth=0.8, zorder=2)
        colors = np.where(part["influential"], FLAG_COLOR, POINT_COLOR)
        ax.scatter(part["position"], part["value"], s=16, c=colors, zorder=3)
        ref = float(part["reference"].iloc[0])
        if math.isfinite(ref):
            ax.axhline(ref, color="0.4", linestyle="--", linewidth=0.7, zorder=1)
            if name in ("rstudent", "dffits", "dfbetas"):
                ax.axhline(-ref, color="0.4", linestyle="--", linewidth=0.7, zorder=1)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes[-3:]:
        ax.set_xlabel("Study", fontsize=8)
    k = influence.k
    step = max(1, math.ceil(k / 10))
    axes[0].set_xticks(np.arange(1, k + 1, step))
    flagged = influence.influential
    fig.suptitle(
        "Influence diagnostics"
        + (f" (influential: {', '.join(flagged)})" if flagged else " (no influential study)"),
        fontsize=10,
    )
    fig.tight_layout()
    return axes
