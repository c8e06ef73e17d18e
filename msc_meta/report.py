"""The MSC-RA report: every pre-specified analysis, its figures, tables and one HTML page.

:func:`build_report` runs the pre-specified analyses (:func:`msc_meta.running.run_all`'s
machinery, re-exported here with :class:`ReportEntry`) and writes, inside one output
folder only,

``figures/``
    the evidence map of the records (:func:`~msc_meta.plots.evidence_map`) and,
    when the records hold risk-of-bias assessments, their traffic-light and
    summary plots (:func:`~msc_meta.plots.rob_traffic_light`,
    :func:`~msc_meta.plots.rob_summary`); a forest plot per analysis (a leave-one-out forest plot from
    :data:`~msc_meta.sensitivity.LOO_MIN_K` studies, a funnel plot with the
    studies trim-and-fill adds only from :data:`MIN_K_FUNNEL`), each as PNG
    (:data:`PNG_DPI` dpi), PDF and SVG;
``tables/``
    the GRADE summary of findings of the analyses
    (:func:`msc_meta.certainty.summary_of_findings`: ``summary_of_findings.csv``,
    with a ``certainty`` and a ``reasons`` column); per analysis the effect sizes (study, arm data, effect, interval, weight,
    conversions, source rows) and the studies that could not contribute, and
    the further analyses that ran (:func:`msc_meta.running.further_analyses`:
    leave-one-out, influence, small-study tests, trim-and-fill); the
    heterogeneity table of all analyses; the study table; the risk-of-bias
    table; the warnings;
``report.html``
    one self-contained page (figures embedded, inline CSS, no external
    resources) with the studies, each analysis and the caveats
    (:func:`msc_meta.caveats.caveats`).

This module orchestrates: Python prepares plain values, and the page's HTML lives in
Jinja2 templates (``msc_meta/templates/``: ``report.html.j2``, ``_macros.html.j2`` and
the inlined ``report.css``), rendered with autoescaping. Every number in the page and
the tables is read from the library's results (:func:`msc_meta.analyses.run_analysis`,
:func:`msc_meta.heterogeneity_display.heterogeneity_table`) and the records. The page describes
what the records show, with design, size and uncertainty; it gives no treatment advice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import MetaAnalysisError
from ._manifest import RunFiles
from ._report_page import (
    DIGITS,
    PNG_DPI,
    REPORT_TITLE,
    Built,
    Figure,
    estimate_label,
    estimate_text,
    render_page,
)
from ._report_tables import effect_size_table, further_tables, not_contributing, study_table
from .analyses import AnalysisSpec
from .caveats import caveats, study_labels
from .certainty import JUDGEMENTS_FILE, resolve_judgements, summary_of_findings
from .heterogeneity_display import heterogeneity_table
from .plots import (
    evidence_map,
    forest_plot,
    funnel_plot,
    leave_one_out_plot,
    rob_summary,
    rob_traffic_light,
)
from .records import TrialRecords, bundled_data_dir
from .running import (
    MIN_K_FUNNEL,
    RecordedWarning,
    ReportEntry,
    check_model,
    load,
    record_warnings,
    run_all,
    run_one,
    select,
)

# Names defined elsewhere and kept importable from here, where notebooks, docs and tests
# have found them: running the analyses (``running``), the caveats (``caveats``), the
# tables (``_report_tables``) and the page's constants (``_report_page``).
__all__ = [
    "DIGITS",
    "FIGURE_FORMATS",
    "FOREST_FONTSIZE",
    "FOREST_PLOT_WIDTH",
    "JUDGEMENTS_FILE",
    "MIN_K_FUNNEL",
    "PNG_DPI",
    "REPORT_FILE",
    "REPORT_TITLE",
    "RecordedWarning",
    "ReportEntry",
    "build_report",
    "caveats",
    "check_out_dir",
    "effect_size_table",
    "estimate_label",
    "forest_options",
    "run_all",
    "study_table",
]

#: Figure formats the report can write, and the default.
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")

#: Font size (points) and graph width (inches) of the report's forest plots. The page shows
#: them at the width of its content (about 1,030 CSS pixels on a desktop); at this size
#: their smallest text, the heterogeneity and test lines, is shown at 12 pixels or more.
FOREST_FONTSIZE = 11.0
FOREST_PLOT_WIDTH = 2.5

#: Name of the HTML page inside the output folder.
REPORT_FILE = "report.html"

Progress = Callable[[str], None]

#: The figures of the records as a whole, in the page's order (file stem of each); the
#: risk-of-bias figures only when the records hold assessments.
RECORD_FIGURES: tuple[str, ...] = ("evidence_map", "rob_traffic_light", "rob_summary")

#: The further analyses' tables (file stem, label on the page), in the page's order.
FURTHER_TABLES: tuple[tuple[str, str], ...] = (
    ("leave_one_out", "leave-one-out"),
    ("influence", "influence diagnostics"),
    ("small_study_tests", "small-study tests"),
    ("trim_and_fill", "trim-and-fill studies"),
)


# --------------------------------------------------------------------------- output folder


def _protected_folders(records: TrialRecords) -> list[tuple[Path, str]]:
    """Folders of input data, each with how to name it in a message."""
    out: list[tuple[Path, str]] = []
    if records.path is not None:
        out.append((Path(records.path), "the records folder"))
    with contextlib.suppress(FileNotFoundError):  # a broken installation has none
        out.append((bundled_data_dir(), "the bundled records folder"))
    repo_data = Path(__file__).resolve().parent.parent / "data"
    if (repo_data / "datapackage.json").is_file():
        out.append((repo_data, "the bundled records folder"))
    out.append((Path(__file__).resolve().parent / "_data", "the package's data folder"))
    seen: list[tuple[Path, str]] = []
    for p, what in out:
        r = p.resolve()
        if r not in [q for q, _ in seen]:
            seen.append((r, what))
    return seen


def check_out_dir(out_dir: str | os.PathLike[str], records: TrialRecords) -> Path:
    """Resolve the report's output folder, refusing one that could touch input data.

    Parameters
    ----------
    out_dir : str or path
        The folder to write into (created if missing).
    records : TrialRecords
        The records the report reads.

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    MetaAnalysisError
        ``out_dir`` is, or is inside, the records' folder, the bundled
        ``data/`` folder or the package's data folder; one of those lies where
        the report writes (``figures/`` or ``tables/`` of ``out_dir``); or
        ``out_dir`` exists and is not a folder.

    Examples
    --------
    >>> from msc_meta.datasets import load_msc_ra
    >>> rec = load_msc_ra()
    >>> check_out_dir(rec.path / "results", rec)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    msc_meta._errors.MetaAnalysisError: out_dir='.../results' is inside the records folder ...
    """
    out = Path(out_dir).expanduser().resolve()
    for p, what in _protected_folders(records):
        if out == p or p in out.parents:
            where = "is" if out == p else "is inside"
            raise MetaAnalysisError(
                f"out_dir={str(out_dir)!r} {where} {what} {p}; the report never writes next "
                "to its input data: choose another folder"
            )
        for sub in ("figures", "tables"):
            if p == out / sub or (out / sub) in p.parents:
                raise MetaAnalysisError(
                    f"out_dir={str(out_dir)!r}: {what} {p} lies in {sub}/, where the report "
                    "writes: choose another folder"
                )
    if out.exists() and not out.is_dir():
        raise MetaAnalysisError(f"out_dir={str(out_dir)!r} exists and is not a folder")
    return out


def _check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(formats, str):
        items = [f for f in formats.split(",") if f.strip()]
    else:
        items = list(formats)
    out: list[str] = []
    for f in items:
        code = str(f).strip().lower()
        if code not in FIGURE_FORMATS:
            raise MetaAnalysisError(
                f"figure format {str(f).strip()!r} is not supported; valid: "
                f"{', '.join(FIGURE_FORMATS)}"
            )
        if code not in out:
            out.append(code)
    if not out:
        raise MetaAnalysisError(
            f"formats is empty; give one or more of {', '.join(FIGURE_FORMATS)}"
        )
    return tuple(out)


class _Writer:
    """Writes files only inside one folder, and remembers what it wrote (for the manifest)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[Path] = []
        self.files = RunFiles(root)

    def path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if self.root not in p.parents:
            raise MetaAnalysisError(f"refusing to write {rel!r} outside {self.root}")
        return p

    def bytes(self, rel: str, data: bytes) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(p)
        self.written.append(p)
        self.files.add(p, data)
        return p

    def text(self, rel: str, text: str) -> Path:
        return self.bytes(rel, text.encode("utf-8"))

    def csv(self, rel: str, frame: pd.DataFrame) -> Path:
        return self.text(rel, frame.to_csv(index=False, lineterminator="\n"))

    def finish(self) -> list[str]:
        """Remove an earlier run's stale files (see ``_manifest``), list this run's; say what."""
        return self.files.finish().lines()


