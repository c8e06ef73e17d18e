"""The MSC-RA report: every pre-specified analysis, its figures, tables and one HTML page.

:func:`run_all` runs the pre-specified analyses of :data:`msc_meta.analyses.ANALYSES`
and keeps, per analysis, the result, the warnings it raised and, when it could
not run, the error: notebooks call it to show the same numbers as the report.
:func:`build_report` writes, inside one output folder only,

``figures/``
    a forest plot per analysis (a funnel plot only from :data:`MIN_K_FUNNEL`
    studies), each as PNG (:data:`PNG_DPI` dpi), PDF and SVG;
``tables/``
    per analysis the effect sizes (study, arm data, effect, interval, weight,
    conversions, source rows) and the studies that could not contribute; the
    heterogeneity table of all analyses; the study table; the warnings;
``report.html``
    one self-contained page (figures embedded, inline CSS, no external
    resources) with the studies, each analysis and the caveats.

Every number in the page and the tables is read from the library's results
(:func:`msc_meta.analyses.run_analysis`, :func:`msc_meta.heterogeneity.heterogeneity_table`)
and the records. The page describes what the records show, with design, size
and uncertainty; it gives no treatment advice.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import html
import io
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import MetaAnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .analyses import AnalysisResult, AnalysisSpec
    from .heterogeneity import HeterogeneityTable
    from .records import TrialRecords
    from .results import MetaAnalysisResult

#: Fewest studies for which a funnel plot is drawn. With fewer, tests for funnel-plot
#: asymmetry have too little power to tell chance from real asymmetry, and the plot cannot
#: be read (Sterne et al. 2011, BMJ 343:d4002, recommendation 1; Cochrane Handbook 13.3.5.4).
MIN_K_FUNNEL = 10

#: Figure formats the report can write, and the default.
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")

#: Resolution of the PNG figures (written and embedded in the page).
PNG_DPI = 300

#: Decimals of the numbers the report shows on the display scale: its tables and both
#: sides of its forest plots (arm means and SDs on the left, effects and intervals on the
#: right).
DIGITS = 2

#: Font size (points) and graph width (inches) of the report's forest plots. The page shows
#: them at the width of its content (about 1,030 CSS pixels on a desktop); at this size
#: their smallest text, the heterogeneity and test lines, is shown at 12 pixels or more.
FOREST_FONTSIZE = 11.0
FOREST_PLOT_WIDTH = 2.5

#: Name of the HTML page inside the output folder.
REPORT_FILE = "report.html"

#: Title of the HTML page.
REPORT_TITLE = "MSC therapy for rheumatoid arthritis: meta-analysis report"

#: Pixels per inch at which figures are shown in the page (CSS pixels).
_CSS_DPI = 96

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RecordedWarning:
    """A warning raised while running or drawing one analysis.

    Attributes
    ----------
    category : str
        Class name of the warning (e.g. ``"FewStudiesWarning"``).
    message : str
        Its message.
    """

    category: str
    message: str

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


@dataclass(frozen=True, eq=False)
class ReportEntry:
    """One pre-specified analysis as the report ran it.

    Attributes
    ----------
    spec : AnalysisSpec
        The analysis.
    analysis : AnalysisResult or None
        The result, or ``None`` when the analysis could not run.
    warnings : tuple of RecordedWarning
        Every warning raised while it ran (e.g. ``FewStudiesWarning`` for
        small k), in order, without repeats.
    error : MetaAnalysisError or None
        Why the analysis could not run (e.g. no study reports the outcome).
    """

    spec: AnalysisSpec
    analysis: AnalysisResult | None
    warnings: tuple[RecordedWarning, ...] = ()
    error: MetaAnalysisError | None = None

    @property
    def name(self) -> str:
        """The analysis name (``spec.name``)."""
        return self.spec.name

    @property
    def ok(self) -> bool:
        """True when the analysis ran."""
        return self.analysis is not None

    @property
    def result(self) -> MetaAnalysisResult | None:
        """The meta-analysis result, or ``None``."""
        return None if self.analysis is None else self.analysis.result

    def __repr__(self) -> str:
        state = f"k={self.analysis.k}" if self.analysis is not None else f"error: {self.error}"
        return f"<ReportEntry {self.name}: {state}, {len(self.warnings)} warnings>"


def _record(caught: Iterable[warnings.WarningMessage]) -> tuple[RecordedWarning, ...]:
    out: list[RecordedWarning] = []
    for w in caught:
        rec = RecordedWarning(w.category.__name__, str(w.message))
        if rec not in out:
            out.append(rec)
    return tuple(out)


def _load_records(records: TrialRecords | str | os.PathLike[str] | None) -> TrialRecords:
    from .records import TrialRecords, load_records

    if records is None:
        from .datasets import load_msc_ra

        return load_msc_ra()
    if isinstance(records, TrialRecords):
        return records
    if isinstance(records, (str, os.PathLike)):
        return load_records(Path(records))
    raise MetaAnalysisError(
        f"records is a {type(records).__name__}; expected TrialRecords, a folder path or None"
    )


def _specs(analyses: Sequence[str | AnalysisSpec] | str | None) -> list[AnalysisSpec]:
    from .analyses import ANALYSES, AnalysisSpec

    if analyses is None:
        return list(ANALYSES.values())
    if isinstance(analyses, (str, AnalysisSpec)):
        analyses = [analyses]
    specs: list[AnalysisSpec] = []
    for a in analyses:
        if isinstance(a, AnalysisSpec):
            spec = a
        elif isinstance(a, str) and a in ANALYSES:
            spec = ANALYSES[a]
        else:
            raise MetaAnalysisError(
                f"analysis {a!r} is not pre-specified; valid: {', '.join(ANALYSES)}"
            )
        if not _SAFE_NAME.fullmatch(spec.name):
            raise MetaAnalysisError(
                f"analysis name {spec.name!r} cannot be used in file names; use letters, "
                "digits, '_', '-' and '.'"
            )
        if spec.name not in [s.name for s in specs]:
            specs.append(spec)
    if not specs:
        raise MetaAnalysisError("analyses is empty; name at least one analysis")
    return specs


def _check_model(method: str | None, test: str | None, level: float) -> tuple[str | None, float]:
    from ._validation import check_level
    from .pooling import canonical_test
    from .tau2 import canonical_method

    if method is not None:
        canonical_method(method)
    if test is not None:
        canonical_test(test)
    return method, check_level(level)


def _run_one(
    spec: AnalysisSpec,
    records: TrialRecords,
    method: str | None,
    test: str | None,
    level: float,
) -> ReportEntry:
    from .analyses import run_analysis

    # The pre-specified analyses warn by design (FewStudiesWarning at k < 5): the
    # warnings are recorded here, per analysis, and shown as caveats; nothing is
    # silenced outside this block.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = run_analysis(spec, records, method=method, test=test, level=level)
        except MetaAnalysisError as exc:
            return ReportEntry(spec=spec, analysis=None, warnings=_record(caught), error=exc)
    return ReportEntry(spec=spec, analysis=res, warnings=_record(caught))


def run_all(
    records: TrialRecords | str | os.PathLike[str] | None = None,
    *,
    analyses: Sequence[str | AnalysisSpec] | None = None,
    method: str | None = None,
    test: str | None = None,
    level: float = 0.95,
) -> list[ReportEntry]:
    """Run the pre-specified analyses, keeping each one's warnings or error.

    Parameters
    ----------
    records : TrialRecords, str or path, optional
        Records, or a folder of record files (:func:`~msc_meta.records.load_records`);
        the bundled MSC-RA records by default.
    analyses : sequence of str or AnalysisSpec, optional
        Names of :data:`~msc_meta.analyses.ANALYSES` (all, in their order, by default).
    method : str, optional
        Override every analysis's τ² estimator (default: each analysis's own,
        REML).
    test : str, optional
        Override every analysis's test (default: each analysis's own,
        Hartung-Knapp).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    list of ReportEntry
        One per analysis, in order: the :class:`~msc_meta.analyses.AnalysisResult`,
        the warnings it raised, or the error when it could not run.

    Raises
    ------
    MetaAnalysisError
        An unknown analysis, method or test, a level outside (0, 1), or
        (as :class:`~msc_meta.records.RecordError`) a bad records folder. An
        analysis that cannot run on valid records (no study reports its
        outcome) does not raise: its entry holds the error.

    Notes
    -----
    Warnings are recorded with :func:`warnings.catch_warnings` around each
    analysis, so none escapes and none is lost: the pre-specified analyses
    all have k < 5 and raise :class:`~msc_meta.FewStudiesWarning`.

    Examples
    --------
    >>> entries = run_all(analyses=["acr20_ifng_addon_w12"])
    >>> e = entries[0]
    >>> e.ok, e.analysis.k, round(e.result.transform(e.result.estimate), 2)
    (True, 1, 1.75)
    >>> sorted({w.category for w in e.warnings})
    ['FewStudiesWarning']
    """
    method, level = _check_model(method, test, level)
    specs = _specs(analyses)
    recs = _load_records(records)
    return [_run_one(s, recs, method, test, level) for s in specs]


# --------------------------------------------------------------------------- output folder


def _protected_folders(records: TrialRecords) -> list[tuple[Path, str]]:
    """Folders of input data, each with how to name it in a message."""
    from .records import bundled_data_dir

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
        from ._manifest import RunFiles

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


# --------------------------------------------------------------------------- numbers


def _num(x: Any, digits: int = DIGITS) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "NA"
    if v != v:
        return "NA"
    if v in (float("inf"), float("-inf")):
        return "∞" if v > 0 else "−∞"
    text = f"{v:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text.replace("-", "−")


def _interval(lo: Any, hi: Any, digits: int = DIGITS) -> str:
    return f"[{_num(lo, digits)}, {_num(hi, digits)}]"


def _p(p: float) -> str:
    if p != p:
        return "NA"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


_TESTS = {
    "z": "z (normal)",
    "t": "t",
    "knha": "Hartung-Knapp",
    "adhoc": "Hartung-Knapp (ad hoc)",
}


def _model_text(r: MetaAnalysisResult) -> str:
    from .results import SINGLE_STUDY

    if r.k == 1:
        return f"{SINGLE_STUDY}: its own estimate, {_TESTS.get(r.test, r.test)} interval"
    model = "common effect" if r.method == "EE" else f"random effects, τ² by {r.method}"
    return f"{model}; {_TESTS.get(r.test, r.test)} test and interval"


def _arm_text(row: Any, measure: str) -> str:
    from .effects import MEASURES

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


def _records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as plain dicts (values untyped, as pandas gives them)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _isna(x: Any) -> bool:
    import pandas as pd

    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _words(code: Any) -> str:
    return "not recorded" if _isna(code) else str(code).replace("_", " ")


def effect_size_table(entry: ReportEntry, records: TrialRecords | None = None) -> pd.DataFrame:
    """Per-study effect sizes of one analysis, with arm data and pooled rows.

    Parameters
    ----------
    entry : ReportEntry
        An analysis that ran.
    records : TrialRecords, optional
        When given, the ``sources`` column lists the source ids of the rows used.

    Returns
    -------
    DataFrame
        One row per study (``kind`` ``study``), then the pooled estimate
        (``pooled``) and, for random-effects models with k ≥ 2, the
        prediction interval (``prediction``). Columns: ``kind, study,
        study_id, design, timepoint_weeks``, the arm data (the arguments of
        the measure), ``effect, se, variance, ci_low, ci_high`` (analysis
        scale; study intervals are Wald intervals), ``effect_display,
        ci_low_display, ci_high_display`` (display scale), ``weight``
        (percent), ``measure, scale, conversions, source_rows, sources``.

    Raises
    ------
    MetaAnalysisError
        The entry holds no result.
    """
    import numpy as np
    import pandas as pd

    from .effects import MEASURES
    from .heterogeneity import display_scale

    if entry.analysis is None:
        raise MetaAnalysisError(f"analysis {entry.name!r} did not run: {entry.error}")
    a = entry.analysis
    r = a.result
    inp = a.input.frame.reset_index(drop=True)
    measure = a.spec.measure
    frame = r.to_frame()
    studies = frame[frame["kind"] == "study"].reset_index(drop=True)
    if list(studies["study"]) != list(inp["study"]):
        raise MetaAnalysisError(  # pragma: no cover - run_analysis keeps every study
            f"analysis {entry.name!r}: pooled studies {list(studies['study'])} differ from "
            f"its input {list(inp['study'])}"
        )
    src = None
    if records is not None:
        src = records.outcomes.set_index("row_id")["source_id"].to_dict()
    rows = []
    for i, s in enumerate(_records_of(studies)):
        row: dict[str, Any] = {
            "kind": "study",
            "study": s["study"],
            "study_id": inp.at[i, "study_id"],
            "design": inp.at[i, "design"],
            "timepoint_weeks": inp.at[i, "timepoint_weeks"],
        }
        for arg in MEASURES[measure].arguments:
            row[arg] = inp.at[i, arg]
        row.update(
            effect=s["effect"],
            se=s["se"],
            variance=float(r.variance[i]),
            ci_low=s["ci_low"],
            ci_high=s["ci_high"],
            weight=s["weight"],
            conversions=inp.at[i, "conversions"],
            source_rows=inp.at[i, "source_rows"],
        )
        if src is not None:
            ids = [src.get(x) for x in str(inp.at[i, "source_rows"]).split(";") if x]
            row["sources"] = ";".join(dict.fromkeys(str(x) for x in ids if x))
        rows.append(row)
    for s in _records_of(frame[frame["kind"] != "study"]):
        if s["kind"] == "prediction" and r.k < 2:
            continue
        rows.append(
            {
                "kind": s["kind"],
                "study": s["study"],
                "effect": s["effect"],
                "se": s["se"],
                "variance": s["se"] ** 2 if s["se"] == s["se"] else np.nan,
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
                "weight": s["weight"],
            }
        )
    out = pd.DataFrame(rows)
    for col in ("events", "n", "events_t", "n_t", "events_c", "n_c"):
        if col in out.columns:  # counts stay whole numbers in the CSV (empty on pooled rows)
            out[col] = out[col].astype("Int64")
    for col in ("effect", "ci_low", "ci_high"):
        out[f"{col}_display"] = [float(r.transform(float(x))) for x in out[col]]
    out["measure"] = measure
    out["scale"] = display_scale(measure)
    cols = [
        "kind",
        "study",
        "study_id",
        "design",
        "timepoint_weeks",
        *MEASURES[measure].arguments,
        "effect",
        "se",
        "variance",
        "ci_low",
        "ci_high",
        "effect_display",
        "ci_low_display",
        "ci_high_display",
        "weight",
        "measure",
        "scale",
        "conversions",
        "source_rows",
    ]
    if src is not None:
        cols.append("sources")
    return out.reindex(columns=cols)


# --------------------------------------------------------------------------- records in words

_MISSING_WORDS = {
    "doi": "DOI",
    "pmid": "PMID",
    "registration": "registration",
    "n_infusions": "number of infusions",
    "follow_up_weeks": "follow-up in weeks",
    "n_enrolled": "N enrolled",
    "co_therapy": "co-therapy",
    "blinding": "blinding",
    "phase": "phase",
    "n_randomised": "N randomised",
    "n_analysed": "N analysed",
    "dose_per_infusion": "dose per infusion",
    "dose": "dose",
}


#: Study fields whose empty value is an answer, not a gap (no overlapping report known).
_NOT_MISSING = frozenset({"overlaps_with"})


def study_table(records: TrialRecords) -> pd.DataFrame:
    """The study table of the report: design, intervention, size and what is missing.

    Parameters
    ----------
    records : TrialRecords
        The validated records (studies, arms and outcomes tables).

    Returns
    -------
    DataFrame
        One row per study: ``study_id, label, design, randomised,
        controlled, msc_source, donor, route, dose, n_enrolled``,
        ``outcome_rows`` (numbers recorded) and ``derived_rows`` (of which
        derived), and ``missing``: the empty study fields and arm fields
        (:func:`~msc_meta.records.iter_missing`; the dose of arms without
        MSC is not counted as missing).
    """
    import pandas as pd

    from .records import iter_missing

    arm_has_msc = {
        str(a["arm_id"]): bool(a["msc"]) for a in _records_of(records.arms) if not _isna(a["msc"])
    }
    missing: dict[str, dict[str, list[str]]] = {}
    for study_id, table, column in iter_missing(records):
        if column in _NOT_MISSING:
            continue
        per = missing.setdefault(study_id, {})
        if table == "studies":
            per.setdefault(column, [])
        else:
            arm, _, col = column.partition(".")
            if col.startswith("dose") and not arm_has_msc.get(arm, True):
                continue
            per.setdefault(f"arm:{col}", []).append(arm)
    n_arms = records.arms.groupby("study_id").size().to_dict()
    out = records.outcomes
    rows = []
    for s in _records_of(records.studies):
        sid = str(s["study_id"])
        parts = []
        for key, arms in missing.get(sid, {}).items():
            if key.startswith("arm:"):
                col = key[4:]
                name = _MISSING_WORDS.get(col, col.replace("_", " "))
                total = n_arms.get(sid, len(arms))
                parts.append(f"{name} ({len(arms)} of {total} arm{'s' if total != 1 else ''})")
            else:
                parts.append(_MISSING_WORDS.get(key, key.replace("_", " ")))
        mine = out[out["study_id"] == sid]
        rows.append(
            {
                "study_id": sid,
                "label": s["label"],
                "design": s["design"],
                "randomised": s["randomised"],
                "controlled": s["controlled"],
                "msc_source": s["msc_source"],
                "donor": s["donor"],
                "route": s["route"],
                "dose": s["dose"],
                "n_enrolled": s["n_enrolled"],
                "outcome_rows": len(mine),
                "derived_rows": int(mine["derived"].fillna(False).astype(bool).sum()),
                "missing": "; ".join(parts) if parts else "nothing in the study and arm tables",
            }
        )
    return pd.DataFrame(rows)


def _identical_outcomes(records: TrialRecords) -> list[tuple[str, str, str, int]]:
    """Pairs of outcomes of one study whose printed percentages agree in every cell.

    Returns ``(study_id, outcome_a, outcome_b, cells)`` with cells = arms × time points.
    """
    out = records.outcomes
    sel = out[(out["statistic"] == "percent") & (out["qualifier"] == "=")]
    found = []
    for sid, grp in sel.groupby("study_id", sort=False):
        cells: dict[str, dict[tuple[str, float], str]] = {}
        for r in _records_of(grp):
            t = float(r["timepoint_weeks"]) if not _isna(r["timepoint_weeks"]) else float("nan")
            cells.setdefault(str(r["outcome"]), {})[(str(r["arm_id"]), t)] = str(r["value_text"])
        names = list(cells)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if len(cells[a]) >= 2 and cells[a] == cells[b]:
                    found.append((str(sid), a, b, len(cells[a])))
    return found


def caveats(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[tuple[str, str]]:
    """The report's caveats, each ``(heading, text)``, computed from records and results.

    Parameters
    ----------
    records : TrialRecords
        The validated records the analyses ran on.
    entries : sequence of ReportEntry
        The analyses as :func:`run_all` returned them (results and warnings).

    Returns
    -------
    list of (str, str)
        Small k; single-arm designs and single-group analyses; add-on
        comparisons; derived counts; what kinds of source were read;
        overlapping reports (``studies.overlaps_with``); completers-only
        arms (``n_analysed`` < ``n_randomised``); identical outcome rows;
        analyses that could not run.
    """
    from .analyses import SMALL_K

    st = records.studies
    label = dict(zip(st["study_id"], st["label"], strict=True))
    items: list[tuple[str, str]] = []
    ran = [e for e in entries if e.analysis is not None]

    if ran:
        ks = ", ".join(f"{e.name} k = {e.analysis.k}" for e in ran if e.analysis is not None)
        small = [e for e in ran if e.analysis is not None and e.analysis.k < SMALL_K]
        if small:
            items.append(
                (
                    "Few studies",
                    f"{len(small)} of {len(ran)} analyses pool fewer than {SMALL_K} studies "
                    f"({ks}). With k = 1 the 'pooled' estimate is that study's own estimate and "
                    "heterogeneity cannot be assessed; with k = 2, τ², I² and their intervals "
                    "are barely estimable and the Hartung-Knapp interval is very wide. The "
                    "library's FewStudiesWarning is shown with each analysis.",
                )
            )
        funnel = [e for e in ran if e.analysis is not None and e.analysis.k >= MIN_K_FUNNEL]
        if len(funnel) < len(ran):
            items.append(
                (
                    "No funnel plots",
                    f"Funnel plots are drawn only from k = {MIN_K_FUNNEL} studies (Sterne et al. "
                    "2011); below that, small-study effects and publication bias cannot be "
                    f"assessed. {len(ran) - len(funnel)} of {len(ran)} analyses have fewer studies.",
                )
            )

    single = st[st["controlled"].astype(str) == "no"]
    if len(single):
        names = ", ".join(f"{r['label']} ({_words(r['design'])})" for r in _records_of(single))
        items.append(
            (
                "Uncontrolled designs",
                f"{len(single)} of {len(st)} reports have no concurrent control group: {names}. "
                "Changes after MSC in these reports cannot be separated from regression to the "
                "mean, background therapy or natural course.",
            )
        )
    nonrand = st[(st["controlled"].astype(str) == "yes") & (st["randomised"].astype(str) == "no")]
    if len(nonrand):
        names = ", ".join(str(r["label"]) for r in _records_of(nonrand))
        items.append(
            (
                "Non-randomised comparison",
                f"{names}: a control group without random allocation; differences between its "
                "groups may reflect who was allocated to them.",
            )
        )
    sg = [e for e in ran if e.spec.kind.startswith("single_group")]
    if sg:
        items.append(
            (
                "Single-group analyses",
                f"{len(sg)} analyses ({', '.join(e.name for e in sg)}) pool MSC-treated arms as "
                "single groups, including arms of randomised trials: they describe outcomes "
                "after MSC, not an effect of MSC.",
            )
        )
    addon = [e for e in ran if set(e.spec.control) & {"msc"}]
    if addon:
        items.append(
            (
                "Add-on comparisons",
                f"{', '.join(e.name for e in addon)} compare arms that both received MSC "
                "(for example MSC + IFN-γ versus MSC alone); they say nothing about MSC versus "
                "no MSC.",
            )
        )

    out = records.outcomes
    derived = out[out["derived"].fillna(False).astype(bool)]
    if len(derived):
        by = derived["derivation_method"].value_counts().to_dict()
        how = ", ".join(f"{n} by {_words(m)}" for m, n in by.items())
        used = [e.name for e in ran if e.analysis is not None and _uses_derived(e, records)]
        items.append(
            (
                "Derived numbers",
                f"{len(derived)} of {len(out)} numbers in the records are derived, not read "
                f"({how}); counts from percentages reproduce the printed percentage at its "
                "printed precision. "
                + (
                    f"Analyses using derived numbers: {', '.join(used)}; the conversions are "
                    "listed with each analysis."
                    if used
                    else "No analysis here uses them."
                ),
            )
        )

    kinds = records.sources["kind"].value_counts().to_dict()
    items.append(
        (
            "What was read",
            f"{len(records.sources)} sources by kind: "
            + ", ".join(f"{_words(k)} {n}" for k, n in kinds.items())
            + ". Numbers not in these sources (most Results sections, tables and figures) are "
            "missing from the records; see the study table.",
        )
    )

    for r in _records_of(st):
        text = r["overlaps_with"]
        if text is None or text != text or not str(text).strip():
            continue
        ids = [p.strip() for p in str(text).split(";")]
        if all(p in label for p in ids):
            others = " and ".join(label[p] for p in ids)
            if any(p < str(r["study_id"]) and p in label for p in ids):
                continue  # the pair is listed once
            what = f"{r['label']} and {others} may report overlapping patients"
        else:
            what = f"{r['label']} may overlap with a report that is not in the records: {text}"
        pooled = [
            e.name
            for e in ran
            if e.analysis is not None
            and {str(r["study_id"]), *ids} <= set(e.analysis.input.frame["study_id"])
        ]
        items.append(
            (
                "Overlapping reports",
                what.rstrip(".")
                + ". Overlapping reports should not be pooled as independent samples; "
                + (
                    f"pooled together here in {', '.join(pooled)} (see its OverlapWarning)."
                    if pooled
                    else "no analysis here pools them together."
                ),
            )
        )

    arms = records.arms
    part = arms[
        arms["n_analysed"].notna()
        & arms["n_randomised"].notna()
        & (arms["n_analysed"] < arms["n_randomised"])
    ]
    for sid, grp in part.groupby("study_id", sort=False):
        arms_txt = ", ".join(
            f"{a['label']} {int(a['n_analysed'])} of {int(a['n_randomised'])}"
            for a in _records_of(grp)
        )
        items.append(
            (
                "Completers only",
                f"{label.get(str(sid), sid)} analysed fewer patients than were randomised "
                f"({arms_txt}): its numbers are for completers, with no intention-to-treat data.",
            )
        )

    for sid, a, b, n in _identical_outcomes(records):
        items.append(
            (
                "Identical rows",
                f"In {label.get(sid, sid)}, the {_words(a)} and {_words(b)} percentages are "
                f"identical in all {n} cells (arms × time points), possibly a copy error in the "
                "published table; they are not used as independent evidence.",
            )
        )

    failed = [e for e in entries if e.analysis is None]
    if failed:
        items.append(
            (
                "Analyses not run",
                "; ".join(f"{e.name}: {e.error}" for e in failed),
            )
        )
    return items


def _uses_derived(entry: ReportEntry, records: TrialRecords) -> bool:
    if entry.analysis is None:
        return False
    out = records.outcomes.set_index("row_id")["derived"]
    rows = ";".join(entry.analysis.input.frame["source_rows"]).split(";")
    return any(bool(out.get(r, False)) for r in rows if r)


# --------------------------------------------------------------------------- figures


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _render(fig: Any, fmt: str) -> bytes:
    import matplotlib

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
    import matplotlib.pyplot as plt

    plt.close(fig)


@dataclass(frozen=True)
class _Figure:
    kind: str  # "forest" or "funnel"
    png: bytes
    files: dict[str, str]  # format -> relative path


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
        from .plots import funnel_plot

        ax = funnel_plot(result)
    else:
        from .plots import forest_plot

        ax = forest_plot(
            result,
            **forest_options(entry.spec),
            fontsize=FOREST_FONTSIZE,
            plot_width=FOREST_PLOT_WIDTH,
        )
    return ax.figure


def _figures(
    entry: ReportEntry, writer: _Writer, formats: tuple[str, ...]
) -> tuple[list[_Figure], tuple[RecordedWarning, ...], list[str]]:
    """Draw and write an analysis' figures; return them, the warnings and any problems."""
    kinds = ["forest"]
    if entry.result is not None and entry.result.k >= MIN_K_FUNNEL:
        kinds.append("funnel")
    figs: list[_Figure] = []
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for kind in kinds:
            try:
                fig = _draw(entry, kind)
            except MetaAnalysisError as exc:
                problems.append(f"the {kind} plot could not be drawn: {exc}")
                continue
            try:
                png = _render(fig, "png")
                files: dict[str, str] = {}
                for fmt in formats:
                    rel = f"figures/{entry.name}_{kind}.{fmt}"
                    writer.bytes(rel, png if fmt == "png" else _render(fig, fmt))
                    files[fmt] = rel
            finally:
                _close(fig)
            figs.append(_Figure(kind, png, files))
    return figs, _record(caught), problems


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa;
        --accent: #0b5cad; --warn-bg: #fff8e5; --warn-line: #d4a72c;
        --err-bg: #ffebe9; --err-line: #cf222e; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
                    "Liberation Sans", sans-serif; }
