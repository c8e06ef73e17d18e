"""Drawing a :class:`~msc_meta.plots.ForestData` with matplotlib (imported here only)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import MetaAnalysisError
from .._format import tick
from ._common import text_width_pt
from ._forest_rows import TEXT_KINDS
from .rob import LEVEL_STYLES, domain_header, draw_rob_marks, rob_legend_lines

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Transform

    from ._forest_rows import ForestColumn
    from .forest import ForestData

# colours: grey-blue squares, dark diamonds, a red prediction bar (Okabe-Ito vermillion)
SQUARE_COLOR = "#5d7fa3"
DIAMOND_COLOR = "#1f3552"
PREDICTION_COLOR = "#d55e00"
LINE_COLOR = "#1a1a1a"
NULL_COLOR = "#808080"
FOOTER_COLOR = "#333333"


@dataclass(frozen=True)
class _Placed:
    column: ForestColumn
    x_in: float  # anchor, inches from the Axes' left (left side) or right (right side) edge
    left_in: float  # left edge of the column, same reference
    width_in: float


def _layout(fd: ForestData, fs: float) -> tuple[list[_Placed], float, float, float]:
    """Place the columns; return them, the left and right widths and the footer width (inches)."""
    rows = fd.rows
    gap = 1.3 * fs / 72
    inner_gap = 0.7 * fs / 72
    widths: dict[str, float] = {}
    for col in fd.columns:
        texts = rows[~rows["kind"].isin(TEXT_KINDS)]
        w = text_width_pt(col.header, fs, bold=True)
        for text, bold in zip(texts[col.key], texts["bold"], strict=True):
            w = max(w, text_width_pt(str(text), fs, bold=bool(bold)))
        widths[col.key] = w / 72
    # a group header wider than its columns widens them
    for side in ("left", "right"):
        cols = [c for c in fd.columns if c.side == side]
        for grp in {c.group for c in cols if c.group}:
            members = [c for c in cols if c.group == grp]
            span = sum(widths[c.key] for c in members) + gap * (len(members) - 1)
            need = text_width_pt(grp, fs, bold=True) / 72
            if need > span:
                widths[members[0].key] += need - span
    placed: list[_Placed] = []
    # left columns, from the graph leftwards
    x = -gap
    left_cols = [c for c in fd.columns if c.side == "left"]
    for i, col in enumerate(reversed(left_cols)):
        w = widths[col.key]
        left = x - w
        placed.append(_Placed(col, _anchor(col, left, w), left, w))
        nxt = left_cols[len(left_cols) - 2 - i] if i + 1 < len(left_cols) else None
        x = left - (inner_gap if nxt is not None and nxt.group and nxt.group == col.group else gap)
    left_width = -min((p.left_in for p in placed), default=0.0)
    # right columns, from the graph rightwards (the CI sits close to its estimate)
    x = gap
    for col in (c for c in fd.columns if c.side == "right"):
        w = widths[col.key]
        placed.append(_Placed(col, _anchor(col, x, w), x, w))
        x += w + (inner_gap if col.key == "estimate_text" else gap)
    right_width = x - gap if any(c.side == "right" for c in fd.columns) else 0.0
    right_width += sum(_rob_widths(fd, fs)) + (gap if fd.rob_tool is not None else 0.0)
    footer = rows[rows["kind"].isin(TEXT_KINDS)]
    footer_w = max((text_width_pt(str(t), 0.9 * fs) / 72 for t in footer["label"]), default=0.0)
    return placed, left_width, right_width, footer_w


def _anchor(col: ForestColumn, left: float, width: float) -> float:
    if col.align == "left":
        return left
    if col.align == "center":
        return left + width / 2
    return left + width


def _default_fontsize(n_lines: float) -> float:
    return float(np.clip(9.0 - (n_lines - 40.0) / 20.0, 6.0, 9.0))


def draw_forest(
    fd: ForestData, *, ax: Axes | None, fontsize: float | None, plot_width: float | None
) -> Axes:
    """Draw ``fd`` on ``ax`` (fitted into its place) or on a new figure sized to the forest."""
    import matplotlib.pyplot as plt
    from matplotlib import transforms as mtransforms

    rows = fd.rows
    y_top = float(rows["y"].min()) - 0.6
    y_bottom = float(rows["y"].max()) + 0.6
    has_groups = any(c.group for c in fd.columns)
    header_rows = 2.0 if has_groups else 1.0
    span = y_bottom - y_top

    if ax is None:
        fs = float(fontsize) if fontsize is not None else _default_fontsize(span + header_rows)
        row_h = 1.55 * fs / 72  # inches
        placed, left_w, right_w, footer_w = _layout(fd, fs)
        pw = 3.0 if plot_width is None else float(plot_width)
        if plot_width is None:
            pw = max(pw, footer_w - left_w + 0.1)
        margin = 0.08
        top = (header_rows + 0.4) * row_h + margin
        lines = 0.0 if not _has_direction(fd) else 2.1 if _stacked(fd, fs, pw) else 1.0
        bottom = (3.6 + lines) * fs / 72 + margin + _rob_legend_height(fd, fs)
        width = left_w + pw + right_w + 2 * margin
        height = span * row_h + top + bottom
        fig: Figure = plt.figure(figsize=(width, height))
        ax = fig.add_axes(
            (
                (margin + left_w) / width,
                bottom / height,
                pw / width,
                span * row_h / height,
            )
        )
    else:
        fig_any = ax.get_figure(root=True)
        if fig_any is None:  # pragma: no cover - an Axes always belongs to a figure
            raise MetaAnalysisError("ax does not belong to a figure")
        fig = fig_any
        # the forest (columns, graph, headers) is fitted into the Axes' place: shrink the Axes
        pos = ax.get_position()
        fig_w, fig_h = fig.get_figwidth(), fig.get_figheight()
        slot_w, slot_h = pos.width * fig_w, pos.height * fig_h
        if fontsize is not None:
            fs = float(fontsize)
        else:
            fs = float(np.clip(slot_h * 72 / ((span + header_rows + 0.4) * 1.55), 4.0, 9.0))
        placed, left_w, right_w, footer_w = _layout(fd, fs)
        min_graph = max(1.5, 0.3 * slot_w) if plot_width is None else float(plot_width)
        if fontsize is None and left_w + right_w + min_graph > slot_w:
            # too narrow for the columns: a smaller font (not below 5 points)
            fs = max(5.0, fs * (slot_w - min_graph) / (left_w + right_w))
            placed, left_w, right_w, footer_w = _layout(fd, fs)
        head = (header_rows + 0.4) * 1.55 * fs / 72
        pw = max(slot_w - left_w - right_w, 1.0) if plot_width is None else float(plot_width)
        graph_h = max(slot_h - head, 0.5)
        ax.set_position((pos.x0 + left_w / fig_w, pos.y0, pw / fig_w, graph_h / fig_h))
        row_h = graph_h / span

    assert ax is not None
    ax.set_ylim(y_bottom, y_top)
    if fd.log_scale:
        ax.set_xscale("log")
    ax.set_xlim(*fd.xlim)
    graph_w_pt = ax.get_position().width * fig.get_figwidth() * 72
    _style_forest_axes(ax, fd, fs, _thin_ticks(fd, graph_w_pt, 0.9 * fs))

    def x_transform(dx_in: float, right: bool, above_pt: float | None = None) -> Transform:
        # x: inches from the Axes' left (or right) edge; y: the rows (data), or, for the
        # headers, points above the top of the Axes (given y = 1)
        edge = mtransforms.Affine2D().translate(1.0 if right else 0.0, 0.0)
        offset = mtransforms.ScaledTranslation(dx_in, 0.0, fig.dpi_scale_trans)
        y_tr = ax.transData
        if above_pt is not None:
            y_tr = ax.transAxes + mtransforms.ScaledTranslation(
                0.0, above_pt / 72, fig.dpi_scale_trans
            )
        return mtransforms.blended_transform_factory(edge + ax.transAxes + offset, y_tr)

    _draw_graph(ax, fd, fs, row_h * 72)
    _draw_texts(ax, fd, fs, placed, x_transform, has_groups, fig.get_facecolor())
    if fd.rob_tool is not None:
        _draw_rob(ax, fd, fs, placed, right_w, x_transform, row_h * 72)
    return ax


# --------------------------------------------------------------------------- risk of bias

#: Line height of the risk-of-bias key under the plot (points per point of font size).
_ROB_LINE = 1.2 * 0.9


def _rob_widths(fd: ForestData, fs: float) -> list[float]:
    """Widths (inches) of the risk-of-bias columns; none without ``rob``."""
    if fd.rob_tool is None:
        return []
    headers = [domain_header(d) for d in fd.rob_tool.domains]
    return [max(text_width_pt(h, fs, bold=True), 1.5 * fs) / 72 + 0.25 * fs / 72 for h in headers]


def _rob_legend_height(fd: ForestData, fs: float) -> float:
    """Height (inches) of the risk-of-bias key under the plot; 0 without ``rob``."""
    if fd.rob_tool is None:
        return 0.0
    n = len(rob_legend_lines(fd.rob_tool, list(LEVEL_STYLES)))
    return (n + 0.6) * _ROB_LINE * fs / 72


def _draw_rob(
    ax: Axes,
    fd: ForestData,
    fs: float,
    placed: list[_Placed],
    right_w: float,
    x_transform: Any,
    row_pt: float,
) -> None:
    """The risk-of-bias columns right of the texts, and their key under the plot."""
    assert fd.rob_tool is not None and fd.rob is not None
    widths = _rob_widths(fd, fs)
    x = right_w - sum(widths)
    centres = []
    for w in widths:
        centres.append(x + w / 2)
        x += w
    diameter = min(0.8 * row_pt, 1.25 * fs)
    for domain, centre in zip(fd.rob_tool.domains, centres, strict=True):
        _header(
            ax, domain_header(domain), x_transform(centre, True, 0.55 * 1.55 * fs), "center",
            fs, "forest-rob-header",
        )  # fmt: skip
        cells = fd.rob[fd.rob["domain"] == domain]
        if len(cells):
            draw_rob_marks(
                ax,
                [0.0] * len(cells),
                cells["y"].astype(float).tolist(),
                cells["level"].tolist(),
                diameter,
                transform=x_transform(centre, True),
                gid="forest-rob",
            )
    # the key starts under the axis texts, at the left edge of the label column
    label_col = next(p for p in placed if p.column.key == "label")
    lines = 0.0 if not _has_direction(fd) else 2.1 if _stacked(fd, fs, _graph_in(ax)) else 1.0
    top = -(3.4 + lines) * fs
    levels = fd.rob["level"].tolist() or ["no_information"]
    for i, text in enumerate(rob_legend_lines(fd.rob_tool, levels)):
        t = ax.text(
            0,
            0.0,
            text,
            transform=x_transform(label_col.left_in, False, top - i * _ROB_LINE * fs),
            ha="left",
            va="top",
            fontsize=0.9 * fs,
            fontweight="bold" if i == 0 else "normal",
            color=FOOTER_COLOR,
            clip_on=False,
            parse_math=False,
        )
        t.set_gid("forest-rob-key")


def _graph_in(ax: Axes) -> float:
    fig = ax.get_figure(root=True)
    assert fig is not None
    return float(ax.get_position().width * fig.get_figwidth())


def _thin_ticks(fd: ForestData, width_pt: float, fs: float) -> tuple[float, ...]:
    """Drop every other tick (keeping the null) until the labels no longer collide."""
    ticks = list(fd.xticks)

    def pos(t: float) -> float:
        lo, hi = fd.xlim
        if fd.log_scale:
            return width_pt * math.log(t / lo) / math.log(hi / lo)
        return width_pt * (t - lo) / (hi - lo)

    def crowded(ts: list[float]) -> bool:
        for a, b in itertools.pairwise(ts):
            half = (text_width_pt(tick(a), fs) + text_width_pt(tick(b), fs)) / 2
            if pos(b) - pos(a) < half + fs:
                return True
        return False

    while len(ticks) > 2 and crowded(ticks):
        keep = fd.null_value if fd.null_value in ticks else ticks[len(ticks) // 2]
        anchor = ticks.index(float(keep))
        ticks = [t for i, t in enumerate(ticks) if (i - anchor) % 2 == 0]
    return tuple(ticks)


def _style_forest_axes(ax: Axes, fd: ForestData, fs: float, ticks: tuple[float, ...]) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.8)
    ax.set_yticks([])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(list(ticks), labels=[tick(t) for t in ticks])
    ax.tick_params(axis="x", labelsize=0.9 * fs, length=3, width=0.8, pad=2)
    ax.patch.set_visible(False)
    if not _has_direction(fd):
        ax.set_xlabel(fd.effect_label, fontsize=0.9 * fs, labelpad=3)


def _has_direction(fd: ForestData) -> bool:
    return fd.label_left is not None or fd.label_right is not None


def _direction_texts(fd: ForestData) -> tuple[str | None, str | None]:
    """The labels under the axis as drawn, with their arrows."""
    left, right = fd.label_left, fd.label_right
    if left is not None and not left.startswith("←"):
        left = f"← {left}"
    if right is not None and not right.endswith("→"):
        right = f"{right} →"
    return left, right


def _at_null(fd: ForestData) -> float | None:
    """The null line's position when the labels meet there (it is inside the axis)."""
    null = fd.null_value
    return null if null is not None and fd.xlim[0] <= null <= fd.xlim[1] else None


