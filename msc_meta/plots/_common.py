"""Helpers shared by the plotting modules: measures and scales, axis ticks, text sizes.

Nothing here imports matplotlib at module level; the drawing helpers import it
inside the function, so that the data-preparation functions (``forest_data``,
``funnel_data`` ...) work, and are testable, without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import MetaAnalysisError
from .._format import Style
from ..effects import back_transform, inverse_pft
from ..effects import measure_of as measure_of  # the plots' lookup, re-exported
from ..moderators import SubgroupResult
from ..results import BinaryPooledResult, MetaAnalysisResult

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FloatArray = NDArray[np.float64]
PooledResult: TypeAlias = "MetaAnalysisResult | BinaryPooledResult"
AnyResult: TypeAlias = "MetaAnalysisResult | BinaryPooledResult | SubgroupResult"

#: Figures format numbers with the typographic minus (:mod:`msc_meta._format`).
TYPESET: Style = "typeset"


# --------------------------------------------------------------------------- results


def root_result(result: AnyResult) -> PooledResult:
    """The result holding every study: ``result`` itself or a subgroup analysis' ``overall``."""
    if isinstance(result, SubgroupResult):
        return result.overall
    if isinstance(result, MetaAnalysisResult | BinaryPooledResult):
        return result
    raise MetaAnalysisError(
        f"result is a {type(result).__name__}; give a MetaAnalysisResult, BinaryPooledResult "
        "or SubgroupResult (from meta_analysis, mantel_haenszel, peto or subgroup_analysis)"
    )


def is_random(result: PooledResult) -> bool:
    """True for a random-effects model."""
    return bool(getattr(result, "is_random", False))


def tau2_of(result: PooledResult) -> float:
    """τ² of a random-effects model, 0 otherwise."""
    return float(getattr(result, "tau2", 0.0)) if is_random(result) else 0.0


def analysis_name(measure: str | None) -> str:
    """The name of the analysis scale of ``measure``, ``"Effect"`` without a known measure."""
    spec = measure_of(measure)
    return spec.analysis_name if spec is not None else "Effect"


def family_of(measure: str | None) -> str | None:
    """The data family of a measure (``"binary2"``, ``"means2"``, ...), None if unknown."""
    spec = measure_of(measure)
    return spec.family if spec is not None else None


def display_kind(measure: str | None) -> Literal["log", "transform", "identity"]:
    """How effects are shown: on a log axis, back-transformed, or as they are."""
    spec = measure_of(measure)
    if spec is None or spec.back is None:
        return "identity"
    return "log" if spec.is_ratio else "transform"


def can_back_transform(result: PooledResult) -> bool:
    """False only for PFT without study sizes (the inverse needs them)."""
    return not (result.measure == "PFT" and getattr(result, "n_total", None) is None)


def to_display(
    result: PooledResult, x: ArrayLike, *, n: ArrayLike | None = None, transform: bool = True
) -> FloatArray:
    """Values of ``x`` (analysis scale) on the display scale of ``result.measure``.

    ``n`` gives the study sizes for the PFT inverse of study-level values (one
    per value); pooled values use the harmonic mean of all study sizes, as
    metafor's ``transf.ipft.hm``.
    """
    arr = np.asarray(x, dtype=np.float64)
    if not transform or display_kind(result.measure) == "identity":
        return arr.copy()
    if result.measure == "PFT":
        if not can_back_transform(result):
            return arr.copy()
        if n is not None:
            nn = np.broadcast_to(np.asarray(n, dtype=np.float64), arr.shape)
            flat = [
                float(inverse_pft(v, [m])) if np.isfinite(v) else math.nan
                for v, m in zip(arr.ravel(), nn.ravel(), strict=True)
            ]
            return np.asarray(flat, dtype=np.float64).reshape(arr.shape)
        return np.asarray(
            back_transform("PFT", arr, n=getattr(result, "n_total", None)), dtype=np.float64
        )
    return np.asarray(back_transform(result.measure, arr), dtype=np.float64)


# --------------------------------------------------------------------------- axis limits