main, header.page, footer.page { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
header.page { padding-top: 32px; padding-bottom: 8px; border-bottom: 3px solid var(--accent); }
header.page h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 6px; }
header.page p { margin: 4px 0; color: var(--muted); }
.lede { font-size: 1.02rem; color: var(--ink) !important; max-width: 880px; }
nav.toc { margin: 18px 0 8px; padding: 12px 16px; background: var(--soft);
          border: 1px solid var(--line); border-radius: 6px; }
nav.toc ol { margin: 4px 0 0; padding-left: 22px; }
nav.toc li { margin: 2px 0; break-inside: avoid; }
h2 { font-size: 1.4rem; margin: 40px 0 12px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1.15rem; margin: 0 0 8px; }
h4 { font-size: 1rem; margin: 18px 0 6px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; margin: 8px 0 16px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px;
         border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); border-bottom: 2px solid var(--line); white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-wrap { overflow-x: auto; }
article.analysis { border: 1px solid var(--line); border-radius: 8px; padding: 20px 22px;
                   margin: 22px 0; }
article.analysis .meta { color: var(--muted); margin: 0 0 10px; font-size: 0.92rem; }
dl.facts { display: grid; grid-template-columns: 170px 1fr; gap: 4px 16px; margin: 8px 0 12px;
           font-size: 0.93rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.headline { font-size: 1.05rem; background: var(--soft); border-left: 4px solid var(--accent);
            padding: 10px 14px; margin: 12px 0; border-radius: 0 6px 6px 0; }
figure { margin: 12px 0 16px; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figure img.forest { display: block; width: 100%; }
figure a.full-size { display: block; }
figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 6px; }
.callout { border-left: 4px solid var(--warn-line); background: var(--warn-bg);
           padding: 8px 14px; margin: 10px 0; border-radius: 0 6px 6px 0; font-size: 0.9rem; }
.callout.error { border-left-color: var(--err-line); background: var(--err-bg); }
.callout ul { margin: 4px 0; padding-left: 20px; }
.callout strong { display: block; margin-bottom: 2px; }
ul.plain { padding-left: 20px; margin: 4px 0 10px; font-size: 0.92rem; }
ul.plain li { margin: 3px 0; }
.downloads { font-size: 0.85rem; }
.downloads a { margin-right: 10px; }
.muted { color: var(--muted); }
.small { font-size: 0.85rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85em;
       background: var(--soft); padding: 1px 4px; border-radius: 3px; }
ol.caveats li { margin: 8px 0; }
footer.page { margin-top: 48px; padding-top: 12px; padding-bottom: 32px;
              border-top: 1px solid var(--line); color: var(--muted); font-size: 0.85rem; }
@media (max-width: 760px) { dl.facts { grid-template-columns: 1fr; } }
@media print { article.analysis { break-inside: avoid; } nav.toc { display: none; } }
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _table(
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    num: Sequence[int] = (),
    cls: str = "",
) -> str:
    """An HTML table; cells are escaped unless they are _Raw; columns in ``num`` right-aligned."""

    def td(tag: str, i: int, content: str) -> str:
        return f"<{tag}{' class=num' if i in num else ''}>{content}</{tag}>"

    hs = "".join(td("th", i, _e(h)) for i, h in enumerate(head))
    body = []
    for row in rows:
        cells = "".join(
            td("td", i, c.html if isinstance(c, _Raw) else _e(c)) for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    klass = f" class='{cls}'" if cls else ""
    return (
        f"<div class='table-wrap'><table{klass}><thead><tr>{hs}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


@dataclass(frozen=True)
class _Raw:
    html: str


def _anchor(name: str) -> str:
    return f"analysis-{name}"


def _estimate_text(r: MetaAnalysisResult) -> str:
    t = r.transform
    return f"{_num(t(r.estimate))} {_interval(t(r.ci_low), t(r.ci_high))}"


def _pi_text(r: MetaAnalysisResult) -> str:
    from .results import NOT_APPLICABLE_K1

    if r.k < 2:
        return NOT_APPLICABLE_K1
    if not r.is_random:
        return "not given (common-effect model)"
    t = r.transform
    return _interval(t(r.pi_low), t(r.pi_high))


def _data_version(records: TrialRecords) -> tuple[str, str]:
    """(name, version) of the records' data package."""
    from .records import schema

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


@dataclass(frozen=True)
class _Built:
    entry: ReportEntry
    figures: list[_Figure]
    figure_problems: list[str]
    tables: dict[str, str]  # label -> relative path


_ANALYSIS_SCALES = {
    "OR": "log",
    "RR": "log",
    "PETO": "log",
    "ROM": "log",
    "PLN": "log",
    "PLO": "logit",
    "PAS": "arcsine square-root",
    "PFT": "Freeman-Tukey double-arcsine",
    "ZCOR": "Fisher z",
}


def estimate_label(spec: AnalysisSpec, measure: str | None = None) -> str:
    """What an analysis' estimate is, in words (e.g. ``"risk ratio"``, ``"mean change"``).

    Single-group mean analyses pool mean changes from baseline and two-group
    mean analyses differences in mean change (:func:`~msc_meta.analyses.analysis_input`
    reads ``change_mean`` rows); other analyses are named by their display
    scale (:func:`~msc_meta.heterogeneity.display_scale`).

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
    from .heterogeneity import display_scale

    code = measure or spec.measure
    if spec.kind == "single_group_mean" and code == "MN":
        return "mean change"
    if spec.kind == "two_group_mean" and code == "MD":
        return "difference in mean change"
    return display_scale(code)


def _excluded_html(exc: pd.DataFrame, label: dict[str, str]) -> str:
    """Studies not contributing, grouped by reason."""
    groups: dict[str, list[str]] = {}
    for x in _records_of(exc):
        groups.setdefault(str(x["reason"]), []).append(
            str(label.get(x["study_id"], x["study_id"]))
        )
    items = [f"<li>{_e(', '.join(names))}: {_e(reason)}</li>" for reason, names in groups.items()]
    return f"<ul class='plain'>{''.join(items)}</ul>"


def _analysis_html(b: _Built, records: TrialRecords, formats: tuple[str, ...]) -> str:
    from .heterogeneity import describe_heterogeneity
    from .results import NOT_ESTIMABLE

    e = b.entry
    spec = e.spec
    parts = [
        f"<article class='analysis' id='{_anchor(e.name)}'>",
        f"<h3>{_e(spec.title)}</h3>",
        f"<p class='meta'><code>{_e(e.name)}</code></p>",
    ]
    facts = [
        ("Comparison", spec.comparison),
        ("Outcome", f"{spec.outcome}, {_when(spec.timepoint_weeks)}"),
        ("Rationale", spec.rationale),
    ]
    if e.analysis is None:
        parts.append(_facts(facts))
        parts.append(
            "<div class='callout error'><strong>This analysis could not be run</strong>"
            f"{_e(e.error)}</div>"
        )
        parts.append(_warnings_html(e.warnings, b.figure_problems))
        parts.append("</article>")
        return "".join(parts)

    a = e.analysis
    r = a.result
    frame = a.input.frame
    if spec.timepoint_weeks is None:
        weeks = sorted({float(w) for w in frame["timepoint_weeks"] if not _isna(w)})
        if weeks:
            facts[1] = (
                "Outcome",
                f"{spec.outcome}, end of follow-up ({', '.join(f'{w:g}' for w in weeks)} weeks)",
            )
    designs = ", ".join(_words(d) for d in sorted(set(frame["design"])))
    what = estimate_label(spec, r.measure)
    lvl = f"{100 * r.level:g}%"
    n_pat = _patients(frame)
    facts += [
        ("Studies (k)", f"{r.k}: {', '.join(map(str, frame['study']))}"),
        ("Designs", designs),
        ("Patients", f"{n_pat} in the arms pooled"),
        ("Model", _model_text(r)),
    ]
    parts.append(_facts(facts))
    parts.append(
        f"<div class='headline'><strong>{_e(what.capitalize())}</strong> "
        f"{_e(_estimate_text(r))} <span class='muted'>({lvl} CI) · k = {r.k} · "
        f"{n_pat} patients</span></div>"
    )

    for fig in b.figures:
        parts.append(_figure_html(fig, spec, what, lvl))

    num_rows: list[tuple[str, str]] = [
        (f"Estimate ({what})", _num(r.transform(r.estimate))),
        (f"{lvl} confidence interval", _interval(r.transform(r.ci_low), r.transform(r.ci_high))),
        (f"{lvl} prediction interval", _pi_text(r)),
        ("Heterogeneity", describe_heterogeneity(r)),
    ]
    if r.k >= 2:
        num_rows += [
            ("τ² [CI]", f"{_num(r.tau2, 4)} {_interval(r.tau2_ci[0], r.tau2_ci[1], 4)}"),
            ("Q", f"{_num(r.q)} (df = {r.q_df}, {_p(r.q_pvalue)})"),
        ]
    null = spec.null_value
    if null is not None:
        stat = "z" if r.df is None else f"t({r.df:g})"
        num_rows.append(
            (
                f"Test of {what} = {null:g}",
                f"{stat} = {_num(r.statistic)}, {_p(r.pvalue)} (two-sided)",
            )
        )
    if r.measure in _ANALYSIS_SCALES:
        num_rows.append(
            (
                "As pooled",
                f"{_num(r.estimate, 4)} {_interval(r.ci_low, r.ci_high, 4)} "
                f"({_ANALYSIS_SCALES[r.measure]} scale)",
            )
        )
    parts.append("<h4>Numbers</h4>")
    parts.append(_table(["Quantity", "Value"], num_rows, cls="numbers"))

    parts.append("<h4>Studies pooled</h4>")
    es = effect_size_table(e, records)
    study_rows = []
    for s in _records_of(es[es["kind"] == "study"]):
        study_rows.append(
            (
                s["study"],
                _words(s["design"]),
                _arm_text(s, r.measure or spec.measure),
                f"{_num(s['effect_display'])} "
                f"{_interval(s['ci_low_display'], s['ci_high_display'])}",
                _num(s["weight"], 1),
                s.get("sources", ""),
            )
        )
    # studies left out of the pooling for missing values, as RevMan lists them
    study_rows += [(label, "", "", NOT_ESTIMABLE, "", "") for label in r.not_estimable]
    binary = spec.kind.endswith(("binary", "proportion"))
    arm_head = "Events/N" if binary else "Mean change (SD), n"
    if spec.kind.startswith("two_group"):
        arm_head += ", experimental vs control"
    parts.append(
        _table(
            [
                "Study",
                "Design",
                arm_head,
                f"{what.capitalize()} [{lvl} CI]",
                "Weight (%)",
                "Sources",
            ],
            study_rows,
            num=(3, 4),
        )
    )

    conv = [
        (s, c) for s, c in zip(frame["study"], frame["conversions"], strict=True) if c != "none"
    ]
    parts.append("<h4>Conversions applied</h4>")
    if conv:
        parts.append("<ul class='plain'>")
        parts += [f"<li><strong>{_e(s)}</strong>: {_e(c)}</li>" for s, c in conv]
        parts.append("</ul>")
    else:
        parts.append("<p class='small'>None: every number as read.</p>")

    exc = a.input.excluded
    if len(exc):
        label = dict(zip(records.studies["study_id"], records.studies["label"], strict=True))
        parts.append("<h4>Studies not contributing</h4>")
        parts.append(_excluded_html(exc, label))

    # conversions and exclusions are shown above from the input itself; notes that repeat
    # a recorded warning are shown once, with the warnings
    messages = {w.message for w in e.warnings}
    other = [
        n
        for n in a.notes
        if not n.startswith(("Conversions:", "Not contributing:")) and n not in messages
    ]
    if other:
        parts.append("<h4>Notes</h4><ul class='plain'>")
        parts += [f"<li>{_e(n)}</li>" for n in other]
        parts.append("</ul>")

    if r.k < MIN_K_FUNNEL:
        parts.append(
            f"<p class='small muted'>No funnel plot: k = {r.k} is below {MIN_K_FUNNEL}, the "
            "fewest studies with which small-study effects can be looked for (Sterne et al. "
            "2011).</p>"
        )
    parts.append(_warnings_html(e.warnings, b.figure_problems))
    links = " ".join(f"<a href='{_e(rel)}'>{_e(lab)}</a>" for lab, rel in b.tables.items())
    parts.append(f"<p class='downloads'>Tables (CSV): {links}</p>")
    parts.append("</article>")
    return "".join(parts)


def _figure_html(fig: _Figure, spec: AnalysisSpec, what: str, lvl: str) -> str:
    """A figure of the page, embedded as PNG.

    A forest plot fills the width of the page's content, so that its smallest
    text (the heterogeneity and test lines) reads at the size of the page's
    small print, and the image links to the full-size file (the PNG, else the
    first format written). A funnel plot is shown at its own size.
    """
    data = base64.b64encode(fig.png).decode("ascii")
    kind = "Forest plot" if fig.kind == "forest" else "Funnel plot"
    alt = f"{kind}: {spec.title}"
    links = " ".join(
        f"<a href='{_e(rel)}'>{fmt.upper()}</a>" for fmt, rel in sorted(fig.files.items())
    )
    if fig.kind == "forest":
        full = fig.files.get("png") or next(iter(fig.files.values()), None)
        img = f"<img class='forest' src='data:image/png;base64,{data}' alt='{_e(alt)}'>"
        if full is not None:
            img = f"<a class='full-size' href='{_e(full)}' title='Full-size figure'>{img}</a>"
        note = " Select the figure for the full-size file."
    else:
        w, _ = _png_size(fig.png)
        width = round(w * _CSS_DPI / PNG_DPI)
        img = f"<img src='data:image/png;base64,{data}' width='{width}' alt='{_e(alt)}'>"
        note = ""
    return (
        f"<figure>{img}<figcaption>{_e(kind)}: study estimates and the pooled estimate "
        f"({_e(what)}) with {lvl} confidence intervals.{note} "
        f"<span class='downloads'>{links}</span></figcaption></figure>"
    )


def _when(weeks: float | None) -> str:
    return "end of follow-up" if weeks is None else f"{weeks:g} weeks after treatment"


def _facts(items: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f"<dl class='facts'>{body}</dl>"


def _warnings_html(ws: Sequence[RecordedWarning], problems: Sequence[str]) -> str:
    if not ws and not problems:
        return "<p class='small muted'>No warnings were raised.</p>"
    items = [f"<li><code>{_e(w.category)}</code> {_e(w.message)}</li>" for w in ws]
    items += [f"<li>{_e(p)}</li>" for p in problems]
    return (
        "<div class='callout'><strong>Warnings raised by the library</strong>"
        f"<ul>{''.join(items)}</ul></div>"
    )


def _heterogeneity_html(built: Sequence[_Built], het: HeterogeneityTable | None) -> str:
    if het is None:
        return "<p>No analysis ran.</p>"
    titles = {b.entry.name: b.entry.spec.title for b in built}
    rows = []
    for r in _records_of(het.frame):
        ok = bool(r["estimable"])
        na = "n/a"
        link = _Raw(
            f"<a href='#{_anchor(str(r['analysis']))}'>"
            f"{_e(titles.get(str(r['analysis']), r['analysis']))}</a>"
        )
        rows.append(
            (
                link,
                str(r["k"]),
                f"{_num(r['tau2'], 3)} {_interval(r['tau2_ci_low'], r['tau2_ci_high'], 3)}"
                if ok
                else na,
                f"{_num(r['i2'], 0)}% {_interval(r['i2_ci_low'], r['i2_ci_high'], 0)}"
                if ok
                else na,
                f"{_num(r['q'])} ({r['df']}; {_p(float(r['p']))})" if ok else na,
                f"{r['method']}, {_TESTS.get(str(r['test']), r['test'])}",
                str(r["interpretation"]),
            )
        )
    return _table(
        ["Analysis", "k", "τ² [CI]", "I² [CI]", "Q (df; p)", "Model", "In words"],
        rows,
        num=(1, 2, 3),
        cls="heterogeneity",
    )


def _studies_html(studies: pd.DataFrame) -> str:
    design_rows = []
    detail_rows = []
    for s in _records_of(studies):
        design_rows.append(
            (
                s["label"],
                _words(s["design"]),
                _words(s["randomised"]),
                _words(s["controlled"]),
                _words(s["msc_source"]),
                _words(s["donor"]),
                _words(s["route"]),
                "not recorded" if _isna(s["n_enrolled"]) else str(s["n_enrolled"]),
                f"{s['outcome_rows']} ({s['derived_rows']} derived)",
            )
        )
        detail_rows.append(
            (
                s["label"],
                "not recorded" if _isna(s["dose"]) else str(s["dose"]),
                s["missing"],
            )
        )
    return (
        _table(
            [
                "Study",
                "Design",
                "Randomised",
                "Controlled",
                "MSC source",
                "Donor",
                "Route",
                "N enrolled",
                "Numbers recorded",
            ],
            design_rows,
            num=(7, 8),
        )
        + "<h4>Dose, and what the records do not hold</h4>"
        + _table(["Study", "Dose (as reported)", "Not recorded"], detail_rows, cls="details")
    )


def _page(
    built: Sequence[_Built],
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
) -> str:
    import platform

    import matplotlib
    import numpy
    import pandas
    import scipy

    from . import __version__
    from .heterogeneity import describe_heterogeneity
    from .records import bundled_data_dir

    data_name, data_version = _data_version(records)
    try:
        bundled = (
            records.path is not None
            and Path(records.path).resolve() == bundled_data_dir().resolve()
        )
    except FileNotFoundError:  # pragma: no cover - broken installation
        bundled = False
    where = (
        "the bundled MSC-RA records"
        if bundled
        else f"the records in {records.path}"
        if records.path is not None
        else "records given in memory"
    )
    date = _today()
    n_ok = sum(b.entry.ok for b in built)
    lvl = f"{100 * level:g}%"

    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(REPORT_TITLE)}</title><style>{_CSS}</style></head><body>"
    )
    header = (
        "<header class='page'>"
        f"<h1>{_e(REPORT_TITLE)}</h1>"
        f"<p>Pre-specified analyses of {_e(where)}: {len(records.studies)} trial reports, "
        f"{len(records.outcomes)} recorded numbers. {n_ok} of {len(built)} analyses ran.</p>"
        f"<p>msc_meta {_e(__version__)} · data package {_e(data_name)} {_e(data_version)} · "
        f"{date}</p>"
        "<p class='lede'>This page sets out what the curated records show: for each analysis its "
        "design, size and uncertainty, with every number computed by the library from the "
        "records. The evidence is small and mostly uncontrolled. The page describes the data; it "
        "does not judge whether MSC therapy works or is safe, and it gives no treatment "
        "advice.</p></header>"
    )
    toc = [
        "<nav class='toc'><strong>Contents</strong><ol>",
        "<li><a href='#summary'>Summary of the analyses</a></li>",
        "<li><a href='#studies'>The studies</a></li>",
        "<li><a href='#analyses'>The analyses</a><ol>",
        *(
            f"<li><a href='#{_anchor(b.entry.name)}'>{_e(b.entry.spec.title)}</a></li>"
            for b in built
        ),
        "</ol></li>",
        "<li><a href='#heterogeneity'>Heterogeneity</a></li>",
        "<li><a href='#caveats'>Caveats</a></li>",
        "<li><a href='#methods'>Methods and files</a></li>",
        "</ol></nav>",
    ]

    summary_rows = []
    for b in built:
        e = b.entry
        link = _Raw(f"<a href='#{_anchor(e.name)}'>{_e(e.spec.title)}</a>")
        if e.analysis is None:
            summary_rows.append((link, e.spec.comparison, "0", "—", "—", f"not run: {e.error}"))
            continue
        r = e.analysis.result
        summary_rows.append(
            (
                link,
                e.spec.comparison,
                str(r.k),
                f"{estimate_label(e.spec, r.measure)} {_estimate_text(r)}",
                _pi_text(r),
                describe_heterogeneity(r),
            )
        )
    summary = (
        "<section id='summary'><h2>Summary of the analyses</h2>"
        f"<p class='small'>Estimates on the display scale with {lvl} confidence intervals "
        "(CI) and prediction intervals (PI). Read the study rows of each analysis, not only the "
        "pooled estimate: most analyses have one or two studies.</p>"
        + _table(
            ["Analysis", "Comparison", "k", f"Estimate [{lvl} CI]", f"{lvl} PI", "Heterogeneity"],
            summary_rows,
            num=(2,),
            cls="summary",
        )
        + "</section>"
    )

    studies_html = (
        "<section id='studies'><h2>The studies</h2>"
        "<p class='small'>From the records' study, arm and outcome tables. 'Numbers recorded' "
        "counts the outcome rows (read or derived); 'Not recorded' lists the empty fields of "
        "the study and arm tables. Per-trial notes on what the sources do not report are in the "
        "records' README.</p>"
        + _studies_html(studies)
        + "<p class='downloads'>Table (CSV): <a href='tables/studies.csv'>studies.csv</a></p>"
        + "</section>"
    )

    analyses_html = (
        "<section id='analyses'><h2>The analyses</h2>"
        + "".join(_analysis_html(b, records, formats) for b in built)
        + "</section>"
    )

    het_html = (
        "<section id='heterogeneity'><h2>Heterogeneity</h2>"
        "<p class='small'>τ² (between-study variance, on the scale of the analysis) and I² (the "
        "share of the variability due to heterogeneity rather than chance), with Q-profile "
        "intervals (Viechtbauer 2007). The words for I² follow the Cochrane Handbook (section "
        "10.10.2): 0–40% might not be important, 30–60% moderate, 50–90% substantial, 75–100% "
        "considerable. With k = 1 heterogeneity cannot be assessed (n/a).</p>"
        + _heterogeneity_html(built, het)
        + (
            f"<p class='downloads'>Table (CSV): <a href='{_e(het_rel)}'>heterogeneity.csv</a></p>"
            if het_rel
            else ""
        )
        + "</section>"
    )

    cav = (
        "<section id='caveats'><h2>Caveats</h2><ol class='caveats'>"
        + "".join(f"<li><strong>{_e(h)}.</strong> {_e(t)}</li>" for h, t in caveat_items)
        + "</ol></section>"
    )

    overrides = []
    if method:
        overrides.append(f"τ² estimator {method}")
    if test:
        overrides.append(f"test {test}")
    figure_files = ", ".join(f.upper() for f in formats)
    methods = (
        "<section id='methods'><h2>Methods and files</h2><ul class='plain'>"
        "<li>Effect sizes with <code>msc_meta.effect_sizes</code> (metafor's <code>escalc</code> "
        "measures); ratio and proportion measures are pooled on the log or logit scale and "
        "back-transformed for display. Study intervals are Wald intervals.</li>"
        "<li>Pooling with <code>msc_meta.meta_analysis</code>: random effects with the REML "
        "estimator of τ² and the Hartung-Knapp test, as pre-specified"
        + (f" (this run: {_e(' and '.join(overrides))} for every analysis)" if overrides else "")
        + "; with k = 1 the test falls back to z. Prediction intervals as metafor's "
        "<code>predict</code> (Riley, Higgins &amp; Deeks 2011).</li>"
        "<li>Counts derived from percentages, SDs from SEs and merged dose cohorts come from "
        "<code>msc_meta.analyses.analysis_input</code>; each analysis lists them.</li>"
        "<li>Warnings raised while an analysis runs are recorded and shown with it; none is "
        "silenced.</li>"
        f"<li>Funnel plots only from k = {MIN_K_FUNNEL}: Sterne JAC, Sutton AJ, Ioannidis JPA, et "
        "al. Recommendations for examining and interpreting funnel plot asymmetry in "
        "meta-analyses of randomised controlled trials. BMJ 2011;343:d4002.</li>"
        f"<li>Files next to this page: figures as {figure_files} in <code>figures/</code> (PNG "
        f"at {PNG_DPI} dpi); tables as CSV in <code>tables/</code>, at full precision.</li>"
        "</ul></section>"
    )
    footer = (
        "<footer class='page'>"
        f"Generated {date} by msc_meta {_e(__version__)} from data package {_e(data_name)} "
        f"{_e(data_version)}. Python {_e(platform.python_version())}, numpy "
        f"{_e(numpy.__version__)}, scipy {_e(scipy.__version__)}, pandas "
        f"{_e(pandas.__version__)}, matplotlib {_e(matplotlib.__version__)}.</footer>"
    )
    return (
        head
        + header
        + "<main>"
        + "".join(toc)
        + summary
        + studies_html
        + analyses_html
        + het_html
        + cav
        + methods
        + "</main>"
        + footer
        + "</body></html>\n"
    )


# --------------------------------------------------------------------------- build


def build_report(
    out_dir: str | os.PathLike[str],
    *,
    records: TrialRecords | str | os.PathLike[str] | None = None,
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
    al. 2011). PDF and SVG files carry no creation date, so a rerun on the
    same data writes identical figure files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = build_report(tmp, analyses=["acr20_ifng_addon_w12"], formats="png")
    ...     sorted(p.name for p in pathlib.Path(tmp).rglob("*.*"))[:3]
    ['acr20_ifng_addon_w12_effect_sizes.csv', 'acr20_ifng_addon_w12_forest.png', 'acr20_ifng_addon_w12_not_contributing.csv']
    """
    from .heterogeneity import heterogeneity_table

    t0 = time.perf_counter()
    fmts = _check_formats(formats)
    method, level = _check_model(method, test, level)
    specs = _specs(analyses)
    recs = _load_records(records)
    out = check_out_dir(out_dir, recs)
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out)
    say = progress or (lambda _line: None)

    built: list[_Built] = []
    for i, spec in enumerate(specs, start=1):
        t1 = time.perf_counter()
        entry = _run_one(spec, recs, method, test, level)
        figs: list[_Figure] = []
        problems: list[str] = []
        tables: dict[str, str] = {}
        if entry.analysis is not None:
            figs, drawn, problems = _figures(entry, writer, fmts)
            if drawn:
                entry = dataclasses.replace(
                    entry,
                    warnings=entry.warnings + tuple(w for w in drawn if w not in entry.warnings),
                )
            rel = f"tables/{spec.name}_effect_sizes.csv"
            writer.csv(rel, effect_size_table(entry, recs))
            tables["effect sizes"] = rel
            rel = f"tables/{spec.name}_not_contributing.csv"
            writer.csv(rel, _not_contributing(entry, recs))
            tables["studies not contributing"] = rel
        built.append(_Built(entry, figs, problems, tables))
        say(_progress_line(i, len(specs), entry, figs, time.perf_counter() - t1))

    ran = {b.entry.name: b.entry.analysis for b in built if b.entry.analysis is not None}
    het = heterogeneity_table(ran) if ran else None
    het_rel = None
    if het is not None:
        het_rel = "tables/heterogeneity.csv"
        writer.csv(het_rel, het.frame)
    studies = study_table(recs)
    writer.csv("tables/studies.csv", studies)
    import pandas as pd

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
    page = _page(
        built, recs, fmts, studies, het, het_rel, cav, method=method, test=test, level=level
    )
    path = writer.text(REPORT_FILE, page)
    for line in writer.finish():
        say(line)
    say(
        f"wrote {path} and {len(writer.written) - 1} more files in {time.perf_counter() - t0:.1f} s"
    )
    return path


def _not_contributing(entry: ReportEntry, records: TrialRecords) -> pd.DataFrame:
    """Studies that could not contribute to an analysis: ``study_id, label, reason``."""
    import pandas as pd

    if entry.analysis is None:
        return pd.DataFrame(columns=["study_id", "label", "reason"])
    exc = entry.analysis.input.excluded
    label = dict(zip(records.studies["study_id"], records.studies["label"], strict=True))
    return pd.DataFrame(
        {
            "study_id": list(exc["study_id"]),
            "label": [label.get(x, x) for x in exc["study_id"]],
            "reason": list(exc["reason"]),
        },
        columns=["study_id", "label", "reason"],
    )


def _progress_line(
    i: int, n: int, entry: ReportEntry, figs: Sequence[_Figure], seconds: float
) -> str:
    head = f"[{i}/{n}] {entry.name}"
    if entry.analysis is None:
        return f"{head}: not run ({entry.error})"

    r = entry.analysis.result
    nw = len(entry.warnings)
    fig = sum(len(f.files) for f in figs)
    return (
        f"{head}: k = {r.k}, {estimate_label(entry.spec, r.measure)} "
        f"{_estimate_text(r).replace('−', '-')}; "
        f"{nw} warning{'s' if nw != 1 else ''}; {fig} figure files ({seconds:.1f} s)"
    )
