"""Risk-of-bias figures: robvis' traffic-light and summary plots, and forest-plot columns.

A risk-of-bias table has one row per study × domain (the ``risk_of_bias``
table of a set of records, :attr:`msc_meta.records.TrialRecords.risk_of_bias`,
or any DataFrame with the columns ``study_id``, ``tool``, ``domain`` and
``judgement``, and optionally ``comparison``). The tools, their domains and
judgement words, and the level of each word on a common scale, come from
:data:`msc_meta.risk_of_bias.ROB_TOOLS`; the colours and symbols of the levels
are :data:`LEVEL_STYLES`, in this module only.

:func:`rob_traffic_light_data` and :func:`rob_summary_data` prepare what the
figures show as DataFrames (no drawing, no matplotlib); :func:`rob_traffic_light`
and :func:`rob_summary` draw them. :func:`rob_forest_data` places a table's
judgements on the study rows of a forest plot, which
:func:`~msc_meta.plots.forest_plot` draws as columns right of the plot
(``forest_plot(..., rob=table)``).

References
----------
.. [1] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization (robvis):
   an R package and Shiny web app for visualizing risk-of-bias assessments.
   Res Synth Methods 12(1):55-61.
.. [2] Higgins JPT, Savović J, Page MJ, Elbers RG, Sterne JAC (2022). Chapter 8:
   Assessing risk of bias in a randomized trial. In: Cochrane Handbook for
   Systematic Reviews of Interventions, version 6.3 (figures 8.3 and 8.4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..risk_of_bias import OVERALL, ROB_TOOLS, RobError, RobLevel, RobTool, rob_tool
from ._common import new_axes, text_width_pt

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LEVEL_STYLES",
    "LevelStyle",
    "rob_forest_data",
    "rob_summary",
    "rob_summary_data",
    "rob_traffic_light",
    "rob_traffic_light_data",
]


@dataclass(frozen=True)
class LevelStyle:
    """How one level of the common risk-of-bias scale is drawn.

    Attributes
    ----------
    name : str
        The level in words (legends of figures that mix tools).
    color : str
        Fill colour of its circle or bar.
    symbol : str
        The symbol drawn on the colour, so that the figure reads in greyscale
        and for colour-blind readers (robvis' +, -, ?, x and !).
    symbol_color : str
        Colour of the symbol (white on the darkest fill).
    """

    name: str
    color: str
    symbol: str
    symbol_color: str = "black"


#: Colours (robvis' "cochrane" palette) and symbols of each level, the one place they live.
LEVEL_STYLES: Mapping[str, LevelStyle] = MappingProxyType(
    {
        "low": LevelStyle("Low", "#02C100", "+"),
        "some_concerns": LevelStyle("Some concerns", "#E2DF07", "\u2212"),
        "high": LevelStyle("High", "#BF0000", "\u00d7"),
        "critical": LevelStyle("Critical", "#820000", "!", "white"),
        "no_information": LevelStyle("No information", "#4EA1F7", "?"),
        "not_applicable": LevelStyle("Not applicable", "#cccccc", ""),
    }
)
#: The order of the levels in bars and legends, left to right.
LEVEL_ORDER: tuple[RobLevel, ...] = (
    "low",
    "some_concerns",
    "high",
    "critical",
    "no_information",
    "not_applicable",
)
#: Background of the overall column (robvis shades it grey).
OVERALL_SHADE = "#e6e6e6"
#: Header of the overall column.
OVERALL_HEADER = "Overall"

REQUIRED_COLUMNS = ("study_id", "tool", "domain", "judgement")


# --------------------------------------------------------------------------- the table


def _checked(table: Any, argument: str) -> pd.DataFrame:
    """The assessments of ``table``, validated against the registry, with their level.

    Columns ``study_id``, ``tool``, ``comparison`` (``""`` when absent),
    ``domain``, ``judgement``, ``level`` and the orders ``tool_order``,
    ``study_order`` (first appearance) and ``domain_order`` (the tool's).
    """
    if not isinstance(table, pd.DataFrame):
        raise RobError(
            f"{argument} is a {type(table).__name__}; give a risk-of-bias DataFrame with the "
            f"columns {', '.join(REQUIRED_COLUMNS)} (e.g. records.risk_of_bias)"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise RobError(
            f"{argument} lacks the column(s) {', '.join(missing)}; a risk-of-bias table has "
            f"one row per study and domain with the columns {', '.join(REQUIRED_COLUMNS)} "
            "(and optionally comparison)"
        )
    tools = list(ROB_TOOLS)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str]] = set()
    studies: dict[str, int] = {}
    for pos, row in enumerate(table.to_dict("records")):
        comparison = row.get("comparison", "")
        comparison = "" if _missing(comparison) else str(comparison)
        where = f"{argument} row {pos} (study_id={row['study_id']!r})"
        if _missing(row["study_id"]) or str(row["study_id"]) == "":
            raise RobError(f"{argument} row {pos}: study_id is empty; every row names its study")
        study = str(row["study_id"])
        try:
            tool = rob_tool(row["tool"])
            level = tool.level(row["domain"], row["judgement"])
        except (RobError, TypeError) as exc:
            raise RobError(f"{where}: {exc}") from None
        key = (study, tool.name, comparison, str(row["domain"]))
        if key in seen:
            raise RobError(
                f"{where}: domain {row['domain']!r} of {tool.name} is assessed twice for "
                f"comparison {comparison!r}; one row per study, comparison and domain"
            )
        seen.add(key)
        studies.setdefault(study, len(studies))
        out.append(
            {
                "study_id": study,
                "tool": tool.name,
                "comparison": comparison,
                "domain": str(row["domain"]),
                "judgement": str(row["judgement"]),
                "level": level,
                "tool_order": tools.index(tool.name),
                "study_order": studies[study],
                "domain_order": list(tool.domains).index(row["domain"]),
            }
        )
    if not out:
        raise RobError(f"{argument} has no rows; there is nothing to draw")
    return pd.DataFrame(out)


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (an empty CSV cell)."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _check_labels(labels: Any, argument: str) -> Mapping[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise RobError(
            f"{argument} is a {type(labels).__name__}; give a mapping of study_id to label, "
            "e.g. dict(zip(records.studies.study_id, records.studies.label))"
        )
    return {str(k): str(v) for k, v in labels.items()}


def domain_header(domain: str) -> str:
    """The column header of a domain: its code, ``"Overall"`` for the overall judgement."""
    return OVERALL_HEADER if domain == OVERALL else domain


def level_words(tool: RobTool) -> dict[str, str]:
    """The tool's words for each level, e.g. NIH ``{"low": "Yes / Good", ...}``."""
    words: dict[str, list[str]] = {}
    for vocab in (tool.judgements, tool.overall_judgements):
        for word, level in vocab.items():
            if word not in words.setdefault(level, []):
                words[level].append(word)
    return {level: " / ".join(ws) for level, ws in words.items()}


# --------------------------------------------------------------------------- traffic light


def rob_traffic_light_data(
    table: pd.DataFrame, *, labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The cells of a traffic-light plot (robvis' ``rob_traffic_light``), without drawing.

    Parameters
    ----------
    table : DataFrame
        A risk-of-bias table: one row per study × domain with the columns
        ``study_id``, ``tool``, ``domain``, ``judgement`` (in the tool's own
        words, :data:`msc_meta.risk_of_bias.ROB_TOOLS`) and optionally
        ``comparison``, as ``records.risk_of_bias``.
    labels : mapping of str to str, optional
        Study id → the label to show (default: the study id).

    Returns
    -------
    DataFrame
        One row per assessed cell, ordered by tool (the registry's order),
        study (first appearance in ``table``), comparison (alphabetical) and
        domain (the tool's order, overall last), with columns ``tool``, ``study_id``, ``comparison``,
        ``label`` (with the comparison in brackets when a study has more than
        one under a tool), ``row`` (0 at the top of the tool's panel),
        ``column`` (the domain's position in the tool), ``domain``,
        ``header`` (the domain code, ``"Overall"`` for the overall
        judgement), ``domain_name``, ``judgement`` and ``level`` (its level
        on the common scale).

    Raises
    ------
    RobError
        ``table`` is not a DataFrame, lacks a column, or a row names an
        unknown tool, domain or judgement, or repeats a domain (the message
        names the row and what is allowed); ``labels`` is not a mapping.

    Notes
    -----
    A domain without a row in ``table`` has no cell (the figure leaves it
    empty); records validation (:func:`msc_meta.records.load_records`) requires
    every domain, with the tool's "no information" word where the sources say
    nothing.

    References
    ----------
    .. [1] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization
       (robvis). Res Synth Methods 12(1):55-61.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "study_id": ["a"] * 6,
    ...     "tool": "RoB 2",
    ...     "domain": ["D1", "D2", "D3", "D4", "D5", "overall"],
    ...     "judgement": ["Low", "Low", "Some concerns", "Low", "No information", "Some concerns"],
    ... })
    >>> cells = rob_traffic_light_data(table, labels={"a": "Trial A 2019"})
    >>> cells[["label", "header", "level"]].iloc[[0, 4, 5]].values.tolist()
    [['Trial A 2019', 'D1', 'low'], ['Trial A 2019', 'D5', 'no_information'], ['Trial A 2019', 'Overall', 'some_concerns']]
    """
    t = _checked(table, "table")
    names = _check_labels(labels, "labels")
    t = t.sort_values(["tool_order", "study_order", "comparison", "domain_order"], kind="stable")
    n_comparisons = t.groupby(["tool", "study_id"])["comparison"].transform("nunique")
    base = t["study_id"].map(lambda s: names.get(s, s))
    t["label"] = [
        f"{b} ({c})" if n > 1 and c else b
        for b, c, n in zip(base, t["comparison"], n_comparisons, strict=True)
    ]
    rows: list[int] = []
    for _, panel in t.groupby("tool_order", sort=True):
        keys = list(dict.fromkeys(zip(panel["study_id"], panel["comparison"], strict=True)))
        pos = {k: i for i, k in enumerate(keys)}
        rows += [pos[k] for k in zip(panel["study_id"], panel["comparison"], strict=True)]
    t["row"] = rows
    t["column"] = t["domain_order"]
    t["header"] = [domain_header(d) for d in t["domain"]]
    t["domain_name"] = [
        ROB_TOOLS[tl].domains[d] for tl, d in zip(t["tool"], t["domain"], strict=True)
    ]
    cols = ["tool", "study_id", "comparison", "label", "row", "column", "domain", "header"]
    return t[[*cols, "domain_name", "judgement", "level"]].reset_index(drop=True)


def rob_traffic_light(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    fig: Figure | None = None,
    fontsize: float = 9.0,
    cell: float = 0.32,
) -> Figure:
    """Traffic-light plot of risk-of-bias judgements (robvis' ``rob_traffic_light``).

    One panel per tool in the table (the registry's order), each a grid of
    studies (rows) by the tool's domains (columns, the overall judgement last
    on a grey band); each cell a circle coloured by the judgement's level with
    its symbol (+ low, − some concerns, × high, ! critical, ? no information),
    so that the figure reads in greyscale. Under each panel, a key gives the
    domain names and the tool's words for each symbol.

    Parameters
    ----------
    table : DataFrame
        A risk-of-bias table, as for :func:`rob_traffic_light_data`.
    labels : mapping of str to str, optional
        Study id → label to show (default: the study id).
    fig : matplotlib Figure, optional
        An empty figure to draw on; it is resized to fit the panels. Default:
        a new figure.
    fontsize : float, default 9
        Font size in points.
    cell : float, default 0.32
        Side of a cell in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its Axes are the panels, top to bottom.

    Raises
    ------
    RobError
        Bad ``table`` or ``labels``, as for :func:`rob_traffic_light_data`.

    Notes
    -----
    Colours are robvis' "cochrane" palette (:data:`LEVEL_STYLES`); words of
    different tools that share a level (e.g. RoB 2 "Some concerns", ROBINS-I
    "Moderate", NIH "Fair") share its colour and symbol.

    References
    ----------
    .. [1] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization
       (robvis). Res Synth Methods 12(1):55-61.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "study_id": ["a"] * 6, "tool": "RoB 2",
    ...     "domain": ["D1", "D2", "D3", "D4", "D5", "overall"],
    ...     "judgement": ["Low", "Low", "High", "Low", "Low", "High"],
    ... })
    >>> fig = rob_traffic_light(table)
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    data = rob_traffic_light_data(table, labels=labels)
    line = 1.35 * fontsize / 72  # inches per line of text
    panels = []
    for tool_name, cells in data.groupby("tool", sort=False):
        tool = ROB_TOOLS[str(tool_name)]
        n_rows = int(cells["row"].max()) + 1
        key = _panel_key(tool, cells)
        panels.append((tool, cells, n_rows, key))
    label_w = max(text_width_pt(str(s), fontsize) for s in data["label"]) / 72 + 0.15
    n_cols = max(len(p[0].domains) for p in panels)
    # the overall column is as wide as its header needs
    wide = max(1.0, (text_width_pt(OVERALL_HEADER, fontsize) / 72 + 0.1) / cell)
    grid_w = (n_cols - 1 + wide) * cell
    key_w = max(text_width_pt(s, 0.9 * fontsize) for p in panels for s in p[3]) / 72
    width = max(label_w + grid_w, key_w) + 0.3
    head = 3.4 * line  # tool title and column headers
    heights = [head + n * cell + (len(k) + 1.6) * line for _, _, n, k in panels]
    height = sum(heights) + 0.1
    if fig is None:
        fig = plt.figure(figsize=(width, height))
    else:
        fig.set_size_inches(width, height)
    top = height - 0.05
    for (tool, cells, n_rows, key), h in zip(panels, heights, strict=True):
        y0 = top - head - n_rows * cell
        ax = fig.add_axes(
            (
                (0.15 + label_w) / width,
                y0 / height,
                (len(tool.domains) - 1 + wide) * cell / width,
                n_rows * cell / height,
            )
        )
        _draw_panel(ax, tool, cells, n_rows, fontsize, cell * 72, wide)
        ax.set_title(
            f"{tool.name}: {tool.applies_to}",
            fontsize=fontsize,
            fontweight="bold",
            loc="left",
            pad=1.3 * fontsize,
        )
        for i, text in enumerate(key):
            t = fig.text(
                0.15 / width,
                (y0 - (i + 1) * line) / height,
                text,
                fontsize=0.9 * fontsize,
                va="top",
                parse_math=False,
            )
            t.set_gid("rob-key")
        top -= h
    return fig


def _panel_key(tool: RobTool, cells: pd.DataFrame) -> list[str]:
    """The key under a panel: domain names, then the symbols with the words used."""
    lines = [f"{domain_header(code)}: {name}" for code, name in tool.domains.items()]
    words = level_words(tool)
    used = [lv for lv in LEVEL_ORDER if lv in set(cells["level"])]
    lines.append(
        "Judgement: "
        + "   ".join(f"{LEVEL_STYLES[lv].symbol or '(blank)'} {words[lv]}" for lv in used)
    )
    return lines


def _draw_panel(
    ax: Axes,
    tool: RobTool,
    cells: pd.DataFrame,
    n_rows: int,
    fs: float,
    cell_pt: float,
    wide: float,
) -> None:
    """One tool's grid; the overall column (the last) is ``wide`` cells wide."""
    n_cols = len(tool.domains)
    last = n_cols - 1.5  # left edge of the overall column
    centres = [*range(n_cols - 1), last + wide / 2]
    ax.set_xlim(-0.5, last + wide)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.axvspan(last, last + wide, color=OVERALL_SHADE, zorder=0, lw=0)
    for x in [*(c - 0.5 for c in range(n_cols)), last + wide]:
        ax.axvline(x, color="0.75", lw=0.6, zorder=0.5)
    for y in range(n_rows + 1):
        ax.axhline(y - 0.5, color="0.75", lw=0.6, zorder=0.5)
    xs = [centres[int(c)] for c in cells["column"]]
    draw_rob_marks(ax, xs, cells["row"], cells["level"], 0.78 * cell_pt)
    ax.set_xticks(centres, [domain_header(d) for d in tool.domains])
    ax.xaxis.tick_top()
    labels = cells.drop_duplicates("row").sort_values("row")
    ax.set_yticks(list(labels["row"]), list(labels["label"]))
    ax.tick_params(length=0, labelsize=fs)
    for side in ax.spines.values():
        side.set_color("0.6")
        side.set_linewidth(0.6)


def draw_rob_marks(
    ax: Axes,
    x: Sequence[float] | pd.Series,
    y: Sequence[float] | pd.Series,
    levels: Sequence[str] | pd.Series,
    diameter_pt: float,
    *,
    transform: Any = None,
    gid: str = "rob",
) -> None:
    """Circles coloured by level with their symbols, at (x, y) in data or ``transform``."""
    xs, ys, lv = list(x), list(y), [str(v) for v in levels]
    extra = {} if transform is None else {"transform": transform}
    pts = ax.scatter(
        xs,
        ys,
        s=diameter_pt**2,
        c=[LEVEL_STYLES[v].color for v in lv],
        edgecolors="black",
        linewidths=0.5,
        zorder=3,
        clip_on=False,
        **extra,
    )
    pts.set_gid(f"{gid}-circles")
    for xi, yi, v in zip(xs, ys, lv, strict=True):
        style = LEVEL_STYLES[v]
        if not style.symbol:
            continue
        t = ax.text(
            xi,
            yi,
            style.symbol,
            ha="center",
            va="center",
            fontsize=0.62 * diameter_pt,
            fontweight="bold",
            color=style.symbol_color,
            zorder=4,
            clip_on=False,
            parse_math=False,
            **extra,
        )
        t.set_gid(f"{gid}-symbol")


# --------------------------------------------------------------------------- summary


def rob_summary_data(
    table: pd.DataFrame, *, weights: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """The bars of a risk-of-bias summary plot (robvis' ``rob_summary``), without drawing.

    Parameters
    ----------
    table : DataFrame
        A risk-of-bias table, as for :func:`rob_traffic_light_data`.
    weights : mapping of str to float, optional
        Study id → weight (e.g. its weight in a meta-analysis, or its number
        of patients), as robvis' ``weighted = TRUE``; every study of
        ``table`` needs one, positive and finite. Default: each assessment
        counts once.

    Returns
    -------
    DataFrame
        One row per tool × domain × level (every level the tool's words can
        take, zeros included), ordered by tool (the registry's order), domain
        (the tool's order, overall last) and level (low to not applicable),
        with columns ``tool``, ``domain``, ``header``, ``domain_name``,
        ``level``, ``words`` (the tool's words for the level), ``n`` (number
        of assessments), ``weight`` (their summed weight; ``n`` without
        ``weights``) and ``proportion`` (of the domain's weight).

    Raises
    ------
    RobError
        Bad ``table``, as for :func:`rob_traffic_light_data`; ``weights``
        not a mapping, missing a study, or not positive and finite.

    References
    ----------
    .. [1] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization
       (robvis). Res Synth Methods 12(1):55-61.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "study_id": ["a"] * 6 + ["b"] * 6, "tool": "RoB 2",
    ...     "domain": ["D1", "D2", "D3", "D4", "D5", "overall"] * 2,
    ...     "judgement": ["Low"] * 6 + ["High"] + ["Low"] * 4 + ["High"],
    ... })
    >>> bars = rob_summary_data(table, weights={"a": 3.0, "b": 1.0})
    >>> d1 = bars[(bars["domain"] == "D1") & (bars["n"] > 0)]
    >>> d1[["level", "n", "proportion"]].values.tolist()
    [['low', 1, 0.75], ['high', 1, 0.25]]
    """
    t = _checked(table, "table")
    t["weight"] = _weights_of(t, weights)
    out: list[dict[str, Any]] = []
    for tool_name in dict.fromkeys(t.sort_values("tool_order", kind="stable")["tool"]):
        tool = ROB_TOOLS[tool_name]
        words = level_words(tool)
        levels = [lv for lv in LEVEL_ORDER if lv in words]
        for domain, name in tool.domains.items():
            cells = t[(t["tool"] == tool_name) & (t["domain"] == domain)]
            total = float(cells["weight"].sum())
            vocab = tool.overall_judgements if domain == OVERALL else tool.judgements
            for lv in levels:
                if lv not in vocab.values():
                    continue
                sel = cells[cells["level"] == lv]
                w = float(sel["weight"].sum())
                out.append(
                    {
                        "tool": tool_name,
                        "domain": domain,
                        "header": domain_header(domain),
                        "domain_name": name,
                        "level": lv,
                        "words": " / ".join(k for k, v in vocab.items() if v == lv),
                        "n": len(sel),
                        "weight": w,
                        "proportion": w / total if total > 0 else math.nan,
                    }
                )
    return pd.DataFrame(out)


def _weights_of(t: pd.DataFrame, weights: Any) -> list[float]:
    if weights is None:
        return [1.0] * len(t)
    if not isinstance(weights, Mapping):
        raise RobError(
            f"weights is a {type(weights).__name__}; give a mapping of study_id to a positive "
            "weight, e.g. {'he2020': 63, ...}"
        )
    out = []
    for study in t["study_id"]:
        if study not in weights:
            raise RobError(
                f"weights has no weight for study_id {study!r}; every study of the table needs "
                "one (a positive number)"
            )
        try:
            w = float(weights[study])
        except (TypeError, ValueError):
            w = math.nan
        if not (math.isfinite(w) and w > 0):
            raise RobError(
                f"weights[{study!r}] = {weights[study]!r}; a weight must be positive and finite"
            )
        out.append(w)
    return out


def rob_summary(
    table: pd.DataFrame,
    *,
    weights: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    fontsize: float = 9.0,
) -> Axes:
    """Summary plot of risk-of-bias judgements (robvis' ``rob_summary``).

    Per domain, a horizontal bar stacked by the proportion of studies (or of
    their weight) at each level, low on the left; one group of bars per tool,
    headed by the tool's name and number of studies, with its domains in the
    tool's order and the overall judgement last, in bold. Segments wide
    enough carry the level's symbol, so that the figure reads in greyscale.

    Parameters
    ----------
    table : DataFrame
        A risk-of-bias table, as for :func:`rob_traffic_light_data`.
    weights : mapping of str to float, optional
        Study id → weight, as for :func:`rob_summary_data`.
    ax : matplotlib Axes, optional
        Where to draw. Default: a new figure sized to the bars.
    fontsize : float, default 9
        Font size in points.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the bars.

    Raises
    ------
    RobError
        Bad ``table`` or ``weights``, as for :func:`rob_summary_data`.

    Notes
    -----
    The legend gives each level with the words of the tools drawn that take
    it (e.g. "Some concerns / Moderate / Fair"). The x axis is the percentage
    of the studies (weighted: of their total weight) in each domain.

    References
    ----------
    .. [1] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization
       (robvis). Res Synth Methods 12(1):55-61.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> table = pd.DataFrame({
    ...     "study_id": ["a"] * 6, "tool": "RoB 2",
    ...     "domain": ["D1", "D2", "D3", "D4", "D5", "overall"],
    ...     "judgement": ["Low", "Low", "High", "Low", "Low", "High"],
    ... })
    >>> ax = rob_summary(table)
    >>> [t.get_text() for t in ax.get_yticklabels()][-1]
    'Overall risk of bias'
    >>> plt.close(ax.figure)
    """
    from matplotlib.patches import Patch

    bars = rob_summary_data(table, weights=weights)
    checked = _checked(table, "table")
    tools = list(dict.fromkeys(bars["tool"]))
    n_lines = sum(len(ROB_TOOLS[t].domains) + 1 for t in tools)
    names = [
        f"{h}: {n}" if h != OVERALL_HEADER else n
        for h, n in zip(bars["header"], bars["domain_name"], strict=True)
    ]
    name_w = max(text_width_pt(s, fontsize) for s in names) / 72 + 0.1
    new = ax is None
    ax, fig = new_axes(ax, (name_w + 5.0, 0.3 * n_lines + 1.1))
    if new:  # leave room for the names
        fig.subplots_adjust(left=(name_w + 0.1) / fig.get_figwidth(), right=0.97, top=0.97)
    y = 0.0
    ticks: list[float] = []
    tick_labels: list[str] = []
    bold: list[bool] = []
    for tool_name in tools:
        tool = ROB_TOOLS[tool_name]
        n_studies = checked[checked["tool"] == tool_name].drop_duplicates(
            ["study_id", "comparison"]
        )
        header = ax.text(
            0.0,
            y,
            f"{tool.name} ({len(n_studies)} "
            f"{'assessment' if len(n_studies) == 1 else 'assessments'})",
            fontsize=fontsize,
            fontweight="bold",
            va="center",
            ha="left",
            parse_math=False,
        )
        header.set_gid("rob-summary-tool")
        y += 1
        for domain, name in tool.domains.items():
            seg = bars[(bars["tool"] == tool_name) & (bars["domain"] == domain)]
            left = 0.0
            for lv, p in zip(seg["level"], seg["proportion"], strict=True):
                if not (p > 0):
                    continue
                style = LEVEL_STYLES[str(lv)]
                rect = ax.barh(
                    y, p, left=left, height=0.7, color=style.color, edgecolor="black", lw=0.5
                )
                rect.patches[0].set_gid("rob-summary-bar")
                if p >= 0.05 and style.symbol:
                    ax.text(
                        left + p / 2,
                        y,
                        style.symbol,
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        fontweight="bold",
                        color=style.symbol_color,
                        parse_math=False,
                    )
                left += p
            ticks.append(y)
            tick_labels.append(name if domain == OVERALL else f"{domain}: {name}")
            bold.append(domain == OVERALL)
            y += 1
    ax.set_ylim(y - 0.4, -0.6)
    ax.set_xlim(0.0, 1.0)
    ax.set_yticks(ticks, tick_labels)
    for lab, b in zip(ax.get_yticklabels(), bold, strict=True):
        lab.set_fontweight("bold" if b else "normal")
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.tick_params(axis="y", length=0, labelsize=fontsize)
    ax.tick_params(axis="x", labelsize=0.9 * fontsize)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    used = [lv for lv in LEVEL_ORDER if lv in set(bars.loc[bars["n"] > 0, "level"])]
    words = {
        lv: " / ".join(
            dict.fromkeys(
                w
                for ws in bars.loc[(bars["level"] == lv) & (bars["n"] > 0), "words"]
                for w in ws.split(" / ")
                if w in set(checked["judgement"])
            )
        )
        for lv in used
    }
    handles = [
        Patch(
            facecolor=LEVEL_STYLES[lv].color,
            edgecolor="black",
            label=f"{LEVEL_STYLES[lv].symbol} {words[lv]}".strip(),
        )
        for lv in used
    ]
    leg = ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35 / max(_height_in(ax), 0.35)),
        ncol=min(len(handles), 3),
        fontsize=0.9 * fontsize,
        frameon=False,
    )
    leg.set_gid("rob-summary-legend")
    return ax


def _height_in(ax: Axes) -> float:
    fig = ax.get_figure(root=True)
    assert fig is not None
    return float(ax.get_position().height * fig.get_figheight())


# --------------------------------------------------------------------------- forest plot


def rob_forest_data(
    table: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    argument: str = "rob",
) -> tuple[pd.DataFrame, RobTool]:
    """The risk-of-bias cells beside the study rows of a forest plot.

    Parameters
    ----------
    table : DataFrame
        A risk-of-bias table, as for :func:`rob_traffic_light_data`.
    rows : DataFrame
        The rows of a forest plot (:attr:`~msc_meta.plots.ForestData.rows`);
        its ``"study"`` rows are matched to the table by their ``label``.
    labels : mapping of str to str, optional
        Study id → the label of its forest-plot row. A row matches a study
        whose label (``labels[study_id]``) or study id equals the row's label.
    argument : str, default "rob"
        The name of ``table`` in error messages.

    Returns
    -------
    (DataFrame, RobTool)
        One row per matched study row and domain (``y``, ``label``,
        ``study_id``, ``column``, ``domain``, ``header``, ``judgement``,
        ``level``), and the tool whose domains are the columns.

    Raises
    ------
    RobError
        A bad table (as for :func:`rob_traffic_light_data`); the studies of
        the plot are assessed with more than one tool, or one study has more
        than one assessment (comparison) under the tool; two studies carry
        the label of one row.

    Notes
    -----
    A forest plot has one tool's domains as columns: the studies of the plot
    must be assessed with one tool (filter the table to that tool; studies
    assessed with another then get empty cells). Studies of the table that
    are not in the plot are ignored; a study row without an assessment gets
    empty cells.

    References
    ----------
    .. [1] Schwarzer G (2024). meta: General Package for Meta-Analysis, R
       package, function ``rob()`` and argument ``rob`` of ``forest.meta``.
    """
    t = _checked(table, argument)
    names = _check_labels(labels, "rob_labels")
    study_rows = rows[rows["kind"] == "study"]
    by_label: dict[str, str] = {}
    for study in dict.fromkeys(t["study_id"]):
        for lab in {study, names.get(study, study)}:
            if lab in by_label and by_label[lab] != study:
                raise RobError(
                    f"{argument}: studies {by_label[lab]!r} and {study!r} both match the forest "
                    f"row {lab!r}; give rob_labels so that each study has its own label"
                )
            by_label[lab] = study
    matched = {str(lab): by_label[str(lab)] for lab in study_rows["label"] if str(lab) in by_label}
    sel = t[t["study_id"].isin(set(matched.values()))]
    tools = list(dict.fromkeys(sel.sort_values("tool_order", kind="stable")["tool"]))
    if len(tools) > 1:
        raise RobError(
            f"{argument}: the studies of this forest plot are assessed with {', '.join(tools)}; "
            "the columns show one tool's domains, so pass the rows of one tool (e.g. "
            f"{argument}[{argument}['tool'] == {tools[0]!r}]); the other studies then get "
            "empty cells"
        )
    tool = ROB_TOOLS[tools[0]] if tools else _fallback_tool(t)
    several = sel.groupby("study_id")["comparison"].nunique()
    if (several > 1).any():
        study = str(several[several > 1].index[0])
        comps = sorted(set(sel.loc[sel["study_id"] == study, "comparison"]))
        raise RobError(
            f"{argument}: study {study!r} has {len(comps)} assessments ({'; '.join(comps)}); "
            "a forest row shows one: pass the rows of the comparison this plot shows"
        )
    out: list[dict[str, Any]] = []
    for _, r in study_rows.iterrows():
        study = matched.get(str(r["label"]))
        if study is None:
            continue
        for _, c in sel[sel["study_id"] == study].sort_values("domain_order").iterrows():
            out.append(
                {
                    "y": float(r["y"]),
                    "label": str(r["label"]),
                    "study_id": study,
                    "column": int(c["domain_order"]),
                    "domain": c["domain"],
                    "header": domain_header(c["domain"]),
                    "judgement": c["judgement"],
                    "level": c["level"],
                }
            )
    cols = ["y", "label", "study_id", "column", "domain", "header", "judgement", "level"]
    return pd.DataFrame(out, columns=cols), tool


def _fallback_tool(t: pd.DataFrame) -> RobTool:
    """The tool of a table none of whose studies is in the plot (columns stay empty)."""
    return ROB_TOOLS[str(t.sort_values("tool_order", kind="stable")["tool"].iloc[0])]


def rob_legend_lines(tool: RobTool, levels: Sequence[str]) -> list[str]:
    """The lines under a forest plot with risk-of-bias columns: domains, then the levels."""
    words = level_words(tool)
    used = [lv for lv in LEVEL_ORDER if lv in set(levels) and lv in words]
    return [
        f"Risk of bias ({tool.name}):",
        *(f"{domain_header(c)}: {n}" for c, n in tool.domains.items() if c != OVERALL),
        "   ".join(f"{LEVEL_STYLES[lv].symbol or '(blank)'} {words[lv]}" for lv in used),
    ]