def nice_linear(lo: float, hi: float, *, max_ticks: int = 7) -> tuple[float, ...]:
    """Round ticks covering ``[lo, hi]``: steps 1, 2, 2.5 and 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise MetaAnalysisError(f"cannot make an axis from {lo!r} to {hi!r}")
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(max_ticks - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0, 20.0):
        step = mult * power
        first = math.floor(lo / step + 1e-9) * step
        last = math.ceil(hi / step - 1e-9) * step
        n = round((last - first) / step) + 1
        if n <= max_ticks:
            return tuple(round(first + i * step, 12) + 0.0 for i in range(n))
    step = 10 * power  # pragma: no cover - the loop always returns
    return (math.floor(lo / step) * step, math.ceil(hi / step) * step)  # pragma: no cover


def ticks_within_linear(lo: float, hi: float, *, max_ticks: int = 7) -> tuple[float, ...]:
    """Round ticks inside a given ``[lo, hi]``."""
    for n in range(max_ticks, 1, -1):
        ticks = [t for t in nice_linear(lo, hi, max_ticks=n) if lo - 1e-12 <= t <= hi + 1e-12]
        if 2 <= len(ticks) <= max_ticks:
            return tuple(ticks)
    return (lo, hi)


_LOG_SETS: tuple[tuple[float, ...], ...] = ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))


def _log_candidates(mantissas: Sequence[float], lo: float, hi: float) -> list[float]:
    out = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2):
        out += [m * 10.0**e for m in mantissas]
    return sorted(out)


def nice_log(lo: float, hi: float, *, max_ticks: int = 7) -> tuple[float, ...]:
    """Ticks on a 1-2-5, 1-3 or decade grid covering ``[lo, hi]`` (positive values)."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        raise MetaAnalysisError(f"cannot make a log axis from {lo!r} to {hi!r}")
    if hi <= lo:
        lo, hi = lo / 2, hi * 2
    best: tuple[float, ...] = ()
    for mantissas in _LOG_SETS:
        cand = _log_candidates(mantissas, lo, hi)
        first = max(c for c in cand if c <= lo * (1 + 1e-9))
        last = min(c for c in cand if c >= hi * (1 - 1e-9))
        ticks = tuple(_clean(c) for c in cand if first <= c <= last)
        best = ticks
        if len(ticks) <= max_ticks:
            return ticks
    return best


def ticks_within_log(lo: float, hi: float, *, max_ticks: int = 7) -> tuple[float, ...]:
    """Ticks of the 1-2-5, 1-3 or decade grid inside a given ``[lo, hi]``."""
    ticks: tuple[float, ...] = ()
    for mantissas in _LOG_SETS:
        cand = _log_candidates(mantissas, lo, hi)
        ticks = tuple(_clean(c) for c in cand if lo * (1 - 1e-9) <= c <= hi * (1 + 1e-9))
        if len(ticks) <= max_ticks:
            break
    return ticks if len(ticks) >= 2 else (lo, hi)


def _clean(x: float) -> float:
    return float(f"{x:.10g}")


def check_xlim(xlim: Any, log: bool) -> tuple[float, float] | None:
    """Validate a user ``xlim`` (display scale)."""
    if xlim is None:
        return None
    try:
        lo, hi = (float(v) for v in xlim)
    except (TypeError, ValueError):
        raise MetaAnalysisError(
            f"xlim={xlim!r} is not a pair of numbers; give (low, high) on the display scale"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise MetaAnalysisError(f"xlim={xlim!r} must be finite with low < high")
    if log and lo <= 0:
        raise MetaAnalysisError(
            f"xlim={xlim!r} starts at {lo:g}, but the axis of a ratio measure is logarithmic; "
            "give positive limits such as (0.1, 10)"
        )
    return lo, hi


# --------------------------------------------------------------------------- drawing


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Axes, Figure]:
    """``ax`` and its figure, or a new figure of ``figsize`` inches with one Axes."""
    if ax is not None:
        root = ax.get_figure(root=True)
        assert root is not None
        return ax, root
    import matplotlib.pyplot as plt

    fig_new, ax_new = plt.subplots(figsize=figsize)
    return ax_new, fig_new