def _stacked(fd: ForestData, fs: float, graph_in: float) -> bool:
    """True when both labels go to the ends of the axis and do not fit side by side there.

    The right one then goes on a line of its own, under the left one.
    """
    left, right = _direction_texts(fd)
    if left is None or right is None or _at_null(fd) is not None:
        return False
    need = text_width_pt(left, 0.9 * fs) + text_width_pt(right, 0.9 * fs) + 2 * fs
    return need > graph_in * 72


def _draw_graph(ax: Axes, fd: ForestData, fs: float, row_pt: float) -> None:
    from matplotlib.patches import Polygon, Rectangle

    rows = fd.rows
    lo_lim, hi_lim = fd.xlim
    # marks keep their size in rows taller than the text needs (a tall Axes with few rows)
    shrink = min(1.0, 1.8 * fs / row_pt)

    # null line from the first row down to the axis; the text rows hide it behind their text
    if fd.null_value is not None and lo_lim <= fd.null_value <= hi_lim:
        y0 = float(rows["y"].min()) - 0.6
        y1 = float(rows["y"].max()) + 0.6
        null = ax.vlines(fd.null_value, y0, y1, colors=NULL_COLOR, linewidth=0.8, zorder=1)
        null.set_gid("forest-null")

    # study intervals, squares and arrows
    st = rows[(rows["kind"] == "study") & np.isfinite(rows["estimate"].to_numpy(float))]
    if len(st):
        lo = np.clip(st["ci_low"].to_numpy(float), lo_lim, hi_lim)
        hi = np.clip(st["ci_high"].to_numpy(float), lo_lim, hi_lim)
        ci = ax.hlines(st["y"].to_numpy(float), lo, hi, colors=LINE_COLOR, linewidth=0.9, zorder=3)
        ci.set_gid("forest-ci")
        w = st["weight"].to_numpy(float)
        w_max = np.nanmax(w) if np.isfinite(w).any() else 1.0
        side = 0.78 * row_pt * shrink * np.sqrt(np.where(np.isfinite(w), w, 0.0) / w_max)
        side = np.maximum(side, 2.0)
        inside = (st["estimate"] >= lo_lim) & (st["estimate"] <= hi_lim)
        sq = ax.scatter(
            st["estimate"][inside],
            st["y"][inside],
            s=(side[inside.to_numpy()]) ** 2,
            marker="s",
            color=SQUARE_COLOR,
            edgecolors="none",
            zorder=2,
        )
        sq.set_gid("forest-squares")
    _draw_arrows(ax, rows, fd, fs)

    # pooled diamonds and prediction bars
    half = 0.34 * shrink
    for _, r in rows[rows["kind"].isin(("pooled_re", "pooled_ce"))].iterrows():
        est, lo_, hi_, y = (float(r[c]) for c in ("estimate", "ci_low", "ci_high", "y"))
        if not np.isfinite(est):
            continue
        filled = r["kind"] == "pooled_re"
        poly = Polygon(
            [(lo_, y), (est, y - half), (hi_, y), (est, y + half)],
            closed=True,
            facecolor=DIAMOND_COLOR if filled else "white",
            edgecolor=DIAMOND_COLOR,
            linewidth=0.9,
            zorder=4,
        )
        poly.set_gid("forest-diamond-re" if filled else "forest-diamond-ce")
        ax.add_patch(poly)
    for _, r in rows[rows["kind"] == "prediction"].iterrows():
        lo_, hi_, y = (float(r[c]) for c in ("ci_low", "ci_high", "y"))
        rect = Rectangle(
            (max(lo_, lo_lim), y - 0.13 * shrink),
            min(hi_, hi_lim) - max(lo_, lo_lim),
            0.26 * shrink,
            facecolor=PREDICTION_COLOR,
            edgecolor="none",
            zorder=4,
        )
        rect.set_gid("forest-prediction")
        ax.add_patch(rect)

    _draw_direction(ax, fd, fs)


