"""The report's tables: per-analysis effect sizes, the studies, and who did not contribute.

Each function returns a :class:`pandas.DataFrame` that :func:`msc_meta.report.build_report`
writes as CSV (at full precision) and the page shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._errors import MetaAnalysisError
from ._validation import is_missing
from .caveats import records_of, study_labels
from .effects import MEASURES
from .heterogeneity_display import display_scale
from .records import TrialRecords, iter_missing
from .running import ReportEntry


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
    for i, s in enumerate(records_of(studies)):
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
    for s in records_of(frame[frame["kind"] != "study"]):
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
    arm_has_msc = {
        str(a["arm_id"]): bool(a["msc"])
        for a in records_of(records.arms)
        if not is_missing(a["msc"])
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
    for s in records_of(records.studies):
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


def not_contributing(entry: ReportEntry, records: TrialRecords) -> pd.DataFrame:
    """Studies that could not contribute to an analysis, and why.

    Parameters
    ----------
    entry : ReportEntry
        The analysis (one that did not run gives an empty table).
    records : TrialRecords
        The records, for the study labels.

    Returns
    -------
    DataFrame
        Columns ``study_id, label, reason``.
    """
    if entry.analysis is None:
        return pd.DataFrame(columns=["study_id", "label", "reason"])
    exc = entry.analysis.input.excluded
    label = study_labels(records)
    return pd.DataFrame(
        {
            "study_id": list(exc["study_id"]),
            "label": [label.get(x, x) for x in exc["study_id"]],
            "reason": list(exc["reason"]),
        },
        columns=["study_id", "label", "reason"],
    )


# --------------------------------------------------------------------------- further analyses


def _display(frame: pd.DataFrame, entry: ReportEntry, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with ``<column>_display`` columns on the analysis' display scale."""
    r = entry.result
    assert r is not None
    for col in columns:
        frame[f"{col}_display"] = [float(r.transform(float(x))) for x in frame[col]]
    return frame


def further_tables(entry: ReportEntry) -> dict[str, pd.DataFrame]:
    """The tables of an analysis' further analyses that ran, by file stem.

    Parameters
    ----------
    entry : ReportEntry
        The analysis, with its further analyses
        (:func:`~msc_meta.running.further_analyses`).

    Returns
    -------
    dict of str to DataFrame
        ``leave_one_out``: one row per omitted study (``study``, the columns of
        :func:`~msc_meta.sensitivity.leave_one_out` on the analysis scale, and
        ``estimate, ci_low, ci_high`` on the display scale); ``influence``:
        :meth:`~msc_meta.sensitivity.InfluenceResult.to_frame` with a
        ``study`` column; ``small_study_tests``: one row per test that ran
        (``test, statistic, df, pvalue, estimate, ci_low, ci_high, k0, side``:
        Egger's limit estimate and the trim-and-fill adjusted estimate on the
        analysis scale, with display-scale columns); ``trim_and_fill``: the
        observed and filled studies (:meth:`~msc_meta.bias.TrimAndFill.to_frame`).
        Only the tables of analyses that ran are given.
    """
    out: dict[str, pd.DataFrame] = {}
    loo = entry.further_result("leave_one_out")
    if loo is not None:
        out["leave_one_out"] = _display(
            loo.reset_index(), entry, ("estimate", "ci_low", "ci_high")
        )
    infl = entry.further_result("influence")
    if infl is not None:
        out["influence"] = infl.to_frame().reset_index()
    rows: list[dict[str, Any]] = []
    egger = entry.further_result("egger")
    if egger is not None:
        rows.append(
            {
                "test": f"Egger ({egger.model}, predictor {egger.predictor})",
                "statistic": egger.statistic,
                "df": egger.df,
                "pvalue": egger.pvalue,
                "estimate": egger.estimate,
                "ci_low": egger.ci_low,
                "ci_high": egger.ci_high,
            }
        )
    begg = entry.further_result("begg")
    if begg is not None:
        rows.append({"test": "Begg (Kendall's tau)", "statistic": begg.tau, "pvalue": begg.pvalue})
    tf = entry.further_result("trim_and_fill")
    if tf is not None:
        rows.append(
            {
                "test": f"Trim-and-fill ({tf.estimator})",
                "pvalue": tf.p_k0,
                "estimate": tf.result.estimate,
                "ci_low": tf.result.ci_low,
                "ci_high": tf.result.ci_high,
                "k0": tf.k0,
                "side": tf.side,
            }
        )
        filled = tf.to_frame()
        out["trim_and_fill"] = _display(filled, entry, ("effect",))
    if rows:
        cols = ["test", "statistic", "df", "pvalue", "estimate", "ci_low", "ci_high", "k0", "side"]
        tests = pd.DataFrame(rows).reindex(columns=cols)
        tests["df"] = tests["df"].astype("Int64")
        tests["k0"] = tests["k0"].astype("Int64")
        out["small_study_tests"] = _display(tests, entry, ("estimate", "ci_low", "ci_high"))
    return out