def _render(fig: Any, fmt: str) -> bytes:
    import matplotlib  # lazy: plotting is optional at import time

    buf = io.BytesIO()
    meta: dict[str, Any] = {}
    if fmt == "pdf":
        meta = {"CreationDate": None, "ModDate": None}
    elif fmt == "svg":
        meta = {"Date": None}
    # fixed ids in SVG output, so that a rerun writes identical files (a local context,
    # not a change of the global rcParams)
    with matplotlib.rc_context({"svg.hashsalt": "msc_meta"}):
        fig.savefig(
            buf,
            format=fmt,
            dpi=PNG_DPI,
            bbox_inches="tight",
            pad_inches=0.15,
            metadata=meta,
            facecolor="white",
        )
    return buf.getvalue()


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt  # lazy: plotting is optional at import time

    plt.close(fig)


def _arm_labels(spec: AnalysisSpec) -> tuple[str, str]:
    """The arm names as column headers (first letter upper case)."""
    return tuple(n[:1].upper() + n[1:] for n in spec.arm_names)  # type: ignore[return-value]


def forest_options(spec: AnalysisSpec) -> dict[str, Any]:
    """The options of :func:`~msc_meta.plots.forest_plot` for an analysis of the report.

    Arm names as headers; the null line from :attr:`AnalysisSpec.null_value`
    (none for a single-group proportion); the neutral labels under the axis
    from :attr:`AnalysisSpec.direction_labels`; :data:`DIGITS` decimals on
    both sides, as the report's tables.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis.

    Returns
    -------
    dict of str to Any
        Keyword arguments of :func:`~msc_meta.plots.forest_plot`.
    """
    left, right = spec.direction_labels
    null = spec.null_value
    return {
        "arm_labels": _arm_labels(spec),
        "null": False if null is None else null,
        "label_left": left,
        "label_right": right,
        "digits": DIGITS,
    }


