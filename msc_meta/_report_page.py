"""The report's page: the values it shows, as text, rendered with the Jinja2 templates.

Python prepares every value here (numbers formatted by :mod:`msc_meta._format`, plain
strings, lists and small dataclasses); the templates in ``msc_meta/templates/``
(``report.html.j2``, ``_macros.html.j2`` and the inlined ``report.css``) only lay them
out, with autoescaping. :func:`render_page` gives the whole page, :func:`analysis_html`
one analysis' ``<article>``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
from markupsafe import Markup

from . import __version__
from ._format import interval, number, p_equals
from ._inference import TESTS
from ._report_tables import effect_size_table
from ._templates import TEMPLATES
from ._validation import is_missing
from .analyses import AnalysisSpec
from .caveats import records_of, study_labels, words
from .certainty import CERTAINTY_LEVELS, LEVEL_MEANING, SummaryOfFindings
from .effects import MEASURES, measure_of
from .heterogeneity_display import HeterogeneityTable, describe_heterogeneity, display_scale
from .records import TrialRecords, bundled_data_dir, schema
from .results import NOT_APPLICABLE_K1, NOT_ESTIMABLE, SINGLE_STUDY, MetaAnalysisResult
from .risk_of_bias import ROB_TOOLS
from .running import MIN_K_FUNNEL, FurtherAnalysis, ReportEntry
from .sensitivity import LOO_MIN_K

#: Resolution of the PNG figures (written and embedded in the page).
PNG_DPI = 300

#: Decimals of the numbers the report shows on the display scale: its tables and both
#: sides of its forest plots (arm means and SDs on the left, effects and intervals on the
#: right).
DIGITS = 2

#: Title of the HTML page.
REPORT_TITLE = "MSC therapy for rheumatoid arthritis: meta-analysis report"

#: Pixels per inch at which figures are shown in the page (CSS pixels).
_CSS_DPI = 96


# --------------------------------------------------------------------------- numbers in words


def _test_label(code: str) -> str:
    """A test code in words ("Hartung-Knapp"), from the test registry."""
    return TESTS[code].label if code in TESTS else code


def _num(x: Any, digits: int = DIGITS) -> str:
    return number(x, digits, style="typeset")


def _interval(lo: Any, hi: Any, digits: int = DIGITS) -> str:
    return interval(lo, hi, digits, style="typeset")


def _model_text(r: MetaAnalysisResult) -> str:
    if r.k == 1:
        return f"{SINGLE_STUDY}: its own estimate, {_test_label(r.test)} interval"
    model = "common effect" if r.method == "EE" else f"random effects, τ² by {r.method}"
    return f"{model}; {_test_label(r.test)} test and interval"


def _arm_text(row: Any, measure: str) -> str:
    args = MEASURES[measure].arguments

    def i(x: Any) -> str:
        return str(int(float(x)))

    if args == ("events", "n"):
        return f"{i(row['events'])}/{i(row['n'])}"
    if args == ("events_t", "n_t", "events_c", "n_c"):
        return f"{i(row['events_t'])}/{i(row['n_t'])} vs {i(row['events_c'])}/{i(row['n_c'])}"
    if args == ("mean", "sd", "n"):
        return f"{_num(row['mean'])} (SD {_num(row['sd'])}), n = {i(row['n'])}"
    if "mean_t" in args:
        return (
            f"{_num(row['mean_t'])} (SD {_num(row['sd_t'])}), n = {i(row['n_t'])} vs "
            f"{_num(row['mean_c'])} (SD {_num(row['sd_c'])}), n = {i(row['n_c'])}"
        )
    return "; ".join(f"{a} = {row[a]}" for a in args)


def _patients(frame: pd.DataFrame) -> int:
    total = 0
    for col in ("n", "n_t", "n_c"):
        if col in frame.columns:
            total += int(frame[col].sum())
    return total


def estimate_text(r: MetaAnalysisResult) -> str:
    """The pooled estimate and its interval on the display scale, e.g. ``1.75 [0.90, 3.40]``.

    Parameters
    ----------
    r : MetaAnalysisResult
        The result.

    Returns
    -------
    str
        Estimate and confidence interval, :data:`DIGITS` decimals, typographic minus.
    """
    t = r.transform
    return f"{_num(t(r.estimate))} {_interval(t(r.ci_low), t(r.ci_high))}"


def _pi_text(r: MetaAnalysisResult) -> str:
    if r.k < 2:
        return NOT_APPLICABLE_K1
    if not r.is_random:
        return "not given (common-effect model)"
    t = r.transform
    return _interval(t(r.pi_low), t(r.pi_high))


def _when(weeks: float | None) -> str:
    return "end of follow-up" if weeks is None else f"{weeks:g} weeks after treatment"


def estimate_label(spec: AnalysisSpec, measure: str | None = None) -> str:
    """What an analysis' estimate is, in words (e.g. ``"risk ratio"``, ``"mean change"``).

    Single-group mean analyses pool mean changes from baseline and two-group
    mean analyses differences in mean change (:func:`~msc_meta.analyses.analysis_input`
    reads ``change_mean`` rows); other analyses are named by their display
    scale (:func:`~msc_meta.heterogeneity_display.display_scale`).

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis.
    measure : str, optional
        The measure pooled; default: ``spec.measure``.

    Returns
    -------
    str
        The estimate in words.
    """
    code = measure or spec.measure
    if spec.kind == "single_group_mean" and code == "MN":
        return "mean change"
    if spec.kind == "two_group_mean" and code == "MD":
        return "difference in mean change"
    return display_scale(code)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@dataclass(frozen=True)
class Figure:
    """A figure the report drew and wrote.

    Attributes
    ----------
    kind : str
        ``"forest"``, ``"leave_one_out"`` or ``"funnel"`` for an analysis;
        ``"evidence_map"``, ``"rob_traffic_light"`` or ``"rob_summary"`` for the
        records as a whole.
    png : bytes
        The PNG image, embedded in the page.
    files : dict of str to str
        Format to the file written, relative to the page.
    """

    kind: str
    png: bytes
    files: dict[str, str]  # format -> relative path


# --------------------------------------------------------------------------- page facts


def _data_version(records: TrialRecords) -> tuple[str, str]:
    """(name, version) of the records' data package."""
    desc: dict[str, Any] | None = None
    if records.path is not None and (Path(records.path) / "datapackage.json").is_file():
        try:
            with (Path(records.path) / "datapackage.json").open(encoding="utf-8") as fh:
                desc = json.load(fh)
        except (OSError, ValueError):
            desc = None
    if desc is None:
        desc = schema()
    return str(desc.get("name", "records")), str(desc.get("version", "unknown"))