def _draw_direction(ax: Axes, fd: ForestData, fs: float) -> None:
    """The labels under the axis: either side of the null line, or at the ends of the axis."""
    lo_lim, hi_lim = fd.xlim
    centre = _at_null(fd)
    offset = -(0.9 * fs + 7.5)
    fig = ax.get_figure(root=True)
    assert fig is not None
    graph_in = ax.get_position().width * fig.get_figwidth()
    second_line = -1.1 * 0.9 * fs if _stacked(fd, fs, graph_in) else 0.0
    labels: list[tuple[str, float, str, float, float]] = []  # text, x, ha, dx, dy
    left, right = _direction_texts(fd)
    if left is not None:
        if centre is None:
            labels.append((left, lo_lim, "left", 0.0, offset))
        else:
            labels.append((left, centre, "right", -4.0, offset))
    if right is not None:
        if centre is None:
            labels.append((right, hi_lim, "right", 0.0, offset + second_line))
        else:
            labels.append((right, centre, "left", 4.0, offset))
    for text, x, ha, dx, dy in labels:
        t = ax.annotate(
            text,
            xy=(x, 0),
            xycoords=("data", "axes fraction"),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va="top",
            fontsize=0.9 * fs,
            annotation_clip=False,
            parse_math=False,
        )
        t.set_gid("forest-direction")