def _draw(entry: ReportEntry, kind: str) -> Any:
    result = entry.result
    assert result is not None
    if kind == "funnel":
        # with trim-and-fill, the funnel shows the filled studies too (open markers)
        ax = funnel_plot(entry.further_result("trim_and_fill") or result)
    elif kind == "leave_one_out":
        ax = leave_one_out_plot(result, digits=DIGITS)
    else:
        ax = forest_plot(
            result,
            **forest_options(entry.spec),
            fontsize=FOREST_FONTSIZE,
            plot_width=FOREST_PLOT_WIDTH,
        )
    return ax.figure


def _write_figure(fig: Any, stem: str, writer: _Writer, formats: tuple[str, ...]) -> Figure:
    """Write ``fig`` as ``figures/{stem}.{fmt}`` for each format, close it, return it."""
    try:
        png = _render(fig, "png")
        files: dict[str, str] = {}
        for fmt in formats:
            rel = f"figures/{stem}.{fmt}"
            writer.bytes(rel, png if fmt == "png" else _render(fig, fmt))
            files[fmt] = rel
    finally:
        _close(fig)
    return Figure(stem, png, files)


def _figures(
    entry: ReportEntry, writer: _Writer, formats: tuple[str, ...]
) -> tuple[list[Figure], tuple[RecordedWarning, ...], list[str]]:
    """Draw and write an analysis' figures; return them, the warnings and any problems."""
    kinds = ["forest"]
    if entry.further_result("leave_one_out") is not None:
        kinds.append("leave_one_out")
    if entry.result is not None and entry.result.k >= MIN_K_FUNNEL:
        kinds.append("funnel")
    figs: list[Figure] = []
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for kind in kinds:
            try:
                fig = _draw(entry, kind)
            except MetaAnalysisError as exc:
                problems.append(f"the {kind.replace('_', '-')} plot could not be drawn: {exc}")
                continue
            written = _write_figure(fig, f"{entry.name}_{kind}", writer, formats)
            figs.append(dataclasses.replace(written, kind=kind))
    return figs, record_warnings(caught), problems


