"""The report's caveats: small rule functions, each on one concern, run in order.

Every rule takes the validated records and the analyses as
:func:`~msc_meta.running.run_all` returned them, and gives zero or more
``(heading, text)`` caveats. :func:`caveats` runs the rules of :data:`RULES`
in order. To add a caveat, write a rule (its docstring says when it fires),
add it to :data:`RULES` and give it a test that builds a case where it fires
and one where it does not (``tests/test_caveats.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ._validation import is_missing
from .analyses import SMALL_K, recorded_conflicts
from .records import TrialRecords
from .running import MIN_K_FUNNEL, ReportEntry

Caveat = tuple[str, str]
Rule = Callable[[TrialRecords, Sequence[ReportEntry]], list[Caveat]]


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as plain dicts (values untyped, as pandas gives them).

    Parameters
    ----------
    frame : DataFrame
        Any table.

    Returns
    -------
    list of dict
        One dict per row, keyed by column name.
    """
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def words(code: Any) -> str:
    """A record code in words: ``"single_arm"`` reads ``"single arm"``, a gap ``"not recorded"``.

    Parameters
    ----------
    code : Any
        A cell of the records.

    Returns
    -------
    str
        The code with spaces for underscores, or ``"not recorded"`` when missing.
    """
    return "not recorded" if is_missing(code) else str(code).replace("_", " ")


def _ran(entries: Sequence[ReportEntry]) -> list[ReportEntry]:
    return [e for e in entries if e.analysis is not None]


def _k(entry: ReportEntry) -> int:
    return 0 if entry.analysis is None else entry.analysis.k


def study_labels(records: TrialRecords) -> dict[str, str]:
    """Study id to its label, for text that names studies.

    Parameters
    ----------
    records : TrialRecords
        The records.

    Returns
    -------
    dict of str to str
        ``study_id`` to ``label``.
    """
    st = records.studies
    return dict(zip(st["study_id"], st["label"], strict=True))


def few_studies(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when an analysis that ran pools fewer than :data:`~msc_meta.analyses.SMALL_K` studies.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"Few studies"``, listing every analysis's k, or nothing.
    """
    ran = _ran(entries)
    small = [e for e in ran if _k(e) < SMALL_K]
    if not small:
        return []
    ks = ", ".join(f"{e.name} k = {_k(e)}" for e in ran)
    return [
        (
            "Few studies",
            f"{len(small)} of {len(ran)} analyses pool fewer than {SMALL_K} studies "
            f"({ks}). With k = 1 the 'pooled' estimate is that study's own estimate and "
            "heterogeneity cannot be assessed; with k = 2, τ², I² and their intervals "
            "are barely estimable and the Hartung-Knapp interval is very wide. The "
            "library's FewStudiesWarning is shown with each analysis.",
        )
    ]


def no_funnel_plots(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when an analysis that ran has fewer than :data:`~msc_meta.running.MIN_K_FUNNEL` studies.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"No funnel plots"``, or nothing.
    """
    ran = _ran(entries)
    n_small = sum(_k(e) < MIN_K_FUNNEL for e in ran)
    if not n_small:
        return []
    return [
        (
            "No funnel plots",
            f"Funnel plots are drawn only from k = {MIN_K_FUNNEL} studies (Sterne et al. "
            "2011); below that, small-study effects and publication bias cannot be "
            f"assessed. {n_small} of {len(ran)} analyses have fewer studies.",
        )
    ]


#: What the further analyses (codes of :data:`~msc_meta.running.FURTHER_ANALYSES`) would
#: have shown, for the caveat of :func:`further_analyses_not_run`.
_WOULD_SHOW: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"leave_one_out", "influence"}), "whether a single study drives a pooled estimate"),
    (
        frozenset({"egger", "begg", "trim_and_fill"}),
        "whether small studies report different effects from large ones (small-study "
        "effects, of which publication bias is one possible cause)",
    ),
    (frozenset({"meta_regression"}), "what explains differences between studies"),
)


