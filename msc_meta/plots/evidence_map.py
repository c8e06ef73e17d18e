"""The evidence map: trials × outcomes (and time points), each cell showing what the records hold.

The classification of the cells (:func:`msc_meta.coverage.outcome_coverage`) sits one
layer below, beside the records; this module adds only the positions and labels of the
drawing (:func:`evidence_map_data`) and draws it (:func:`evidence_map`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._format import count
from .._validation import is_missing
from ..coverage import COVERAGE_STATES, DESIGN_GROUPS, outcome_coverage
from ..records import TrialRecords
from ._common import text_width_pt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["STATE_STYLES", "StateStyle", "evidence_map", "evidence_map_data"]


@dataclass(frozen=True)
class StateStyle:
    """How one state of a cell is drawn: colour and shape differ, so greyscale prints read.

    Attributes
    ----------
    marker : str
        matplotlib marker code.
    edgecolor : str
        Colour of the marker's outline.
    facecolor : str or None
        Fill colour (``"white"`` for an open marker; None for a marker drawn
        with lines only, such as ``"x"``, which takes ``edgecolor``).
    size : float
        Marker area in points² (matplotlib ``scatter``'s ``s``).
    """

    marker: str
    edgecolor: str
    facecolor: str | None
    size: float


#: The look of each state of :data:`msc_meta.coverage.COVERAGE_STATES`: dark filled
#: circles for numbers read in a source, mid-blue diamonds for derived numbers only, open
#: orange triangles for a p-value only, and small light-grey crosses for nothing (the
#: Okabe-Ito colours, distinct in colour, in shape and in grey level).
STATE_STYLES: dict[str, StateStyle] = {
    "reported": StateStyle("o", "#1f3552", "#1f3552", 46.0),
    "derived": StateStyle("D", "#0072b2", "#56b4e9", 30.0),
    "p-value only": StateStyle("^", "#b35806", "white", 38.0),
    "not reported": StateStyle("x", "#b8b8b8", None, 12.0),
}

#: Size of one cell of the grid, in inches (width, height).
CELL_INCHES = (0.24, 0.27)
#: Font size of the labels, in points.
FONT_SIZE = 8.0
#: Outcome labels are wrapped at this many characters (two lines at most before "…").
WRAP_CHARS = 18
#: Colour of the group separators and header texts.
RULE_COLOR = "0.75"
TEXT_COLOR = "0.15"


def _design_text(design: str) -> str:
    return design.replace("_", " ")


def _column_text(label: str, weeks: float) -> str:
    if label == "any time":
        return "any"
    return "not stated" if is_missing(weeks) else f"wk {count(weeks)}"


def _wrapped(label: str) -> str:
    lines = textwrap.wrap(label, WRAP_CHARS, break_long_words=False) or [label]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), WRAP_CHARS, placeholder="…")]
    return "\n".join(lines)


def evidence_map_data(
    records: TrialRecords,
    *,
    outcomes: Sequence[str] | Mapping[str, str] | None = None,
    by_timepoint: bool = True,
) -> pd.DataFrame:
    """The cells of an evidence map, with their place in the drawing.

    Parameters
    ----------
    records : TrialRecords
        Any records (:func:`msc_meta.records.load_records`,
        :func:`msc_meta.datasets.load_msc_ra`).
    outcomes : sequence of str or mapping of str to str, optional
        The outcomes and their order (a mapping also gives their labels); an
        outcome no study reports shows as a column of "not reported". Default:
        every outcome with a row after baseline, those reported by more
        studies first.
    by_timepoint : bool, default True
        One column per time point of each outcome (False: one per outcome).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`msc_meta.coverage.outcome_coverage` (one row per
        study × outcome × time point, with ``state``), plus ``row`` (0 is the
        top study; one row above each design group is left for its heading),
        ``column`` (0 is the left column), ``column_label`` (``"wk 12"``,
        ``"not stated"``, ``"any"``), ``design_label`` (the design in words)
        and ``n_label`` (the number of patients, ``"?"`` when unknown).

    Raises
    ------
    MetaAnalysisError
        As :func:`msc_meta.coverage.outcome_coverage`.

    See Also
    --------
    evidence_map : draws these cells.

    Notes
    -----
    Nothing is estimated: the states come from the records' ``statistic``
    and ``derived`` columns (see :data:`msc_meta.coverage.COVERAGE_STATES`).
    An evidence map in the sense of Miake-Lye et al. (2016).

    References
    ----------
    .. [1] Miake-Lye IM, Hempel S, Shanman R, Shekelle PG (2016). What is an
       evidence map? A systematic review of published evidence maps and their
       definitions, methods, and products. Syst Rev 5:28.

    Examples
    --------
    >>> import msc_meta as mm
    >>> cells = evidence_map_data(mm.datasets.load_msc_ra(), outcomes=["ACR20"],
    ...                           by_timepoint=False)
    >>> he = cells.set_index("study_id").loc["he2020"]
    >>> print(he["column"], he["state"], he["n_label"])
    0 reported 63
    """
    frame = outcome_coverage(records, outcomes=outcomes, by_timepoint=by_timepoint)
    rows: dict[str, int] = {}
    y = 0
    for group in DESIGN_GROUPS:
        ids = frame.loc[frame["design_group"] == group, "study_id"].drop_duplicates()
        if ids.empty:
            continue
        y += 1  # the group's heading
        for sid in ids:
            rows[sid] = y
            y += 1
    keys = list(zip(frame["outcome"], frame["timepoint"], strict=True))
    columns = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    frame["row"] = [rows[s] for s in frame["study_id"]]
    frame["column"] = [columns[k] for k in keys]
    frame["column_label"] = [
        _column_text(label, weeks)
        for label, weeks in zip(frame["timepoint"], frame["timepoint_weeks"], strict=True)
    ]
    frame["design_label"] = [_design_text(d) for d in frame["design"]]
    frame["n_label"] = ["?" if is_missing(n) else str(n) for n in frame["n_patients"]]
    return frame


def evidence_map(
    records: TrialRecords,
    *,
    ax: Axes | None = None,
    outcomes: Sequence[str] | Mapping[str, str] | None = None,
    by_timepoint: bool = True,
    legend: bool = True,
) -> Axes:
    """Evidence map: trials (rows) × outcomes and time points (columns).

    Each cell is a marker whose colour and shape (:data:`STATE_STYLES`) say
    what the records hold for that trial, outcome and time point: numbers
    read in a source, only derived numbers, only a p-value, or nothing.
    Trials are grouped by design (randomised controlled first, single-group
    series last), each with its design and number of patients beside its
    label; the columns of one outcome (its time points) are grouped under
    its label. The figure has no title (a caption belongs to the document)
    and grows with the number of cells.

    Parameters
    ----------
    records : TrialRecords
        The records.
    ax : matplotlib Axes, optional
        Where to draw; a new figure sized to the cells (with room for the
        labels and the legend) when None. On a given Axes the labels are
        drawn outside it, to the left and above.
    outcomes : sequence of str or mapping of str to str, optional
        The outcomes, their order and (a mapping) their labels; see
        :func:`evidence_map_data`.
    by_timepoint : bool, default True
        One column per time point of each outcome (False: one per outcome).
    legend : bool, default True
        Add a legend of the states, right of the grid.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    MetaAnalysisError
        As :func:`msc_meta.coverage.outcome_coverage`.

    See Also
    --------
    evidence_map_data : the cells, without drawing.
    msc_meta.coverage.outcome_coverage : the classification of the cells.

    Notes
    -----
    An evidence (gap) map as in Miake-Lye et al. (2016) and Snilstveit et
    al. (2016), with the records' own distinction between read and derived
    numbers. Markers rather than shaded cells keep the states apart in
    greyscale and for readers with a colour-vision deficiency (Okabe-Ito
    colours).

    References
    ----------
    .. [1] Miake-Lye IM, Hempel S, Shanman R, Shekelle PG (2016). What is an
       evidence map? A systematic review of published evidence maps and their
       definitions, methods, and products. Syst Rev 5:28.
    .. [2] Snilstveit B, Vojtkova M, Bhavsar A, Stevenson J, Gaarder M (2016).
       Evidence & gap maps: a tool for promoting evidence informed policy and
       strategic research agendas. J Clin Epidemiol 79:120-129.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import msc_meta as mm
    >>> ax = evidence_map(mm.datasets.load_msc_ra(), outcomes=["ACR20", "any_AE"],
    ...                   by_timepoint=False)
    >>> len(ax.get_xticks())  # one column per outcome
    2
    """
    cells = evidence_map_data(records, outcomes=outcomes, by_timepoint=by_timepoint)
    studies = cells.drop_duplicates("study_id")
    cols = cells.drop_duplicates("column").sort_values("column")
    n_rows = int(cells["row"].max()) + 1
    n_cols = len(cols)

    pt = 1 / 72
    name_w = max(text_width_pt(s, FONT_SIZE) for s in studies["study"])
    design_w = max(text_width_pt(s, FONT_SIZE) for s in studies["design_label"])
    design_w = max(design_w, text_width_pt("Design", FONT_SIZE, bold=True))
    n_w = max(text_width_pt(s, FONT_SIZE) for s in [*studies["n_label"], "N"])
    gap = 8.0
    left_pt = name_w + design_w + n_w + 3 * gap
    outcome_lines = [_wrapped(s) for s in cols.drop_duplicates("outcome")["outcome_label"]]
    top_pt = max(
        text_width_pt(line, FONT_SIZE) for label in outcome_lines for line in label.split("\n")
    )
    bottom_pt = max(text_width_pt(s, FONT_SIZE) for s in cols["column_label"])
    if ax is None:
        import matplotlib.pyplot as plt

        legend_in = 1.6 if legend else 0.1
        grid_w, grid_h = n_cols * CELL_INCHES[0], n_rows * CELL_INCHES[1]
        left_in, top_in, bottom_in = left_pt * pt + 0.15, top_pt * pt + 0.25, bottom_pt * pt + 0.2
        width, height = left_in + grid_w + legend_in, bottom_in + grid_h + top_in
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((left_in / width, bottom_in / height, grid_w / width, grid_h / height))

    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0, labelsize=FONT_SIZE, colors=TEXT_COLOR)
    ax.set_yticks([])
    ax.set_xticks(cols["column"].tolist())
    # one column per outcome: the headings say it all, "any" under each would be noise
    ticks = cols["column_label"].tolist() if by_timepoint else [""] * n_cols
    ax.set_xticklabels(ticks, rotation=90, fontsize=FONT_SIZE)

    for state in COVERAGE_STATES:
        style = STATE_STYLES[state]
        sel = cells[cells["state"] == state]
        colours: dict[str, Any] = (
            {"color": style.edgecolor}  # a marker of lines only has no face
            if style.facecolor is None
            else {"facecolors": style.facecolor, "edgecolors": style.edgecolor}
        )
        coll = ax.scatter(
            sel["column"],
            sel["row"],
            marker=style.marker,
            s=style.size,
            linewidths=0.9,
            label=state,
            zorder=3,
            **colours,
        )
        coll.set_gid(f"evidence-map-{state}")

    # outcome headings above their time points, with rules between the outcomes
    first_cols = cols.drop_duplicates("outcome")
    for name, lines in zip(first_cols["outcome"], outcome_lines, strict=True):
        span = cols.loc[cols["outcome"] == name, "column"]
        lo, hi = int(span.min()), int(span.max())
        ax.annotate(
            lines,
            xy=((lo + hi) / 2, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 6),
            textcoords="offset points",
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=FONT_SIZE,
            color=TEXT_COLOR,
            annotation_clip=False,
            parse_math=False,
        ).set_gid("evidence-map-outcome")
        ax.annotate(
            "",
            xy=(lo - 0.35, 1),
            xytext=(hi + 0.35, 1),
            xycoords=("data", "axes fraction"),
            textcoords=("data", "axes fraction"),
            arrowprops={"arrowstyle": "-", "color": RULE_COLOR, "lw": 0.8},
            annotation_clip=False,
        )
        if lo > 0:
            ax.axvline(lo - 0.5, color=RULE_COLOR, lw=0.5, zorder=1)

    # study labels, design and N at the left; design-group headings above each group
    def left_text(text: str, y: float, offset: float, *, bold: bool = False) -> None:
        ax.annotate(
            text,
            xy=(0, y),
            xycoords=("axes fraction", "data"),
            xytext=(-offset, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=FONT_SIZE,
            color=TEXT_COLOR,
            fontweight="bold" if bold else "normal",
            annotation_clip=False,
            parse_math=False,
        ).set_gid("evidence-map-study" if not bold else "evidence-map-group")

    x_name, x_design, x_n = left_pt, left_pt - name_w - gap, n_w + gap
    left_text("N", -0.9, x_n, bold=True)
    left_text("Design", -0.9, x_design, bold=True)
    for label, design, n, row in zip(
        studies["study"], studies["design_label"], studies["n_label"], studies["row"], strict=True
    ):
        left_text(str(label), float(row), x_name)
        left_text(str(design), float(row), x_design)
        left_text(str(n), float(row), x_n)
    for group in DESIGN_GROUPS:
        members = studies[studies["design_group"] == group]
        if members.empty:
            continue
        head = int(members["row"].min()) - 1
        left_text(group.capitalize(), head, x_name, bold=True)
        if head > 0:
            ax.axhline(head - 0.5, color=RULE_COLOR, lw=0.5, zorder=1)

    if legend:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
            fontsize=FONT_SIZE,
            title="The records hold",
            title_fontsize=FONT_SIZE,
            borderaxespad=0.5,
        )
    return ax