def _draw_records(records: TrialRecords, kind: str) -> Any:
    """A figure of the records as a whole (see :data:`RECORD_FIGURES`)."""
    if kind == "evidence_map":
        return evidence_map(records).figure
    labels = study_labels(records)
    if kind == "rob_traffic_light":
        return rob_traffic_light(records.risk_of_bias, labels=labels)
    return rob_summary(records.risk_of_bias).figure


def _record_figures(
    records: TrialRecords, writer: _Writer, formats: tuple[str, ...]
) -> tuple[list[Figure], list[str]]:
    """Draw and write the figures of the records (evidence map, risk of bias)."""
    kinds = [k for k in RECORD_FIGURES if k == "evidence_map" or not records.risk_of_bias.empty]
    figs: list[Figure] = []
    problems: list[str] = []
    for kind in kinds:
        try:
            fig = _draw_records(records, kind)
        except MetaAnalysisError as exc:
            problems.append(f"the {kind.replace('_', ' ')} figure could not be drawn: {exc}")
            continue
        figs.append(_write_figure(fig, kind, writer, formats))
    return figs, problems


# --------------------------------------------------------------------------- build


def _build_one(
    entry: ReportEntry, records: TrialRecords, writer: _Writer, formats: tuple[str, ...]
) -> Built:
    """Write one analysis' figures and tables; return it as the page shows it."""
    figs: list[Figure] = []
    problems: list[str] = []
    tables: dict[str, str] = {}
    if entry.analysis is None:
        return Built(entry, figs, problems, tables)
    figs, drawn, problems = _figures(entry, writer, formats)
    if drawn:
        entry = dataclasses.replace(
            entry,
            warnings=entry.warnings + tuple(w for w in drawn if w not in entry.warnings),
        )
    name = entry.name
    rel = f"tables/{name}_effect_sizes.csv"
    writer.csv(rel, effect_size_table(entry, records))
    tables["effect sizes"] = rel
    rel = f"tables/{name}_not_contributing.csv"
    writer.csv(rel, not_contributing(entry, records))
    tables["studies not contributing"] = rel
    further = further_tables(entry)
    for stem, label in FURTHER_TABLES:
        if stem in further:
            rel = f"tables/{name}_{stem}.csv"
            writer.csv(rel, further[stem])
            tables[label] = rel
    return Built(entry, figs, problems, tables)