def further_analyses_not_run(
    records: TrialRecords, entries: Sequence[ReportEntry]
) -> list[Caveat]:
    """Fires when a sensitivity, small-study or moderator analysis of an analysis that ran was not run.

    Parameters
    ----------
    records : TrialRecords
        The records (not used).
    entries : sequence of ReportEntry
        The analyses, with their further analyses
        (:func:`~msc_meta.running.further_analyses`).

    Returns
    -------
    list of (str, str)
        ``"Sensitivity and small-study analyses"``: which were not run for how
        many analyses, and what the record therefore cannot show; or nothing.
    """
    ran = [e for e in _ran(entries) if e.further]
    counts: dict[str, int] = {}
    keys: set[str] = set()
    for e in ran:
        for f in e.further:
            if not f.ran:
                counts[f.label] = counts.get(f.label, 0) + 1
                keys.add(f.key)
    if not counts:
        return []
    not_run = "; ".join(f"{label} for {n} of {len(ran)}" for label, n in counts.items())
    shows = [text for group, text in _WOULD_SHOW if group & keys]
    cannot = ", ".join(shows[:-1]) + (" or " if len(shows) > 1 else "") + shows[-1]
    return [
        (
            "Sensitivity and small-study analyses",
            f"Not run, for too few studies or (meta-regression) no pre-specified "
            f"moderators: {not_run} analyses. The record therefore cannot show {cannot}. "
            "Each analysis lists which of these were not run and why.",
        )
    ]


