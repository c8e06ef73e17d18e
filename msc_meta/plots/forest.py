"""Forest plots: :func:`forest_data` prepares the rows, :func:`forest_plot` draws them.

The layout follows the forest plots of RevMan and of R's ``meta`` package
(``forest.meta``): one row per study with its label, arm data, effect and
confidence interval as text and weight; squares with area proportional to
the weight; a diamond per pooled estimate; a prediction-interval bar; the
heterogeneity statistics and the test for the overall effect under the
pooled rows; and, for a subgroup analysis, one block per subgroup followed
by the overall estimate and the test for subgroup differences.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import LargePlotWarning, MetaAnalysisError
from .._format import number, p_equals
from ..moderators import SubgroupResult
from ..risk_of_bias import RobTool
from ._common import (
    TYPESET,
    AnyResult,
    analysis_name,
    can_back_transform,
    display_kind,
    family_of,
    measure_of,
    root_result,
)
from ._forest_draw import draw_forest
from ._forest_rows import (
    ARM_KEYS,
    ARROW_KINDS,
    BOLD_KINDS,
    ForestColumn,
    RowContext,
    SortKey,
    axis_limits,
    check_max_rows,
    direction_labels,
    extra_columns,
    make_columns,
    not_estimable_row,
    null_value_of,
    omitted_row,
    pooled_block,
    shown_studies,
    sorted_studies,
    text_row,
)
from .rob import rob_forest_data

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["LARGE_FOREST_ROWS", "ForestColumn", "ForestData", "forest_data", "forest_plot"]

#: Above this many study rows a forest plot warns (:class:`~msc_meta.LargePlotWarning`): it
#: is slow to draw (about 30 s for 5,000 rows) and taller than anyone reads (0.13 inch a
#: row at the smallest font, 6 points). The figure is not cut or squeezed: the warning says
#: how to show fewer rows.
LARGE_FOREST_ROWS = 300


@dataclass(frozen=True)
class ForestData:
    """Everything a forest plot shows, before any drawing (see :func:`forest_data`).

    Attributes
    ----------
    rows : DataFrame
        One row per line of the plot, top to bottom, with columns ``kind``
        (``"study"``, ``"not_estimable"`` (a study left out for missing
        values), ``"omitted"`` (the line standing for the studies that
        ``max_rows`` leaves out), ``"pooled_re"``, ``"pooled_ce"``,
        ``"prediction"``, ``"subgroup_header"``, ``"heterogeneity"``,
        ``"test"``, ``"subgroup_test"``), ``label``, ``group`` (subgroup name or ``""``),
        ``study`` (index of the study in the result, -1 for other rows),
        ``y`` (vertical position; rows are one unit apart, top = smallest),
        ``estimate``, ``ci_low``, ``ci_high`` (display scale: ratios
        exponentiated, proportions and correlations back-transformed),
        ``weight`` (percent), the texts ``estimate_text``, ``ci_text``,
        ``effect_text`` and ``weight_text``, the arm-data texts (``arm_t``,
        ``arm_c``, ``n_t``, ``n_c``, ``arm``, ``n``, ``pre``, ``post``, as the
        measure has them), extra columns from ``data`` (``extra_<name>``),
        ``arrow_low`` and ``arrow_high`` (the interval leaves the axis) and
        ``bold``.
    columns : tuple of ForestColumn
        The text columns, left to right.
    log_scale : bool
        Whether the x axis is logarithmic (ratio measures).
    xlim : (float, float)
        Limits of the x axis (display scale).
    xticks : tuple of float
        Tick positions (display scale).
    null_value : float or None
        Position of the line of no effect, None for none.
    effect_label : str
        Name of the effect on the display scale (e.g. ``"Risk ratio"``).
    measure : str or None
        The effect-size measure code.
    level : float
        Confidence level of the intervals.
    label_left, label_right : str or None
        Labels under the axis, left and right of the null line (at the ends
        of the axis when there is none), drawn with an arrow pointing away
        from the centre.
    rob : DataFrame or None
        Risk-of-bias cells beside the study rows (from
        :func:`~msc_meta.plots.rob.rob_forest_data`: ``y``, ``column``,
        ``header``, ``judgement``, ``level`` ...), None without ``rob=``.
    rob_tool : RobTool or None
        The tool whose domains are the risk-of-bias columns.
    """

    rows: pd.DataFrame
    columns: tuple[ForestColumn, ...]
    log_scale: bool
    xlim: tuple[float, float]
    xticks: tuple[float, ...]
    null_value: float | None
    effect_label: str
    measure: str | None
    level: float
    label_left: str | None = None
    label_right: str | None = None
    rob: pd.DataFrame | None = None
    rob_tool: RobTool | None = None

    @property
    def studies(self) -> pd.DataFrame:
        """The study rows only."""
        return self.rows[self.rows["kind"] == "study"]


def forest_data(
    result: AnyResult,
    *,
    data: pd.DataFrame | None = None,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    sort_by: SortKey | None = None,
    descending: bool = False,
    common: bool = False,
    prediction: bool | None = None,
    back_transform: bool = True,
    xlim: tuple[float, float] | None = None,
    xticks: Sequence[float] | None = None,
    null: float | bool | None = None,
    favours: tuple[str, str] | None = None,
    label_left: str | None = None,
    label_right: str | None = None,
    arm_labels: tuple[str, str] = ("Experimental", "Control"),
    show_arms: bool = True,
    digits: int = 2,
    arm_digits: int | None = None,
    label_header: str = "Study",
    max_rows: int | None = None,
    rob: pd.DataFrame | None = None,
    rob_labels: Mapping[str, str] | None = None,
) -> ForestData:
    """Prepare the rows, texts and axis of a forest plot, without drawing.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult or SubgroupResult
        The meta-analysis. The arm data come from ``result.study_data``
        (present when the result was pooled from :func:`~msc_meta.effect_sizes`
        output, or by :func:`~msc_meta.mantel_haenszel` / :func:`~msc_meta.peto`).
    data : DataFrame, optional
        Extra per-study columns (year, design, ...), one row per study in the
        order of ``result.labels`` (``result.overall.labels`` for subgroups).
    columns : sequence of str or mapping of str to str, optional
        Columns of ``data`` to show left of the arm data (a mapping gives
        their headers).
    sort_by : {"effect", "weight", "year"} or str, optional
        Order of the studies (within each subgroup): by effect, by weight, by
        year (``data["year"]``, else a year read from the labels) or by a
        column of ``data``. Missing values go last. Default: as given.
    descending : bool, default False
        Sort in descending order.
    common : bool, default False
        Also show the common-effect estimate beside a random-effects one
        (``result.ce_estimate``).
    prediction : bool, optional
        Show the prediction interval of random-effects models. Default: for
        the overall estimate when k >= 2 (as ``to_frame()`` and the report
        give it), not for subgroup subtotals.
    back_transform : bool, default True
        Show effects on the display scale: ratios on a log axis,
        proportions and correlations back-transformed. False shows the
        analysis scale, as does a PFT result without study sizes (pooled
        from arrays rather than from :func:`~msc_meta.effect_sizes` output).
    xlim : (float, float), optional
        Limits of the x axis on the display scale; intervals that leave it
        end in arrows. Default: round limits covering the intervals.
    xticks : sequence of float, optional
        Tick positions (display scale).
    null : float or bool, optional
        Line of no effect: a position, True (1 for ratios, 0 otherwise) or
        False. Default: 1 for ratios, none for one-group proportions and
        means, 0 otherwise.
    favours : (str, str), optional
        Shorthand for ``label_left="Favours A", label_right="Favours B"``
        (``favours=("A", "B")``).
    label_left : str, optional
        What the left side of the null line means, drawn under the axis (with
        an arrow) left of the null line, or at the left end of the axis when
        there is no null line; as ``label.left`` of R's ``meta``. Neutral
        wording says which side means more of the outcome in which arm, e.g.
        ``label_left="higher response with control"``.
    label_right : str, optional
        The same for the right side, e.g.
        ``label_right="higher response with MSC"``.
    arm_labels : (str, str), default ("Experimental", "Control")
        Names of the two arms, shown above their data.
    show_arms : bool, default True
        Show the arm data (when the result has them).
    digits : int, default 2
        Decimals of every number in the columns: effects and intervals on
        the right, arm means and SDs on the left.
    arm_digits : int, optional
        Decimals of the arm means and SDs when they should differ from
        ``digits`` (default: ``digits``).
    label_header : str, default "Study"
        Header of the study-label column.
    max_rows : int, optional
        Show at most this many study rows (per subgroup): the first and last
        ones, with a line saying how many are not shown. Every study is
        pooled whatever is shown. Default: all; above
        :data:`LARGE_FOREST_ROWS` study rows a :class:`~msc_meta.LargePlotWarning`
        says how to proceed.
    rob : DataFrame, optional
        A risk-of-bias table (one row per study × domain, as
        ``records.risk_of_bias``; see :mod:`msc_meta.plots.rob`): one narrow
        column per domain of its tool, the overall judgement last, right of
        the plot, as R meta's ``forest(..., rob=)`` and RevMan draw them. A
        study row matches the assessment of the study whose id, or whose
        label in ``rob_labels``, is the row's label; a row without one gets
        empty cells, and studies not in the plot are ignored. The studies of
        the plot must be assessed with one tool (else a
        :class:`~msc_meta.risk_of_bias.RobError`: filter the table to one tool).
    rob_labels : mapping of str to str, optional
        Study id → the study's label in the plot (e.g.
        ``dict(zip(records.studies.study_id, records.studies.label))``).

    Returns
    -------
    ForestData

    Raises
    ------
    MetaAnalysisError
        An unknown ``sort_by`` or column, ``data`` of the wrong length, bad
        ``xlim``, no year to sort by, bad ``max_rows``, or both ``favours``
        and ``label_left``/``label_right``.

    Warns
    -----
    LargePlotWarning
        More than :data:`LARGE_FOREST_ROWS` study rows are shown.

    Notes
    -----
    Studies left out of the result for missing values
    (``result.not_estimable``) are listed after the pooled studies (of the
    whole analysis, for a subgroup analysis) with "not estimable" in place of
    their effect, as RevMan shows them. The automatic axis covers every
    study interval unless one reaches further beyond the estimates and the
    pooled intervals than twice the larger of their spread and the median
    width of a study interval; such an interval ends in an arrow.

    See Also
    --------
    forest_plot : draws a :class:`ForestData`.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> fd = forest_data(mm.meta_analysis(es))
    >>> fd.studies[["label", "arm_t", "arm_c", "effect_text"]].iloc[0].tolist()
    ['Aronson 1948', '4/123', '11/139', '0.41 [0.13; 1.26]']
    >>> fd.log_scale, fd.null_value
    (True, 1.0)
    """
    fd = _forest_data(
        result,
        data=data,
        columns=columns,
        sort_by=sort_by,
        descending=descending,
        common=common,
        prediction=prediction,
        back_transform=back_transform,
        xlim=xlim,
        xticks=xticks,
        null=null,
        favours=favours,
        label_left=label_left,
        label_right=label_right,
        arm_labels=arm_labels,
        show_arms=show_arms,
        digits=digits,
        arm_digits=arm_digits,
        label_header=label_header,
        max_rows=max_rows,
    )
    _warn_if_large(fd)
    return _with_rob(fd, rob, rob_labels)


def _with_rob(
    fd: ForestData, rob: pd.DataFrame | None, rob_labels: Mapping[str, str] | None
) -> ForestData:
    """``fd`` with the risk-of-bias cells of ``rob`` (``fd`` itself without one)."""
    if rob is None:
        if rob_labels is not None:
            raise MetaAnalysisError("rob_labels is given without rob=; pass the table too")
        return fd
    cells, tool = rob_forest_data(rob, fd.rows, labels=rob_labels)
    return dataclasses.replace(fd, rob=cells, rob_tool=tool)


def _warn_if_large(fd: ForestData) -> None:
    """Warn (at the caller of the public function) when ``fd`` has very many study rows."""
    n = int(fd.rows["kind"].isin(("study", "not_estimable")).sum())
    if n <= LARGE_FOREST_ROWS:
        return
    inches = 1.55 * 6.0 / 72 * len(fd.rows)
    warnings.warn(
        f"forest plot of {n} study rows: it is slow to draw and about {inches:.0f} inches "
        "tall, too long to read (and beyond what a PNG can hold at 300 dpi from about "
        "1,700 rows). Pass max_rows= to show the first and last studies (all are still "
        "pooled), plot a subset of the studies, or look at many studies with a funnel plot "
        "(funnel_plot).",
        LargePlotWarning,
        stacklevel=3,
    )


def _forest_data(
    result: AnyResult,
    *,
    data: pd.DataFrame | None,
    columns: Sequence[str] | Mapping[str, str] | None,
    sort_by: SortKey | None,
    descending: bool,
    common: bool,
    prediction: bool | None,
    back_transform: bool,
    xlim: tuple[float, float] | None,
    xticks: Sequence[float] | None,
    null: float | bool | None,
    favours: tuple[str, str] | None,
    label_left: str | None,
    label_right: str | None,
    arm_labels: tuple[str, str],
    show_arms: bool,
    digits: int,
    arm_digits: int | None,
    label_header: str,
    max_rows: int | None,
) -> ForestData:

    max_rows = check_max_rows(max_rows)
    left_label, right_label = direction_labels(favours, label_left, label_right)
    if arm_digits is None:
        arm_digits = digits
    root = root_result(result)
    k = len(root.labels)
    # PFT needs the study sizes to be back-transformed; without them, the analysis scale
    back_transform = back_transform and can_back_transform(root)
    kind = display_kind(root.measure) if back_transform else "identity"
    log_scale = kind == "log"
    if digits < 0 or arm_digits < 0:
        raise MetaAnalysisError("digits and arm_digits must be >= 0")
    extra = extra_columns(data, columns, k)
    ctx = RowContext(
        root=root,
        transform=back_transform,
        digits=digits,
        arm_digits=arm_digits,
        family=family_of(root.measure) if show_arms and root.study_data is not None else None,
        extra=extra,
        level=root.level,
    )

    rows: list[dict[str, Any]] = []
    y = 0.0
    if isinstance(result, SubgroupResult):
        for name in result.groups:
            sub = result.subtotal(name)  # with a common tau^2: the mixed-effects model's estimate
            idx = [i for i, g in enumerate(result.group_of) if g == name]
            idx = sorted_studies(idx, sort_by, descending, root, data)
            rows.append(text_row("subgroup_header", str(name), y, group=str(name)))
            y += 1
            y = _study_rows(rows, ctx, idx, y, max_rows, group=str(name))
            y += 0.3
            y = pooled_block(
                rows,
                ctx,
                sub,
                idx,
                y,
                group=str(name),
                common=common,
                prediction=bool(prediction),
                subtotal=True,
                tests=False,
            )
            y += 0.7
        if root.not_estimable:
            for label in root.not_estimable:
                rows.append(not_estimable_row(label, y))
                y += 1
            y += 0.3
        y = pooled_block(
            rows,
            ctx,
            result.overall,
            list(range(k)),
            y,
            group="",
            common=common,
            prediction=prediction,
            subtotal=False,
            tests=True,
        )
        rows.append(
            text_row(
                "subgroup_test",
                f"Test for subgroup differences: {_between_test_text(result)} "
                f"({p_equals(result.q_between_pvalue)})",
                y,
            )
        )
    else:
        idx = sorted_studies(list(range(k)), sort_by, descending, root, data)
        y = _study_rows(rows, ctx, idx, y, max_rows)
        for label in root.not_estimable:
            rows.append(not_estimable_row(label, y))
            y += 1
        y += 0.3
        pooled_block(
            rows,
            ctx,
            root,
            idx,
            y,
            group="",
            common=common,
            prediction=prediction,
            subtotal=False,
            tests=True,
        )

    null_value = null_value_of(root.measure, null, log_scale, kind)
    frame, lim, ticks = finish_rows(rows, log_scale, null_value, kind, root.measure, xlim, xticks)

    cols = make_columns(ctx, root, arm_labels, label_header, extra, frame)
    spec = measure_of(root.measure)
    axis_name = spec.axis_name if spec is not None else "Effect"
    label = axis_name if back_transform else analysis_name(root.measure)
    return ForestData(
        rows=frame,
        columns=cols,
        log_scale=log_scale,
        xlim=lim,
        xticks=ticks,
        null_value=null_value,
        effect_label=label,
        measure=root.measure,
        level=root.level,
        label_left=left_label,
        label_right=right_label,
    )


def finish_rows(
    rows: list[dict[str, Any]],
    log_scale: bool,
    null_value: float | None,
    kind: str,
    measure: str | None,
    xlim: tuple[float, float] | None,
    xticks: Sequence[float] | None,
) -> tuple[pd.DataFrame, tuple[float, float], tuple[float, ...]]:
    """The rows as a frame (texts filled, arrows, bold) with the axis limits and ticks.

    Shared by :func:`forest_data` and the forest plots of refits
    (:mod:`msc_meta.plots.sensitivity`).
    """
    frame = pd.DataFrame(rows)
    for col in ("estimate", "ci_low", "ci_high", "weight"):
        frame[col] = frame[col].astype(float)
    text_cols = [c for c in frame.columns if c.endswith("_text") or c in ARM_KEYS]
    text_cols += [c for c in frame.columns if c.startswith("extra_")]
    frame[text_cols] = frame[text_cols].fillna("")
    lim, ticks = axis_limits(frame, log_scale, null_value, kind, measure, xlim, xticks)
    frame["arrow_low"] = frame["ci_low"].lt(lim[0]) & frame["kind"].isin(ARROW_KINDS)
    frame["arrow_high"] = frame["ci_high"].gt(lim[1]) & frame["kind"].isin(ARROW_KINDS)
    frame["bold"] = frame["kind"].isin(BOLD_KINDS)
    return frame, lim, ticks


def _study_rows(
    rows: list[dict[str, Any]],
    ctx: RowContext,
    idx: list[int],
    y: float,
    max_rows: int | None,
    group: str = "",
) -> float:
    """Append the study rows of ``idx`` (at most ``max_rows``); return the next y."""
    first, last, omitted = shown_studies(idx, max_rows)
    for i in first:
        rows.append(ctx.study_row(i, y, group=group))
        y += 1
    if omitted:
        rows.append(omitted_row(omitted, y, group))
        y += 1
    for i in last:
        rows.append(ctx.study_row(i, y, group=group))
        y += 1
    return y


def forest_plot(
    result: AnyResult | ForestData,
    *,
    ax: Axes | None = None,
    data: pd.DataFrame | None = None,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    sort_by: SortKey | None = None,
    descending: bool = False,
    common: bool = False,
    prediction: bool | None = None,
    back_transform: bool = True,
    xlim: tuple[float, float] | None = None,
    xticks: Sequence[float] | None = None,
    null: float | bool | None = None,
    favours: tuple[str, str] | None = None,
    label_left: str | None = None,
    label_right: str | None = None,
    arm_labels: tuple[str, str] = ("Experimental", "Control"),
    show_arms: bool = True,
    digits: int = 2,
    arm_digits: int | None = None,
    label_header: str = "Study",
    max_rows: int | None = None,
    fontsize: float | None = None,
    plot_width: float | None = None,
    rob: pd.DataFrame | None = None,
    rob_labels: Mapping[str, str] | None = None,
) -> Axes:
    """Forest plot of a meta-analysis or a subgroup analysis, as RevMan and R's ``meta`` draw it.

    Each study has a row with its label, the arm data (events/total per arm,
    mean (SD) and N per arm, or one group's data), its effect with confidence
    interval as text and its weight; a square of area proportional to the
    weight marks the effect, a line its interval, and an arrow an interval
    that leaves the axis. Pooled estimates are diamonds spanning their
    confidence interval (the random-effects one filled; the common-effect one
    open), the prediction interval a bar. Under them come the heterogeneity
    statistics (τ² and I² with their Q-profile intervals, Q with its df and
    p-value) and the test for the overall effect (z, or t with its df for the
    ``t``, ``knha`` and ``adhoc`` tests). For a :class:`~msc_meta.SubgroupResult`
    each subgroup gets a block with its own diamond and heterogeneity line
    (weights are those of the overall analysis, as in RevMan), then come the
    overall estimate and the test for subgroup differences. One-group
    proportions get no test line: their test is against 0 on the transformed
    scale (a logit of 0 is a proportion of 0.5), which answers no question.

    Parameters
    ----------
    result : MetaAnalysisResult, BinaryPooledResult, SubgroupResult or ForestData
        What to draw; a :class:`ForestData` (from :func:`forest_data`, maybe
        edited) is drawn as it is, and the data options below (all but ``rob``) are
        then ignored.
    ax : matplotlib Axes, optional
        Where to draw. The whole forest (text columns, graph and headers) is
        fitted into the Axes' place: the Axes is shrunk to the graph and the
        columns are drawn beside it (not below 1 inch of graph; save with
        ``bbox_inches="tight"`` if the place is too small). Default: a new
        figure sized to the rows and columns, whose height grows with the
        number of rows.
    data : DataFrame, optional
        Extra per-study columns, as for :func:`forest_data`.
    columns : sequence of str or mapping of str to str, optional
        Columns of ``data`` to show, as for :func:`forest_data`.
    sort_by : {"effect", "weight", "year"} or str, optional
        Order of the studies, as for :func:`forest_data`.
    descending : bool, default False
        Sort in descending order.
    common : bool, default False
        Also show the common-effect estimate beside a random-effects one.
    prediction : bool, optional
        Show the prediction interval, as for :func:`forest_data`.
    back_transform : bool, default True
        Show effects on the display scale, as for :func:`forest_data`.
    xlim : (float, float), optional
        Limits of the x axis on the display scale.
    xticks : sequence of float, optional
        Tick positions (display scale).
    null : float or bool, optional
        Line of no effect, as for :func:`forest_data`.
    favours : (str, str), optional
        Shorthand for ``label_left`` and ``label_right``.
    label_left : str, optional
        What the left side of the null line means, as for :func:`forest_data`.
    label_right : str, optional
        What the right side of the null line means.
    arm_labels : (str, str), default ("Experimental", "Control")
        Names of the two arms, shown above their data.
    show_arms : bool, default True
        Show the arm data (when the result has them).
    digits : int, default 2
        Decimals of every number in the columns.
    arm_digits : int, optional
        Decimals of the arm means and SDs (default: ``digits``).
    label_header : str, default "Study"
        Header of the study-label column.
    max_rows : int, optional
        Show at most this many study rows (per subgroup), as for
        :func:`forest_data`.
    fontsize : float, optional
        Font size in points. Default: 9, smaller for many rows (down to 6)
        or, with ``ax``, to fit the rows into the Axes.
    plot_width : float, optional
        Width of the graph in inches (default: 3 when ``ax`` is None, wider
        when the heterogeneity line needs it; with ``ax``, what the columns
        leave of its width).
    rob : DataFrame, optional
        A risk-of-bias table: a column per domain right of the plot with a
        coloured circle and symbol per study (+ low, − some concerns, × high,
        ! critical, ? no information), and a key of the domains and
        judgements under the plot; as for :func:`forest_data`.
    rob_labels : mapping of str to str, optional
        Study id → the study's label in the plot, as for :func:`forest_data`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes of the graph (its figure is ``ax.figure``).

    Warns
    -----
    LargePlotWarning
        More than :data:`LARGE_FOREST_ROWS` study rows, before drawing them.
        The figure is drawn whole, its height growing with the rows: pass
        ``max_rows=`` for fewer rows.

    Notes
    -----
    Squares have areas proportional to the weights (with a floor of 2 points
    per side so that every study stays visible). Ratio measures are drawn on
    a logarithmic axis with the exponentiated values; proportions (PLO, PLN,
    PAS, PFT) and correlations (ZCOR) are back-transformed (PFT with the
    harmonic mean of the study sizes; Miller 1978). The text is never
    mathtext (``$`` in labels is literal), and global matplotlib settings are
    not changed. This is the equivalent of ``forest.meta`` in R's ``meta``
    package and of metafor's ``forest.rma``.

    References
    ----------
    .. [1] Lewis S, Clarke M (2001). Forest plots: trying to see the wood and
       the trees. BMJ 322:1479-1480.
    .. [2] Schwarzer G, Carpenter JR, Rücker G (2015). Meta-Analysis with R,
       chapter 2. Springer.
    .. [3] Higgins JPT, Thompson SG, Spiegelhalter DJ (2009). A re-evaluation
       of random-effects meta-analysis. J R Stat Soc A 172:137-159
       (prediction intervals).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> ax = forest_plot(mm.meta_analysis(es), favours=("vaccine", "control"),
    ...                  arm_labels=("Vaccine", "Control"))
    >>> ax.get_xscale()
    'log'
    >>> plt.close(ax.figure)
    """
    if isinstance(result, ForestData):
        fd = result if rob is None else _with_rob(result, rob, rob_labels)
    else:
        fd = _forest_data(
            result,
            data=data,
            columns=columns,
            sort_by=sort_by,
            descending=descending,
            common=common,
            prediction=prediction,
            back_transform=back_transform,
            xlim=xlim,
            xticks=xticks,
            null=null,
            favours=favours,
            label_left=label_left,
            label_right=label_right,
            arm_labels=arm_labels,
            show_arms=show_arms,
            digits=digits,
            arm_digits=arm_digits,
            label_header=label_header,
            max_rows=max_rows,
        )
        fd = _with_rob(fd, rob, rob_labels)
    _warn_if_large(fd)
    return draw_forest(fd, ax=ax, fontsize=fontsize, plot_width=plot_width)


def _between_test_text(result: SubgroupResult) -> str:
    """``Q = 3.52, df = 2``, or ``F = 1.20, df = (2, 10)`` for a common-τ² model with a t test."""
    model = result.common_tau2_model
    df2 = None if model is None else model.qm_df2
    value = number(result.q_between, 2, style=TYPESET)
    if df2 is None:
        return f"Q = {value}, df = {result.q_between_df}"
    return f"F = {value}, df = ({result.q_between_df}, {df2})"