def _today() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).date().isoformat()
    return _dt.date.today().isoformat()


# --------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class _Link:
    """A table cell that links within the page."""

    href: str
    text: str


# The page is rendered with the package's templates (:data:`msc_meta._templates.TEMPLATES`,
# autoescaped): every value is text unless marked safe with :class:`markupsafe.Markup`, which
# only the embedded images and the summary-of-findings fragment (itself autoescaped) are.
TEMPLATES.tests["link"] = lambda cell: isinstance(cell, _Link)

Cell = str | _Link


@dataclass(frozen=True)
class _Table:
    """A table of the page; columns in ``num`` are right-aligned."""

    head: list[str]
    rows: list[list[Cell]]
    num: tuple[int, ...] = ()
    cls: str = ""


@dataclass(frozen=True)
class _FigureView:
    """A figure as the page shows it (``figure`` macro)."""

    kind: str  # "Forest plot", "Leave-one-out forest plot" or "Funnel plot"
    forest: bool
    src: Markup  # a data URI of the PNG
    alt: str
    full: str | None  # the full-size file a forest plot links to
    width: int  # CSS pixels of a figure shown at its own size
    caption: str
    links: list[tuple[str, str]]  # (FORMAT, relative path)


@dataclass(frozen=True)
class _FurtherView:
    """A further analysis as the page lists it: its name and its result or why it did not run."""

    label: str
    text: str