def _draw_arrows(ax: Axes, rows: pd.DataFrame, fd: ForestData, fs: float) -> None:
    lo_lim, hi_lim = fd.xlim
    for kind, color in (("study", LINE_COLOR), ("prediction", PREDICTION_COLOR)):
        sel = rows[rows["kind"] == kind]
        for col, x_edge, marker in (("arrow_low", lo_lim, "<"), ("arrow_high", hi_lim, ">")):
            ys = sel.loc[sel[col].astype(bool), "y"].to_numpy(float)
            if ys.size == 0:
                continue
            (line,) = ax.plot(
                [x_edge] * ys.size,
                ys,
                linestyle="none",
                marker=marker,
                markersize=0.6 * fs,
                color=color,
                markeredgewidth=0,
                clip_on=False,
                zorder=5,
            )
            line.set_gid("forest-arrow")


def _draw_texts(
    ax: Axes,
    fd: ForestData,
    fs: float,
    placed: list[_Placed],
    x_transform: Any,
    has_groups: bool,
    background: Any,
) -> None:
    rows = fd.rows
    row_pt = 1.55 * fs  # the nominal row height: headers sit at fixed distances above the graph
    header_above = 0.55 * row_pt
    group_above = 1.5 * row_pt
    normal = rows[~rows["kind"].isin(TEXT_KINDS)]
    for p in placed:
        right = p.column.side == "right"
        tr = x_transform(p.x_in, right)
        tr_head = x_transform(p.x_in, right, header_above)
        ha = p.column.align
        for text, y, bold, kind in zip(
            normal[p.column.key], normal["y"], normal["bold"], normal["kind"], strict=True
        ):
            if not text:
                continue
            t = ax.text(
                0,
                float(y),
                str(text),
                transform=tr,
                ha=ha,
                va="center_baseline",
                fontsize=fs,
                fontweight="bold" if bold else "normal",
                color=PREDICTION_COLOR
                if kind == "prediction" and p.column.key != "label"
                else None,
                clip_on=False,
                parse_math=False,
            )
            t.set_gid(f"forest-{p.column.key}")
        _header(ax, p.column.header, tr_head, ha, fs, "forest-header")
    if has_groups:
        for side in ("left", "right"):
            cols = [p for p in placed if p.column.side == side and p.column.group]
            for grp in dict.fromkeys(p.column.group for p in cols):
                members = [p for p in cols if p.column.group == grp]
                left = min(p.left_in for p in members)
                end = max(p.left_in + p.width_in for p in members)
                _header(
                    ax, grp, x_transform((left + end) / 2, side == "right", group_above),
                    "center", fs, "forest-group-header",
                )  # fmt: skip
    # texts that span the columns start at the left edge of the label column
    label_col = next(p for p in placed if p.column.key == "label")
    tr = x_transform(label_col.left_in, False)
    for _, r in rows[rows["kind"].isin(TEXT_KINDS)].iterrows():
        t = ax.text(
            0,
            float(r["y"]),
            str(r["label"]),
            transform=tr,
            ha="left",
            va="center_baseline",
            fontsize=0.9 * fs,
            color=FOOTER_COLOR,
            clip_on=False,
            parse_math=False,
            # the background behind the text hides the null line where the two cross
            bbox={"facecolor": background, "edgecolor": "none", "pad": 1.0},
        )
        t.set_gid(f"forest-{r['kind']}")


def _header(ax: Any, text: str, transform: Any, ha: str, fs: float, gid: str) -> None:
    """A bold header above the rows (a column's, a group of columns', a risk-of-bias domain's)."""
    h = ax.text(
        0, 1.0, text, transform=transform, ha=ha, va="center_baseline", fontsize=fs,
        fontweight="bold", clip_on=False, parse_math=False,
    )  # fmt: skip
    h.set_gid(gid)