def uncontrolled_designs(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when a study has no concurrent control group (``controlled`` is ``no``).

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses (not used).

    Returns
    -------
    list of (str, str)
        ``"Uncontrolled designs"`` naming those studies, or nothing.
    """
    st = records.studies
    single = st[st["controlled"].astype(str) == "no"]
    if not len(single):
        return []
    names = ", ".join(f"{r['label']} ({words(r['design'])})" for r in records_of(single))
    return [
        (
            "Uncontrolled designs",
            f"{len(single)} of {len(st)} reports have no concurrent control group: {names}. "
            "Changes after MSC in these reports cannot be separated from regression to the "
            "mean, background therapy or natural course.",
        )
    ]


def non_randomised(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when a controlled study did not allocate at random.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses (not used).

    Returns
    -------
    list of (str, str)
        ``"Non-randomised comparison"`` naming those studies, or nothing.
    """
    st = records.studies
    sel = st[(st["controlled"].astype(str) == "yes") & (st["randomised"].astype(str) == "no")]
    if not len(sel):
        return []
    names = ", ".join(str(r["label"]) for r in records_of(sel))
    return [
        (
            "Non-randomised comparison",
            f"{names}: a control group without random allocation; differences between its "
            "groups may reflect who was allocated to them.",
        )
    ]


def single_group_analyses(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when an analysis that ran pools single groups (kind ``single_group_*``).

    Parameters
    ----------
    records : TrialRecords
        The records (not used).
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"Single-group analyses"`` naming them, or nothing.
    """
    sg = [e for e in _ran(entries) if e.spec.kind.startswith("single_group")]
    if not sg:
        return []
    return [
        (
            "Single-group analyses",
            f"{len(sg)} analyses ({', '.join(e.name for e in sg)}) pool MSC-treated arms as "
            "single groups, including arms of randomised trials: they describe outcomes "
            "after MSC, not an effect of MSC.",
        )
    ]


def addon_comparisons(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when an analysis that ran has MSC in its control arm (an add-on comparison).

    Parameters
    ----------
    records : TrialRecords
        The records (not used).
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"Add-on comparisons"`` naming them, or nothing.
    """
    addon = [e for e in _ran(entries) if "msc" in set(e.spec.control)]
    if not addon:
        return []
    return [
        (
            "Add-on comparisons",
            f"{', '.join(e.name for e in addon)} compare arms that both received MSC "
            "(for example MSC + IFN-γ versus MSC alone); they say nothing about MSC versus "
            "no MSC.",
        )
    ]


def uses_derived(entry: ReportEntry, records: TrialRecords) -> bool:
    """Whether an analysis reads a derived number of the records.

    Parameters
    ----------
    entry : ReportEntry
        The analysis.
    records : TrialRecords
        The records it ran on.

    Returns
    -------
    bool
        True when one of its source rows is marked ``derived``.
    """
    if entry.analysis is None:
        return False
    out = records.outcomes.set_index("row_id")["derived"]
    ids = ";".join(entry.analysis.input.frame["source_rows"]).split(";")
    return any(bool(out.get(r, False)) for r in ids if r)


def derived_numbers(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when a number of the records is derived (not read), saying which analyses use one.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"Derived numbers"``, or nothing.
    """
    out = records.outcomes
    derived = out[out["derived"].fillna(False).astype(bool)]
    if not len(derived):
        return []
    by = derived["derivation_method"].value_counts().to_dict()
    how = ", ".join(f"{n} by {words(m)}" for m, n in by.items())
    used = [e.name for e in _ran(entries) if uses_derived(e, records)]
    return [
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
    ]


def what_was_read(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Always fires: how many sources of each kind the records were read from.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses (not used).

    Returns
    -------
    list of (str, str)
        ``"What was read"``.
    """
    kinds = records.sources["kind"].value_counts().to_dict()
    return [
        (
            "What was read",
            f"{len(records.sources)} sources by kind: "
            + ", ".join(f"{words(k)} {n}" for k, n in kinds.items())
            + ". Numbers not in these sources (most Results sections, tables and figures) are "
            "missing from the records; see the study table.",
        )
    ]


def overlapping_reports(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires per study whose ``overlaps_with`` names other reports (each pair once).

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses: says which of them pool the overlapping reports together.

    Returns
    -------
    list of (str, str)
        One ``"Overlapping reports"`` per overlap, or nothing.
    """
    label = study_labels(records)
    ran = _ran(entries)
    items: list[Caveat] = []
    for r in records_of(records.studies):
        text = r["overlaps_with"]
        if is_missing(text) or not str(text).strip():
            continue
        ids = [p.strip() for p in str(text).split(";")]
        if all(p in label for p in ids):
            if any(p < str(r["study_id"]) for p in ids):
                continue  # the pair is listed once
            others = " and ".join(label[p] for p in ids)
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
    return items


def completers_only(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires per study with an arm that analysed fewer patients than it randomised.

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses (not used).

    Returns
    -------
    list of (str, str)
        One ``"Completers only"`` per such study, or nothing.
    """
    label = study_labels(records)
    arms = records.arms
    part = arms[
        arms["n_analysed"].notna()
        & arms["n_randomised"].notna()
        & (arms["n_analysed"] < arms["n_randomised"])
    ]
    items: list[Caveat] = []
    for sid, grp in part.groupby("study_id", sort=False):
        arms_txt = ", ".join(
            f"{a['label']} {int(a['n_analysed'])} of {int(a['n_randomised'])}"
            for a in records_of(grp)
        )
        items.append(
            (
                "Completers only",
                f"{label.get(str(sid), sid)} analysed fewer patients than were randomised "
                f"({arms_txt}): its numbers are for completers, with no intention-to-treat data.",
            )
        )
    return items


def identical_outcomes(records: TrialRecords) -> list[tuple[str, str, str, int]]:
    """Pairs of outcomes of one study whose printed percentages agree in every cell.

    Parameters
    ----------
    records : TrialRecords
        The records.

    Returns
    -------
    list of (str, str, str, int)
        ``(study_id, outcome_a, outcome_b, cells)`` with cells = arms × time points
        (at least 2).
    """
    out = records.outcomes
    sel = out[(out["statistic"] == "percent") & (out["qualifier"] == "=")]
    found = []
    for sid, grp in sel.groupby("study_id", sort=False):
        cells: dict[str, dict[tuple[str, float], str]] = {}
        for r in records_of(grp):
            t = float("nan") if is_missing(r["timepoint_weeks"]) else float(r["timepoint_weeks"])
            cells.setdefault(str(r["outcome"]), {})[(str(r["arm_id"]), t)] = str(r["value_text"])
        names = list(cells)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if len(cells[a]) >= 2 and cells[a] == cells[b]:
                    found.append((str(sid), a, b, len(cells[a])))
    return found


def identical_rows(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires per pair of outcomes of a study with identical percentages (:func:`identical_outcomes`).

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses (not used).

    Returns
    -------
    list of (str, str)
        One ``"Identical rows"`` per pair, or nothing.
    """
    label = study_labels(records)
    return [
        (
            "Identical rows",
            f"In {label.get(sid, sid)}, the {words(a)} and {words(b)} percentages are "
            f"identical in all {n} cells (arms × time points). The records copy what the source "
            "prints: if the source is the published table, the rows are identical there, not "
            "through a transcription error; whether the table itself repeats a row by mistake "
            "cannot be told from it. They are not used as independent evidence.",
        )
        for sid, a, b, n in identical_outcomes(records)
    ]


def conflicting_sources(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires per outcome row that another source contradicts (``outcomes.conflicts``).

    Each caveat names the study, the row, its value and the conflicting
    source with what it says, and either the analyses that use the row or
    that no analysis here uses it (naming the analyses of the same outcome
    that leave the study out).

    Parameters
    ----------
    records : TrialRecords
        The records.
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        One ``"Conflicting sources"`` per such row, or nothing.
    """
    label = study_labels(records)
    ran = _ran(entries)
    used_by: dict[str, list[str]] = {}
    for e in ran:
        assert e.analysis is not None
        for rid in ";".join(e.analysis.input.frame["source_rows"]).split(";"):
            used_by.setdefault(rid, []).append(e.name)
    items: list[Caveat] = []
    for c in recorded_conflicts(records, records.outcomes["row_id"]):
        sid = str(c["study_id"])
        study = label.get(sid, sid)
        value = str(c["value_text"])
        if not is_missing(c["denominator"]):
            value += f"/{int(c['denominator'])}"
        says = "; ".join(
            f"{src.strip()} reports {quote.strip()}"
            for src, _, quote in (p.partition(":") for p in str(c["conflicts"]).split(";"))
        )
        head = (
            f"{study}: {words(c['outcome'])} = {value} (row {c['row_id']}) is contradicted by "
            f"another source: {says}."
        )
        users = used_by.get(str(c["row_id"]), [])
        if users:
            tail = (
                f" Used in {', '.join(dict.fromkeys(users))}: its estimate rests on a number "
                "the sources disagree about (see its ConflictingSourcesWarning)."
            )
        else:
            same = [
                e.name
                for e in ran
                if e.spec.outcome == c["outcome"]
                and e.analysis is not None
                and sid not in set(e.analysis.input.frame["study_id"])
            ]
            tail = " No analysis here uses it" + (
                f" ({', '.join(same)} leaves {study} out)" if same else ""
            )
            tail += "; it should not enter a comparison without this conflict."
        items.append(("Conflicting sources", head + tail))
    return items


def analyses_not_run(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[Caveat]:
    """Fires when an analysis could not run, giving each one's error.

    Parameters
    ----------
    records : TrialRecords
        The records (not used).
    entries : sequence of ReportEntry
        The analyses.

    Returns
    -------
    list of (str, str)
        ``"Analyses not run"``, or nothing.
    """
    failed = [e for e in entries if e.analysis is None]
    if not failed:
        return []
    return [("Analyses not run", "; ".join(f"{e.name}: {e.error}" for e in failed))]


#: The rules, in the order the report lists their caveats.
RULES: tuple[Rule, ...] = (
    few_studies,
    no_funnel_plots,
    further_analyses_not_run,
    uncontrolled_designs,
    non_randomised,
    single_group_analyses,
    addon_comparisons,
    derived_numbers,
    what_was_read,
    overlapping_reports,
    completers_only,
    identical_rows,
    conflicting_sources,
    analyses_not_run,
)


def caveats(records: TrialRecords, entries: Sequence[ReportEntry]) -> list[tuple[str, str]]:
    """The report's caveats, each ``(heading, text)``, computed from records and results.

    Parameters
    ----------
    records : TrialRecords
        The validated records the analyses ran on.
    entries : sequence of ReportEntry
        The analyses as :func:`~msc_meta.running.run_all` returned them (results and
        warnings).

    Returns
    -------
    list of (str, str)
        Small k; single-arm designs and single-group analyses; add-on
        comparisons; derived counts; what kinds of source were read;
        overlapping reports (``studies.overlaps_with``); completers-only
        arms (``n_analysed`` < ``n_randomised``); identical outcome rows;
        numbers another source contradicts; analyses that could not run. One rule of :data:`RULES` each, in order.
    """
    return [item for rule in RULES for item in rule(records, entries)]