@dataclass(frozen=True)
class _AnalysisView:
    """One analysis as the page shows it (``analysis`` macro); ``error`` when it did not run."""

    anchor: str
    title: str
    name: str
    facts: list[tuple[str, str]]
    warnings: list[tuple[str, str]]
    problems: list[str]
    error: str | None = None
    what: str = ""
    estimate: str = ""
    lvl: str = ""
    k: int = 0
    patients: int = 0
    figures: list[_FigureView] = dataclasses.field(default_factory=list)
    numbers: _Table | None = None
    studies: _Table | None = None
    conversions: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    excluded: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    funnel_note: bool = False
    min_k_funnel: int = MIN_K_FUNNEL
    further: list[_FurtherView] = dataclasses.field(default_factory=list)
    tables: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Built:
    """One analysis as the report built it.

    Attributes
    ----------
    entry : ReportEntry
        The analysis run.
    figures : list of Figure
        Its figures.
    figure_problems : list of str
        Figures that could not be drawn, and why.
    tables : dict of str to str
        Table label to CSV file, relative to the page.
    """

    entry: ReportEntry
    figures: list[Figure]
    figure_problems: list[str]
    tables: dict[str, str]  # label -> relative path


def _anchor(name: str) -> str:
    return f"analysis-{name}"


def _text(x: Any) -> str:
    return "" if x is None else str(x)


#: The figures' names on the page.
_FIGURE_NAMES = {
    "forest": "Forest plot",
    "leave_one_out": "Leave-one-out forest plot",
    "funnel": "Funnel plot",
}


#: The figures of the records as a whole: name on the page and caption.
_RECORD_FIGURES = {
    "evidence_map": (
        "Evidence map",
        "What the records hold for each trial (rows, with design and N) and each outcome and "
        "time point (columns): numbers read in a source, only derived numbers (computed, or "
        "implied by a statement), only a p-value, or nothing.",
    ),
    "rob_traffic_light": (
        "Risk of bias: traffic-light plot",
        "The judgement of each study in each domain of its tool, in the tool's own words; "
        "the overall judgement last. '?' marks a domain on which the readable sources give "
        "no information.",
    ),
    "rob_summary": (
        "Risk of bias: summary plot",
        "The share of studies at each level, per domain of each tool (unweighted).",
    ),
}


def _record_figure_view(fig: Figure) -> _FigureView:
    """A figure of the records, embedded as PNG at its own size (the page scales it down)."""
    kind, caption = _RECORD_FIGURES[fig.kind]
    data = base64.b64encode(fig.png).decode("ascii")
    return _FigureView(
        kind=kind,
        forest=False,
        src=Markup(f"data:image/png;base64,{data}"),  # base64 characters only
        alt=kind,
        full=None,
        width=round(_png_size(fig.png)[0] * _CSS_DPI / PNG_DPI),
        caption=f"{kind}: {caption}",
        links=[(fmt.upper(), rel) for fmt, rel in sorted(fig.files.items())],
    )


def _figure_view(
    fig: Figure, spec: AnalysisSpec, what: str, lvl: str, filled: bool = False
) -> _FigureView:
    """A figure of the page, embedded as PNG.

    A forest plot fills the width of the page's content, so that its smallest
    text (the heterogeneity and test lines) reads at the size of the page's
    small print, and the image links to the full-size file (the PNG, else the
    first format written). Leave-one-out and funnel plots are shown at their
    own size; ``filled`` says the funnel shows trim-and-fill's filled studies.
    """
    kind = _FIGURE_NAMES[fig.kind]
    if fig.kind == "leave_one_out":
        caption = (
            f"{kind}: the pooled estimate ({what}) with each study left out in turn, "
            f"with {lvl} confidence intervals."
        )
    else:
        caption = (
            f"{kind}: study estimates and the pooled estimate ({what}) with {lvl} "
            "confidence intervals."
        )
    if fig.kind == "funnel" and filled:
        caption += " Open markers: the studies trim-and-fill adds."
    data = base64.b64encode(fig.png).decode("ascii")
    return _FigureView(
        kind=kind,
        forest=fig.kind == "forest",
        src=Markup(f"data:image/png;base64,{data}"),  # base64 characters only
        alt=f"{kind}: {spec.title}",
        full=fig.files.get("png") or next(iter(fig.files.values()), None),
        width=round(_png_size(fig.png)[0] * _CSS_DPI / PNG_DPI),
        caption=caption,
        links=[(fmt.upper(), rel) for fmt, rel in sorted(fig.files.items())],
    )