def build_report(
    out_dir: str | os.PathLike[str],
    *,
    records: TrialRecords | str | os.PathLike[str] | None = None,
    judgements: str | os.PathLike[str] | None = None,
    analyses: Sequence[str | AnalysisSpec] | None = None,
    method: str | None = None,
    test: str | None = None,
    level: float = 0.95,
    formats: Sequence[str] | str = FIGURE_FORMATS,
    progress: Progress | None = None,
) -> Path:
    """Run the analyses and write figures, tables and ``report.html`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path
        Output folder (created if missing). Files are written only inside it:
        ``figures/``, ``tables/``, ``report.html`` and, last,
        ``msc-meta-manifest.json``, the list of the files written. A rerun
        removes the files an earlier run listed there and did not write again,
        if still unchanged (same SHA-256); any other file, and a listed file
        changed since, is left alone.
    records : TrialRecords, str or path, optional
        Records or a folder of record files; the bundled MSC-RA records by default.
    judgements : str or path, optional
        A curator's GRADE judgements (:func:`msc_meta.certainty.read_judgements`)
        for the summary of findings; by default
        :data:`~msc_meta.certainty.JUDGEMENTS_FILE` in the records' folder, if
        there is one (the default of
        :func:`~msc_meta.certainty.summary_of_findings`, so the library and the
        report rate alike).
    analyses : sequence of str, optional
        Names of :data:`~msc_meta.analyses.ANALYSES` (all by default).
    method : str, optional
        Override every analysis's τ² estimator.
    test : str, optional
        Override every analysis's test.
    level : float, default 0.95
        Confidence level.
    formats : sequence of str or str, default ("png", "pdf", "svg")
        Figure files to write: any of ``png``, ``pdf``, ``svg`` (or a
        comma-separated string). The page always embeds PNG images.
    progress : callable, optional
        Called with one line of text per analysis as it is done, and a last
        line when the page is written.

    Returns
    -------
    Path
        The path of ``report.html``.

    Raises
    ------
    MetaAnalysisError
        Unknown analysis, method, test or format; a bad records folder
        (:class:`~msc_meta.records.RecordError`); an ``out_dir`` that is or
        is inside the records' folder or ``data/`` (input data are never
        overwritten).

    Notes
    -----
    Each analysis runs through :func:`run_all`'s machinery: its warnings are
    recorded and shown with it, and an analysis that cannot run is reported
    as such while the others are written. Forest plots are drawn for every
    analysis; funnel plots only from :data:`MIN_K_FUNNEL` studies (Sterne et
    al. 2011). The further analyses (:func:`msc_meta.running.further_analyses`)
    run only where k allows; the page says, per analysis, which did not run
    and why. PDF and SVG files carry no creation date, so a rerun on the
    same data writes identical figure files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = build_report(tmp, analyses=["acr20_ifng_addon_w12"], formats="png")
    ...     sorted(p.name for p in pathlib.Path(tmp).rglob("*.*"))[:3]
    ['acr20_ifng_addon_w12_effect_sizes.csv', 'acr20_ifng_addon_w12_forest.png', 'acr20_ifng_addon_w12_not_contributing.csv']
    """
    t0 = time.perf_counter()
    fmts = _check_formats(formats)
    method, level = check_model(method, test, level)
    specs = select(analyses)
    recs = load(records)
    if judgements is not None and not Path(judgements).is_file():
        raise MetaAnalysisError(f"judgements={str(judgements)!r}: no such file")
    # a bad judgements file fails before the analyses run (the summary of findings reads it)
    resolve_judgements(judgements, recs, [s.name for s in specs])
    out = check_out_dir(out_dir, recs)
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out)
    say = progress or (lambda _line: None)

    built: list[Built] = []
    for i, spec in enumerate(specs, start=1):
        t1 = time.perf_counter()
        b = _build_one(run_one(spec, recs, method, test, level), recs, writer, fmts)
        built.append(b)
        say(_progress_line(i, len(specs), b.entry, b.figures, time.perf_counter() - t1))

    sof = summary_of_findings([b.entry for b in built], recs, judgements=judgements)
    sof_rel = "tables/summary_of_findings.csv"
    writer.csv(sof_rel, sof.to_frame())

    ran = {b.entry.name: b.entry.analysis for b in built if b.entry.analysis is not None}
    het = heterogeneity_table(ran) if ran else None
    het_rel = None
    if het is not None:
        het_rel = "tables/heterogeneity.csv"
        writer.csv(het_rel, het.frame)
    studies = study_table(recs)
    writer.csv("tables/studies.csv", studies)
    record_figs, record_problems = _record_figures(recs, writer, fmts)
    rob_rel = None
    if not recs.risk_of_bias.empty:
        rob_rel = "tables/risk_of_bias.csv"
        writer.csv(rob_rel, recs.risk_of_bias)
    writer.csv(
        "tables/warnings.csv",
        pd.DataFrame(
            [
                {"analysis": b.entry.name, "category": w.category, "message": w.message}
                for b in built
                for w in b.entry.warnings
            ],
            columns=["analysis", "category", "message"],
        ),
    )
    cav = caveats(recs, [b.entry for b in built])
    page = render_page(
        built,
        recs,
        fmts,
        studies,
        het,
        het_rel,
        cav,
        method=method,
        test=test,
        level=level,
        sof=sof,
        sof_csv=sof_rel,
        record_figures=record_figs,
        record_problems=record_problems,
        rob_csv=rob_rel,
    )
    path = writer.text(REPORT_FILE, page)
    for line in writer.finish():
        say(line)
    say(
        f"wrote {path} and {len(writer.written) - 1} more files in {time.perf_counter() - t0:.1f} s"
    )
    return path


def _progress_line(
    i: int, n: int, entry: ReportEntry, figs: Sequence[Figure], seconds: float
) -> str:
    head = f"[{i}/{n}] {entry.name}"
    if entry.analysis is None:
        return f"{head}: not run ({entry.error})"

    r = entry.analysis.result
    nw = len(entry.warnings)
    fig = sum(len(f.files) for f in figs)
    return (
        f"{head}: k = {r.k}, {estimate_label(entry.spec, r.measure)} "
        f"{estimate_text(r).replace('−', '-')}; "
        f"{nw} warning{'s' if nw != 1 else ''}; {fig} figure files ({seconds:.1f} s)"
    )
