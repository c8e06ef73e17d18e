"""Diagnostic plots: Galbraith (radial), L'Abbé and Baujat plots, with their data."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import special

from .._errors import MetaAnalysisError
from .._format import number
from ..sensitivity import baujat
from ._common import (
    TYPESET,
    AnyResult,
    PooledResult,
    is_random,
    measure_of,
    new_axes,
    place_labels,
    root_result,
    style_axes,
    tau2_of,
    to_display,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "baujat_data",
    "baujat_plot",
    "galbraith_data",
    "galbraith_plot",
    "labbe_data",
    "labbe_plot",
]

POINT_COLOR = "#1f3552"
BAND_COLOR = "#e6e6e6"
POOLED_COLOR = "#d55e00"


# --------------------------------------------------------------------------- Galbraith


def galbraith_data(
    result: AnyResult, *, model: Literal["common", "random"] = "common"
) -> pd.DataFrame:
    """The points of a Galbraith (radial) plot.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        For a subgroup analysis, the studies of ``result.overall``.
    model : {"common", "random"}, default "common"
        ``"common"`` (Galbraith 1988): :math:`x_i = 1/\\sqrt{v_i}`,
        :math:`z_i = y_i/\\sqrt{v_i}`. ``"random"``: τ² is added to each
        variance, as metafor's ``radial`` does for random-effects models.

    Returns
    -------
    DataFrame
        Columns ``study``, ``x`` (precision) and ``z`` (standardised effect).

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.2, 0.6], [0.04, 0.16], method="EE")
    >>> galbraith_data(res)[["x", "z"]].round(2).values.tolist()
    [[5.0, 1.0], [2.5, 1.5]]
    """
    root = root_result(result)
    model = _check_model(model, root)
    y = np.asarray(root.effect, dtype=float)
    v = np.asarray(root.variance, dtype=float) + (tau2_of(root) if model == "random" else 0.0)
    keep = np.isfinite(y) & np.isfinite(v)
    s = np.sqrt(v[keep])
    return pd.DataFrame(
        {
            "study": [str(lab) for lab, k in zip(root.labels, keep, strict=True) if k],
            "x": 1.0 / s,
            "z": y[keep] / s,
        }
    )


def _check_model(model: str, root: PooledResult) -> Literal["common", "random"]:
    if model == "common":
        return "common"
    if model == "random":
        if not is_random(root):
            raise MetaAnalysisError(
                "model='random' needs a random-effects result; this one is a common-effect model"
            )
        return "random"
    raise MetaAnalysisError(f"model={model!r} is not allowed; valid values are: common, random")


def _slope(root: PooledResult, model: str) -> float:
    if model == "random":
        return float(root.estimate)
    ce = getattr(root, "ce_estimate", math.nan)
    return float(ce) if math.isfinite(ce) else float(root.estimate)


def galbraith_plot(
    result: AnyResult,
    *,
    ax: Axes | None = None,
    model: Literal["common", "random"] = "common",
    band: float = 2.0,
    label_outliers: bool = True,
) -> Axes:
    """Galbraith (radial) plot: standardised effects against precision.

    Each study is a point :math:`(1/s_i,\\; y_i/s_i)`. The line through the
    origin has the pooled estimate as its slope; in the absence of
    heterogeneity about 95% of the points lie within ``band`` units of it
    (the shaded band), and points far from the band flag studies that
    contribute much heterogeneity. The horizontal axis doubles as the line
    of no effect (slope 0).

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        The meta-analysis (for subgroups, its ``overall`` studies).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    model : {"common", "random"}, default "common"
        ``"common"`` (Galbraith's plot): :math:`s_i = \\sqrt{v_i}` and the
        common-effect estimate as slope; ``"random"``:
        :math:`s_i = \\sqrt{v_i + \\hat\\tau^2}` and the random-effects
        estimate, as metafor's ``radial`` draws random-effects models.
    band : float, default 2.0
        Half-width of the band around the line, in standardised units (2 in
        Galbraith 1988; metafor uses 1.96).
    label_outliers : bool, default True
        Label the studies outside the band.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    With :math:`z_i = y_i/s_i` and :math:`x_i = 1/s_i`, the inverse-variance
    estimate :math:`\\hat\\theta = \\sum x_i z_i / \\sum x_i^2` is the slope of
    the least-squares line through the origin, and Cochran's Q is the sum of
    squared vertical distances :math:`\\sum (z_i - \\hat\\theta x_i)^2`
    (Galbraith 1988). metafor: ``radial(res)``; its arc scale of effects is
    not drawn here.

    References
    ----------
    .. [1] Galbraith RF (1988). A note on graphical presentation of estimated
       odds ratios from several clinical trials. Stat Med 7(8):889-894.
    .. [2] Galbraith RF (1988). Graphical display of estimates having
       differing standard errors. Technometrics 30(3):271-281.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
    >>> ax = galbraith_plot(res)
    >>> ax.get_xlabel()
    'Precision: 1/√(v)'
    >>> plt.close(ax.figure)
    """
    root = root_result(result)
    model = _check_model(model, root)
    if not (math.isfinite(band) and band > 0):
        raise MetaAnalysisError(f"band={band!r} must be a positive number")
    pts = galbraith_data(root, model=model)
    if len(pts) == 0:
        raise MetaAnalysisError("no study has an estimable effect; nothing to draw")
    b = _slope(root, model)
    ax, _ = new_axes(ax, (5.2, 4.4))
    style_axes(ax)
    x_max = float(pts["x"].max()) * 1.12
    xs = np.array([0.0, x_max])
    band_art = ax.fill_between(
        xs,
        b * xs - band,
        b * xs + band,
        color=BAND_COLOR,
        linewidth=0,
        zorder=0,
        label=f"±{band:g} around the line",
    )
    band_art.set_gid("galbraith-band")
    for sign in (-1, 1):
        ax.plot(xs, b * xs + sign * band, color="0.45", linewidth=0.8, linestyle=(0, (4, 3)))
    shown = number(float(to_display(root, b)), 2, style=TYPESET)
    spec = measure_of(root.measure)
    name = spec.axis_name if spec is not None else "estimate"
    which = "Common-effect" if model == "common" else "Random-effects"
    (line,) = ax.plot(
        xs,
        b * xs,
        color=POOLED_COLOR,
        linewidth=1.3,
        zorder=2,
        label=f"{which} {name.lower()}: {shown} (slope)",
    )
    line.set_gid("galbraith-line")
    ax.axhline(0.0, color="0.55", linewidth=0.7, zorder=1)
    sc = ax.scatter(
        pts["x"], pts["z"], s=26, color=POINT_COLOR, edgecolors="white", linewidths=0.6, zorder=3
    )
    sc.set_gid("galbraith-points")
    z_all = np.concatenate([pts["z"].to_numpy(float), b * xs - band, b * xs + band])
    pad = 0.08 * (z_all.max() - z_all.min())
    ax.set_xlim(0.0, x_max)
    ax.set_ylim(float(z_all.min() - pad), float(z_all.max() + pad))
    if label_outliers:
        out = pts[(pts["z"] - b * pts["x"]).abs() > band]
        place_labels(
            ax,
            out["x"].tolist(),
            out["z"].tolist(),
            out["study"].tolist(),
            gid="galbraith-label",
        )
    ax.legend(loc="best", fontsize="small", frameon=True, framealpha=0.9)
    tau = "" if model == "common" else " + τ²"
    ax.set_xlabel(f"Precision: 1/√(v{tau})")
    ax.set_ylabel(f"Standardised effect: y/√(v{tau})")
    return ax


# --------------------------------------------------------------------------- L'Abbé


def labbe_data(result: AnyResult) -> pd.DataFrame:
    """Event rates of the two arms of each study (L'Abbé plot).

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        A meta-analysis of two-arm binary data (measure RR, OR, PETO, RD or
        AS) that carries its arm data (``study_data``).

    Returns
    -------
    DataFrame
        Columns ``study``, ``rate_c`` (events/total, control arm: the x axis),
        ``rate_t`` (experimental arm: the y axis) and ``weight`` (percent).

    Raises
    ------
    MetaAnalysisError
        The result has no two-arm binary data.

    Examples
    --------
    >>> import msc_meta as mm
    >>> es = mm.effect_sizes("RR", events_t=[4, 6], n_t=[123, 306],
    ...                      events_c=[11, 29], n_c=[139, 303])
    >>> labbe_data(mm.meta_analysis(es))["rate_t"].round(4).tolist()
    [0.0325, 0.0196]
    """
    root = root_result(result)
    sd = root.study_data
    needed = ("events_t", "n_t", "events_c", "n_c")
    spec = measure_of(root.measure)
    two_group_events = spec is not None and spec.family == "binary2"
    if not two_group_events or sd is None or not set(needed) <= set(sd.columns):
        what = f"measure {root.measure!r}" if root.measure else "no measure"
        raise MetaAnalysisError(
            f"a L'Abbé plot needs two-arm binary data (events_t, n_t, events_c, n_c), but the "
            f"result has {what}"
            + ("" if sd is not None else " and no arm data (study_data)")
            + "; pool effect_sizes('RR' | 'OR' | 'RD' | 'AS', events_t=..., n_t=..., "
            "events_c=..., n_c=...) or use mantel_haenszel / peto"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_t = sd["events_t"].to_numpy(float) / sd["n_t"].to_numpy(float)
        rate_c = sd["events_c"].to_numpy(float) / sd["n_c"].to_numpy(float)
    return pd.DataFrame(
        {
            "study": [str(s) for s in root.labels],
            "rate_c": rate_c,
            "rate_t": rate_t,
            "weight": np.asarray(root.weights, dtype=float),
        }
    )


def _pooled_curve(measure: str, b: float, pc: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Experimental-arm rate implied by the pooled effect ``b`` at control rate ``pc``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            pt = pc * math.exp(b)
        elif measure in ("OR", "PETO"):
            pt = special.expit(special.logit(pc) + b)
        elif measure == "RD":
            pt = pc + b
        else:  # AS: arcsine square-root difference
            a = np.arcsin(np.sqrt(pc)) + b
            pt = np.where((a >= 0) & (a <= math.pi / 2), np.sin(a) ** 2, np.nan)
    return np.where((pt >= 0) & (pt <= 1), pt, np.nan)


def labbe_plot(result: AnyResult, *, ax: Axes | None = None, labels: bool = False) -> Axes:
    """L'Abbé plot: event rate in the experimental arm against the control arm.

    Each study is a circle at (control rate, experimental rate) with area
    proportional to its weight in the meta-analysis. The diagonal is the
    line of no effect; the curve is the pooled effect carried to the
    probability scale (for a risk ratio :math:`p_t = p_c e^{\\hat\\mu}`, for
    an odds ratio :math:`\\operatorname{logit} p_t = \\operatorname{logit}
    p_c + \\hat\\mu`, for a risk difference :math:`p_t = p_c + \\hat\\mu`).
    Points below the diagonal have fewer events with the experimental
    treatment.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        A meta-analysis of two-arm binary data with its arm data
        (``study_data``; for subgroups, ``result.overall``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    labels : bool, default False
        Label the circles with the study names.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    MetaAnalysisError
        The result has no two-arm binary data.

    Notes
    -----
    metafor's ``labbe(res, transf = exp)`` for a risk ratio draws the same
    rates (it adds 1/2 to zero cells; rates here are the raw proportions,
    so 0 is drawn at 0).

    References
    ----------
    .. [1] L'Abbé KA, Detsky AS, O'Rourke K (1987). Meta-analysis in clinical
       research. Ann Intern Med 107(2):224-233.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> mh = mm.mantel_haenszel("OR", data=bcg, events_t="tpos", n_t="n_t",
    ...                         events_c="cpos", n_c="n_c", labels="study")
    >>> ax = labbe_plot(mh)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Event rate, control arm', 'Event rate, experimental arm')
    >>> plt.close(ax.figure)
    """
    root = root_result(result)
    pts = labbe_data(root)
    ok = pts[np.isfinite(pts["rate_c"]) & np.isfinite(pts["rate_t"])]
    ax, _ = new_axes(ax, (4.8, 4.6))
    style_axes(ax)
    top = float(max(ok["rate_c"].max(), ok["rate_t"].max(), 1e-3)) * 1.1
    top = min(top, 1.0)
    (null,) = ax.plot([0, top], [0, top], color="0.35", linewidth=0.9, label="No effect")
    null.set_gid("labbe-null")
    pc = np.linspace(0.0, top, 400)
    pt = _pooled_curve(str(root.measure), float(root.estimate), pc)
    shown = to_display(root, float(root.estimate))
    spec = measure_of(root.measure)
    name = spec.axis_name if spec is not None else "effect"
    (curve,) = ax.plot(
        pc,
        pt,
        color=POOLED_COLOR,
        linewidth=1.3,
        linestyle=(0, (5, 2)),
        label=f"Pooled {name.lower()} {number(float(shown), 2, style=TYPESET)}",
    )
    curve.set_gid("labbe-pooled")
    w = ok["weight"].to_numpy(float)
    w = np.where(np.isfinite(w), w, 0.0)
    area = 500.0 * w / (w.max() if w.max() > 0 else 1.0)
    order = np.argsort(-area)  # large circles first, small ones on top
    sc = ax.scatter(
        ok["rate_c"].to_numpy(float)[order],
        ok["rate_t"].to_numpy(float)[order],
        s=np.maximum(area[order], 6.0),
        facecolor=POINT_COLOR,
        alpha=0.55,
        edgecolors=POINT_COLOR,
        linewidths=0.8,
        zorder=3,
    )
    sc.set_gid("labbe-points")
    if labels:
        for _, r in ok.iterrows():
            ax.annotate(
                str(r["study"]),
                (float(r["rate_c"]), float(r["rate_t"])),
                xytext=(5, 3),
                textcoords="offset points",
                fontsize="x-small",
                color="0.2",
            )
    ax.set_xlim(0.0, top)
    ax.set_ylim(0.0, top)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Event rate, control arm")
    ax.set_ylabel("Event rate, experimental arm")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


# --------------------------------------------------------------------------- Baujat


def baujat_data(result: AnyResult) -> pd.DataFrame:
    """Baujat coordinates: each study's contribution to Q and influence on the estimate.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        For a subgroup analysis, ``result.overall``.

    Returns
    -------
    DataFrame
        Columns ``study``, ``x`` (squared Pearson residual
        :math:`(y_i - \\hat\\mu)^2/(v_i + \\hat\\tau^2)`; for a common-effect
        model the study's contribution to Q) and ``y`` (influence:
        :math:`(\\hat\\mu_{(-i)} - \\hat\\mu)^2 / \\operatorname{Var}(\\hat\\mu_{(-i)})`,
        from the model refitted without study i with every option of the fit).

    Notes
    -----
    As metafor's ``baujat.rma``; computed by :func:`msc_meta.sensitivity.baujat`,
    whose refits (:meth:`~msc_meta.MetaAnalysisResult.subset`) keep every
    option of the original fit: the τ² method, test, level, ``tol`` and
    ``max_iter``, and for Mantel-Haenszel and Peto results ``add``, ``to``,
    ``drop00`` and ``correct``. Warnings of the refits (e.g. k = 1) are not
    shown, as metafor does. Studies whose refit is not possible get NaN, and
    so do studies whose refit has standard error 0 (Hartung-Knapp with
    identical remaining effects), with a :class:`~msc_meta.BoundaryWarning`.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02], method="EE")
    >>> bj = baujat_data(res)
    >>> round(float(bj["x"].sum()), 6) == round(res.q, 6)
    True
    """
    return baujat(root_result(result))


def baujat_plot(result: AnyResult, *, ax: Axes | None = None, labels: bool = True) -> Axes:
    """Baujat plot: contribution to heterogeneity against influence on the pooled estimate.

    Studies to the right contribute most to Cochran's Q; studies at the top
    move the pooled estimate most when left out. Studies in the top right
    corner drive both the heterogeneity and the result.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        The meta-analysis (for subgroups, its ``overall`` studies).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    labels : bool, default True
        Label the points with the study names.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The coordinates are those of :func:`baujat_data`, as metafor's
    ``baujat`` computes them (for random-effects models the x axis is the
    squared Pearson residual).

    References
    ----------
    .. [1] Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for
       exploring heterogeneity in meta-analyses: application to a
       meta-analysis of 65 trials. Stat Med 21(18):2641-2652.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02])
    >>> ax = baujat_plot(res)
    >>> len(ax.texts)
    4
    >>> plt.close(ax.figure)
    """
    root = root_result(result)
    if len(root.labels) < 2:
        raise MetaAnalysisError("a Baujat plot needs at least 2 studies (k = 1)")
    pts = baujat_data(root)
    ok = pts[np.isfinite(pts["x"]) & np.isfinite(pts["y"])]
    ax, _ = new_axes(ax, (5.4, 4.4))
    style_axes(ax)
    ax.grid(True, color="0.92", linewidth=0.7)
    ax.set_axisbelow(True)
    sc = ax.scatter(
        ok["x"], ok["y"], s=22, color=POINT_COLOR, edgecolors="white", linewidths=0.5, zorder=3
    )
    sc.set_gid("baujat-points")
    x_top = float(ok["x"].max()) * 1.12 if len(ok) else 1.0
    y_top = float(ok["y"].max()) * 1.12 if len(ok) else 1.0
    ax.set_xlim(0.0, x_top)
    ax.set_ylim(0.0, y_top)
    if labels:
        place_labels(
            ax, ok["x"].tolist(), ok["y"].tolist(), ok["study"].tolist(), gid="baujat-label"
        )
    if is_random(root):
        xlabel = "Squared Pearson residual (contribution to heterogeneity)"
    else:
        xlabel = "Contribution to overall heterogeneity (Q)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Influence on the pooled estimate")
    return ax