def _further_text(f: FurtherAnalysis, r: MetaAnalysisResult, what: str) -> str:
    """What a further analysis gave, in words (display scale), or why it did not run."""
    if not f.ran:
        return f"not run; {f.reason}"
    t = r.transform
    x = f.result
    if f.key == "leave_one_out":
        est = x["estimate"].dropna()
        return (
            f"run; without each study in turn the estimate ({what}) lies between "
            f"{_num(t(est.min()))} and {_num(t(est.max()))}"
        )
    if f.key == "influence":
        flagged = ", ".join(x.influential) or "none"
        return f"run; studies influential by metafor's rule: {flagged}"
    if f.key == "egger":
        stat = "z" if x.df is None else f"t({x.df})"
        return (
            f"run; {stat} = {_num(x.statistic)}, {p_equals(x.pvalue)}; limit estimate "
            f"{_num(t(x.estimate))} {_interval(t(x.ci_low), t(x.ci_high))}"
        )
    if f.key == "begg":
        exact = " (exact)" if x.exact else ""
        return f"run; Kendall's τ = {_num(x.tau)}, {p_equals(x.pvalue)}{exact}"
    adj = x.result
    missing = "no study" if x.k0 == 0 else f"{x.k0} {'study' if x.k0 == 1 else 'studies'}"
    return (
        f"run ({x.estimator}); {missing} estimated missing on the {x.side}; adjusted "
        f"estimate {_num(t(adj.estimate))} {_interval(t(adj.ci_low), t(adj.ci_high))}"
    )