def text_width_pt(text: str, fontsize: float, *, bold: bool = False) -> float:
    """Width of ``text`` in points, measured with the current font (no figure needed)."""
    if not text:
        return 0.0
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=fontsize, weight="bold" if bold else "normal")
    widths = []
    for dpi in _MEASURE_DPI:
        width, _, _ = _measuring_renderer(dpi).get_text_width_height_descent(
            text, prop, ismath=False
        )
        widths.append(float(width) * 72.0 / dpi)
    return max(widths)


_RENDERERS: dict[float, Any] = {}
# glyph hinting changes widths with the resolution (bold text at 100 dpi is up to 5% wider than
# at 720 dpi): the widest of a screen and a print resolution is used
_MEASURE_DPI = (100.0, 720.0)


def _measuring_renderer(dpi: float) -> Any:
    if dpi not in _RENDERERS:
        from matplotlib.backends.backend_agg import RendererAgg

        _RENDERERS[dpi] = RendererAgg(8, 8, dpi)  # type: ignore[no-untyped-call]
    return _RENDERERS[dpi]


def style_axes(ax: Axes) -> None:
    """Light frame: left and bottom spines only, outward ticks."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(direction="out")


def place_labels(
    ax: Axes,
    x: Sequence[float],
    y: Sequence[float],
    texts: Sequence[str],
    *,
    fontsize: float = 7.0,
    color: str = "0.15",
    gid: str = "label",
) -> list[Any]:
    """Label points, choosing for each label the offset that overlaps least.

    A greedy placement: for each point, in order of decreasing y, try eight
    positions around it at two distances and keep the first that overlaps
    neither an earlier label, nor a point, nor the Axes' edge (else the one
    with least overlap). Coordinates are in points, from the current limits
    and figure size, so set the limits first.
    """
    fig = ax.get_figure(root=True)
    assert fig is not None
    to_pt = ax.transData + fig.dpi_scale_trans.inverted()  # data -> inches
    pts = np.asarray(to_pt.transform(np.column_stack([x, y])), dtype=float) * 72.0
    box = ax.get_window_extent().transformed(fig.dpi_scale_trans.inverted())
    x0, y0, x1, y1 = box.x0 * 72, box.y0 * 72, box.x1 * 72, box.y1 * 72
    height = fontsize * 1.0
    placed: list[tuple[float, float, float, float]] = []
    r_pt = 3.0
    out = []
    order = np.argsort(-pts[:, 1], kind="stable")
    dirs = [(1, 0.3), (-1, 0.3), (1, -1), (-1, -1), (0, 1), (0, -1.6), (1, 1), (-1, 1)]
    for i in order:
        w = text_width_pt(texts[i], fontsize)
        best: tuple[float, tuple[float, float, str, str]] | None = None
        for dist in (4.0, 10.0):
            for dx, dy in dirs:
                ox, oy = dx * dist, dy * dist
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                left = pts[i, 0] + ox - (0 if dx > 0 else w if dx < 0 else w / 2)
                bottom = pts[i, 1] + oy - (0 if dy >= 0 else height)
                cand = (left, bottom, left + w, bottom + height)
                cost = sum(_overlap(cand, b) for b in placed)
                cost += sum(
                    _overlap(cand, (px - r_pt, py - r_pt, px + r_pt, py + r_pt)) for px, py in pts
                )
                outside = (
                    max(0.0, x0 - cand[0])
                    + max(0.0, cand[2] - x1)
                    + max(0.0, y0 - cand[1])
                    + max(0.0, cand[3] - y1)
                )
                cost += outside * height * 4 + dist * 0.01
                va = "bottom" if dy >= 0 else "top"
                if best is None or cost < best[0]:
                    best = (cost, (ox, oy, ha, va))
            if best is not None and best[0] < 1.0:
                break
        assert best is not None
        ox, oy, ha, va = best[1]
        left = pts[i, 0] + ox - (0 if ha == "left" else w if ha == "right" else w / 2)
        bottom = pts[i, 1] + oy - (0 if va == "bottom" else height)
        placed.append((left, bottom, left + w, bottom + height))
        t = ax.annotate(
            texts[i],
            (float(x[i]), float(y[i])),
            xytext=(ox, oy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            color=color,
            parse_math=False,
        )
        t.set_gid(gid)
        out.append(t)
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0