def _analysis_view(b: Built, records: TrialRecords) -> _AnalysisView:
    """Everything the page shows of one analysis, as text."""
    e = b.entry
    spec = e.spec
    facts = [
        ("Comparison", spec.comparison),
        ("Outcome", f"{spec.outcome}, {_when(spec.timepoint_weeks)}"),
        ("Rationale", spec.rationale),
    ]
    base = _AnalysisView(
        anchor=_anchor(e.name),
        title=spec.title,
        name=e.name,
        facts=facts,
        warnings=[(w.category, w.message) for w in e.warnings],
        problems=list(b.figure_problems),
    )
    if e.analysis is None:
        return dataclasses.replace(base, error=_text(e.error))

    a = e.analysis
    r = a.result
    frame = a.input.frame
    if spec.timepoint_weeks is None:
        weeks = sorted({float(w) for w in frame["timepoint_weeks"] if not is_missing(w)})
        if weeks:
            facts[1] = (
                "Outcome",
                f"{spec.outcome}, end of follow-up ({', '.join(f'{w:g}' for w in weeks)} weeks)",
            )
    what = estimate_label(spec, r.measure)
    lvl = f"{100 * r.level:g}%"
    n_pat = _patients(frame)
    facts += [
        ("Studies (k)", f"{r.k}: {', '.join(map(str, frame['study']))}"),
        ("Designs", ", ".join(words(d) for d in sorted(set(frame["design"])))),
        ("Patients", f"{n_pat} in the arms pooled"),
        ("Model", _model_text(r)),
    ]

    num_rows: list[list[Cell]] = [
        [f"Estimate ({what})", _num(r.transform(r.estimate))],
        [f"{lvl} confidence interval", _interval(r.transform(r.ci_low), r.transform(r.ci_high))],
        [f"{lvl} prediction interval", _pi_text(r)],
        ["Heterogeneity", describe_heterogeneity(r)],
    ]
    if r.k >= 2:
        num_rows += [
            ["τ² [CI]", f"{_num(r.tau2, 4)} {_interval(r.tau2_ci[0], r.tau2_ci[1], 4)}"],
            ["Q", f"{_num(r.q)} (df = {r.q_df}, {p_equals(r.q_pvalue)})"],
        ]
    null = spec.null_value
    if null is not None:
        stat = "z" if r.df is None else f"t({r.df:g})"
        num_rows.append(
            [
                f"Test of {what} = {null:g}",
                f"{stat} = {_num(r.statistic)}, {p_equals(r.pvalue)} (two-sided)",
            ]
        )
    measure = measure_of(r.measure)
    if measure is not None and measure.back is not None:
        num_rows.append(
            [
                "As pooled",
                f"{_num(r.estimate, 4)} {_interval(r.ci_low, r.ci_high, 4)} "
                f"({measure.scale} scale)",
            ]
        )

    es = effect_size_table(e, records)
    study_rows: list[list[Cell]] = [
        [
            _text(s["study"]),
            words(s["design"]),
            _arm_text(s, r.measure or spec.measure),
            f"{_num(s['effect_display'])} {_interval(s['ci_low_display'], s['ci_high_display'])}",
            _num(s["weight"], 1),
            _text(s.get("sources", "")),
        ]
        for s in records_of(es[es["kind"] == "study"])
    ]
    # studies left out of the pooling for missing values, as RevMan lists them
    study_rows += [[label, "", "", NOT_ESTIMABLE, "", ""] for label in r.not_estimable]
    binary = spec.kind.endswith(("binary", "proportion"))
    arm_head = "Events/N" if binary else "Mean change (SD), n"
    if spec.kind.startswith("two_group"):
        arm_head += ", experimental vs control"
    studies = _Table(
        ["Study", "Design", arm_head, f"{what.capitalize()} [{lvl} CI]", "Weight (%)", "Sources"],
        study_rows,
        num=(3, 4),
    )

    # studies not contributing, grouped by reason
    label = study_labels(records)
    groups: dict[str, list[str]] = {}
    for x in records_of(a.input.excluded):
        groups.setdefault(str(x["reason"]), []).append(
            str(label.get(x["study_id"], x["study_id"]))
        )
    # conversions and exclusions are shown from the input itself; notes that repeat
    # a recorded warning are shown once, with the warnings
    messages = {w.message for w in e.warnings}
    return dataclasses.replace(
        base,
        facts=facts,
        what=what.capitalize(),
        estimate=estimate_text(r),
        lvl=lvl,
        k=r.k,
        patients=n_pat,
        figures=[
            _figure_view(fig, spec, what, lvl, e.further_result("trim_and_fill") is not None)
            for fig in b.figures
        ],
        numbers=_Table(["Quantity", "Value"], num_rows, cls="numbers"),
        studies=studies,
        conversions=[
            (str(s), str(c))
            for s, c in zip(frame["study"], frame["conversions"], strict=True)
            if c != "none"
        ],
        excluded=[(", ".join(names), reason) for reason, names in groups.items()],
        notes=[
            n
            for n in a.notes
            if not n.startswith(("Conversions:", "Not contributing:")) and n not in messages
        ],
        funnel_note=r.k < MIN_K_FUNNEL,
        tables=list(b.tables.items()),
        further=[_FurtherView(f.label, _further_text(f, r, what)) for f in e.further],
    )


def analysis_html(b: Built, records: TrialRecords) -> str:
    """One analysis' ``<article>`` of the page.

    Parameters
    ----------
    b : Built
        The analysis with its figures and tables.
    records : TrialRecords
        The records it ran on.

    Returns
    -------
    str
        The HTML of the article.
    """
    macros = TEMPLATES.get_template("_macros.html.j2").module
    return str(macros.analysis(_analysis_view(b, records)))  # type: ignore[attr-defined]


def _summary_table(built: Sequence[Built], lvl: str) -> _Table:
    rows: list[list[Cell]] = []
    for b in built:
        e = b.entry
        link = _Link(f"#{_anchor(e.name)}", e.spec.title)
        if e.analysis is None:
            rows.append([link, e.spec.comparison, "0", "—", "—", f"not run: {e.error}"])
            continue
        r = e.analysis.result
        rows.append(
            [
                link,
                e.spec.comparison,
                str(r.k),
                f"{estimate_label(e.spec, r.measure)} {estimate_text(r)}",
                _pi_text(r),
                describe_heterogeneity(r),
            ]
        )
    return _Table(
        ["Analysis", "Comparison", "k", f"Estimate [{lvl} CI]", f"{lvl} PI", "Heterogeneity"],
        rows,
        num=(2,),
        cls="summary",
    )


def _heterogeneity_table(built: Sequence[Built], het: HeterogeneityTable) -> _Table:
    titles = {b.entry.name: b.entry.spec.title for b in built}
    rows: list[list[Cell]] = []
    na = "n/a"
    for r in records_of(het.frame):
        ok = bool(r["estimable"])
        name = str(r["analysis"])
        rows.append(
            [
                _Link(f"#{_anchor(name)}", _text(titles.get(name, r["analysis"]))),
                str(r["k"]),
                f"{_num(r['tau2'], 3)} {_interval(r['tau2_ci_low'], r['tau2_ci_high'], 3)}"
                if ok
                else na,
                f"{_num(r['i2'], 0)}% {_interval(r['i2_ci_low'], r['i2_ci_high'], 0)}"
                if ok
                else na,
                f"{_num(r['q'])} ({r['df']}; {p_equals(float(r['p']))})" if ok else na,
                f"{r['method']}, {_test_label(str(r['test']))}",
                str(r["interpretation"]),
            ]
        )
    return _Table(
        ["Analysis", "k", "τ² [CI]", "I² [CI]", "Q (df; p)", "Model", "In words"],
        rows,
        num=(1, 2, 3),
        cls="heterogeneity",
    )


def _study_tables(studies: pd.DataFrame) -> tuple[_Table, _Table]:
    design_rows: list[list[Cell]] = []
    detail_rows: list[list[Cell]] = []
    for s in records_of(studies):
        design_rows.append(
            [
                _text(s["label"]),
                words(s["design"]),
                words(s["randomised"]),
                words(s["controlled"]),
                words(s["msc_source"]),
                words(s["donor"]),
                words(s["route"]),
                "not recorded" if is_missing(s["n_enrolled"]) else str(s["n_enrolled"]),
                f"{s['outcome_rows']} ({s['derived_rows']} derived)",
            ]
        )
        detail_rows.append(
            [
                _text(s["label"]),
                "not recorded" if is_missing(s["dose"]) else str(s["dose"]),
                _text(s["missing"]),
            ]
        )
    head = [
        "Study",
        "Design",
        "Randomised",
        "Controlled",
        "MSC source",
        "Donor",
        "Route",
        "N enrolled",
        "Numbers recorded",
    ]
    return (
        _Table(head, design_rows, num=(7, 8)),
        _Table(["Study", "Dose (as reported)", "Not recorded"], detail_rows, cls="details"),
    )


def _where(records: TrialRecords) -> str:
    """The records the page describes, in words."""
    try:
        bundled = (
            records.path is not None
            and Path(records.path).resolve() == bundled_data_dir().resolve()
        )
    except FileNotFoundError:  # pragma: no cover - broken installation
        bundled = False
    if bundled:
        return "the bundled MSC-RA records"
    if records.path is not None:
        return f"the records in {records.path}"
    return "records given in memory"


def _rob_tools(records: TrialRecords) -> list[tuple[str, str, str]]:
    """(tool, what it is for, its reference) for each tool the records' assessments use."""
    used = set(records.risk_of_bias["tool"])
    return [(t.name, t.applies_to, t.reference) for t in ROB_TOOLS.values() if t.name in used]


def render_page(
    built: Sequence[Built],
    records: TrialRecords,
    formats: tuple[str, ...],
    studies: pd.DataFrame,
    het: HeterogeneityTable | None,
    het_rel: str | None,
    caveat_items: Sequence[tuple[str, str]],
    *,
    method: str | None,
    test: str | None,
    level: float,
    sof: SummaryOfFindings | None = None,
    sof_csv: str | None = None,
    record_figures: Sequence[Figure] = (),
    record_problems: Sequence[str] = (),
    rob_csv: str | None = None,
) -> str:
    """The whole page, rendered from ``report.html.j2``.

    Parameters
    ----------
    built : sequence of Built
        The analyses, in order, with their figures and tables.
    records : TrialRecords
        The records they ran on.
    formats : tuple of str
        The figure formats written.
    studies : DataFrame
        :func:`~msc_meta.report.study_table` of the records.
    het : HeterogeneityTable or None
        The heterogeneity table of the analyses that ran, if any did.
    het_rel : str or None
        Its CSV file, relative to the page.
    caveat_items : sequence of (str, str)
        The caveats (:func:`~msc_meta.caveats.caveats`).
    method : str or None
        τ² estimator override of this run.
    test : str or None
        Test override of this run.
    level : float
        Confidence level.
    sof : SummaryOfFindings or None, optional
        The GRADE summary of findings of the analyses.
    sof_csv : str or None, optional
        Its CSV file, relative to the page.
    record_figures : sequence of Figure, optional
        The figures of the records as a whole (evidence map, risk of bias).
    record_problems : sequence of str, optional
        Figures of the records that could not be drawn, and why.
    rob_csv : str or None, optional
        The risk-of-bias table's CSV file, relative to the page (``None``
        when the records hold no assessments).

    Returns
    -------
    str
        The HTML page.
    """
    import matplotlib  # lazy: plotting is optional at import time (its version for the footer)

    data_name, data_version = _data_version(records)
    overrides = []
    if method:
        overrides.append(f"τ² estimator {method}")
    if test:
        overrides.append(f"test {test}")
    lvl = f"{100 * level:g}%"
    design, details = _study_tables(studies)
    page = {
        "title": REPORT_TITLE,
        "where": _where(records),
        "n_studies": len(records.studies),
        "n_numbers": len(records.outcomes),
        "n_ok": sum(b.entry.ok for b in built),
        "n_analyses": len(built),
        "version": __version__,
        "data_name": data_name,
        "data_version": data_version,
        "date": _today(),
        "lvl": lvl,
        "summary": _summary_table(built, lvl),
        "studies": design,
        "study_details": details,
        "analyses": [_analysis_view(b, records) for b in built],
        "heterogeneity": None if het is None else _heterogeneity_table(built, het),
        "heterogeneity_csv": het_rel,
        "caveats": list(caveat_items),
        # rendered from its own template with autoescaping, so safe to embed as it is
        "sof": None if sof is None else Markup(sof.to_html()),
        "sof_csv": sof_csv,
        "sof_levels": [(lvl, LEVEL_MEANING[lvl]) for lvl in reversed(CERTAINTY_LEVELS)],
        "record_figures": {f.kind: _record_figure_view(f) for f in record_figures},
        "record_problems": list(record_problems),
        "rob_csv": rob_csv,
        "rob_tools": _rob_tools(records),
        "overrides": " and ".join(overrides),
        "min_k_funnel": MIN_K_FUNNEL,
        "loo_min_k": LOO_MIN_K,
        "figure_formats": ", ".join(f.upper() for f in formats),
        "png_dpi": PNG_DPI,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
            "matplotlib": matplotlib.__version__,
        },
    }
    return TEMPLATES.get_template("report.html.j2").render(page=page)
