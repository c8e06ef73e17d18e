"""What a set of trial records holds, study by study and outcome by outcome.

:func:`outcome_coverage` classifies every study × outcome (× time point) of a
:class:`~msc_meta.records.TrialRecords` by the kind of numbers the records
hold for it (:data:`COVERAGE_STATES`): numbers read in a source, only numbers
derived from read ones or from a statement, only a p-value, or nothing. It is
the table behind the evidence map (:func:`msc_meta.plots.evidence_map`) and
shows at a glance why an analysis of the records has one or two studies.

The classification lives here, beside the records, and not in ``plots``:
it is a fact about the records (no drawing), which the report's tables and
the caveat and certainty rules, one layer below the plots, may also need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ._errors import MetaAnalysisError
from ._format import count
from ._validation import is_missing
from .records import TrialRecords

__all__ = ["COVERAGE_STATES", "DESIGN_GROUPS", "NO_RESULT_STATISTICS", "outcome_coverage"]

#: What the records hold for a study × outcome (× time point), from most to least:
#: ``reported`` (at least one number of the outcome read in a source), ``derived`` (only
#: numbers computed from read numbers or implied by a statement), ``p-value only`` (only a
#: p-value, or only the number of patients measured: no value of the outcome itself) and
#: ``not reported`` (no row).
COVERAGE_STATES: tuple[str, ...] = ("reported", "derived", "p-value only", "not reported")

#: Statistics that are not a value of the outcome itself (a test result, a head count).
NO_RESULT_STATISTICS = frozenset({"p_value", "n"})

#: Groups of studies by design, strongest comparison first, from the ``controlled`` and
#: ``randomised`` columns of ``studies``.
DESIGN_GROUPS: tuple[str, ...] = (
    "randomised controlled",
    "controlled, allocation unclear",
    "non-randomised controlled",
    "single group",
)

_ANY_TIME = "any time"
_NOT_STATED = "time not stated"


def _design_group(controlled: Any, randomised: Any) -> str:
    if controlled != "yes":
        return DESIGN_GROUPS[3]
    if randomised == "yes":
        return DESIGN_GROUPS[0]
    return DESIGN_GROUPS[1] if randomised == "unclear" else DESIGN_GROUPS[2]


def _outcome_names(
    outcomes: Sequence[str] | Mapping[str, str] | None, rows: pd.DataFrame
) -> dict[str, str]:
    """Outcome name -> label, in the order of the map."""
    if outcomes is None:
        if rows.empty:
            raise MetaAnalysisError(
                "the records hold no outcome rows after baseline (timepoint_weeks > 0 or not "
                "stated), so there is nothing to map; give outcomes=[...] to show outcomes "
                "that no study reports"
            )
        first = {name: i for i, name in enumerate(dict.fromkeys(rows["outcome"]))}
        studies = rows.groupby("outcome")["study_id"].nunique()
        order = sorted(first, key=lambda name: (-int(studies[name]), first[name]))
        return {name: name.replace("_", " ") for name in order}
    if isinstance(outcomes, str) or not isinstance(outcomes, Sequence | Mapping):
        raise MetaAnalysisError(
            f"outcomes={outcomes!r} is not a list of outcome names or a mapping of names to "
            "labels; give e.g. ['ACR20', 'DAS28_ESR'] or {'ACR20': 'ACR20 response'}"
        )
    names = list(outcomes)
    if not names:
        raise MetaAnalysisError("outcomes=[] is empty; give at least one outcome name, or None")
    labels = (
        dict(outcomes)
        if isinstance(outcomes, Mapping)
        else {n: n.replace("_", " ") if isinstance(n, str) else n for n in names}
    )
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise MetaAnalysisError(
                f"outcomes[{i}] = {name!r} is not an outcome name; give the names of "
                "outcomes.outcome as non-empty strings"
            )
        if not isinstance(labels[name], str):
            raise MetaAnalysisError(
                f"outcomes[{name!r}] = {labels[name]!r} is not a label; give a string"
            )
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise MetaAnalysisError(
            f"outcomes names {', '.join(map(repr, twice))} more than once; give each once"
        )
    return {name: labels[name] for name in names}


def _state(cell: pd.DataFrame) -> str:
    if cell.empty:
        return COVERAGE_STATES[3]
    result = ~cell["statistic"].isin(NO_RESULT_STATISTICS)
    derived = cell["derived"].fillna(False).astype(bool)
    if (result & ~derived).any():
        return COVERAGE_STATES[0]
    if (result & derived).any():
        return COVERAGE_STATES[1]
    return COVERAGE_STATES[2]


def _timepoint_label(weeks: float) -> str:
    return _NOT_STATED if is_missing(weeks) else f"week {count(weeks)}"


def _study_size(study: pd.Series, arms: pd.DataFrame) -> tuple[Any, str | None]:
    if not is_missing(study["n_enrolled"]):
        return int(study["n_enrolled"]), "n_enrolled"
    sizes = arms.loc[arms["study_id"] == study["study_id"], "n_randomised"]
    if len(sizes) and not sizes.isna().any():
        return int(sizes.sum()), "sum of arms"
    return pd.NA, None


def outcome_coverage(
    records: TrialRecords,
    *,
    outcomes: Sequence[str] | Mapping[str, str] | None = None,
    by_timepoint: bool = True,
) -> pd.DataFrame:
    """What the records hold for every study × outcome (× time point).

    Each cell is classified by the rows of ``records.outcomes`` for that study,
    outcome (and time point) into one of :data:`COVERAGE_STATES`:

    ``reported``
        at least one value of the outcome (a count, percent, mean, SD, change,
        median ...) read in a source (``derived`` false);
    ``derived``
        values, but only numbers computed from read ones (``count_from_percent``,
        ``sum``) or implied by a sentence (``statement``, e.g. "no adverse
        events" read as 0);
    ``p-value only``
        rows, but no value of the outcome itself: only a p-value (or only the
        number of patients measured, :data:`NO_RESULT_STATISTICS`);
    ``not reported``
        no row.

    Baseline rows (``timepoint_weeks`` 0: age, sex, baseline disease activity)
    describe the patients, not a result, and are left out.

    Parameters
    ----------
    records : TrialRecords
        The records (:func:`msc_meta.records.load_records`,
        :func:`msc_meta.datasets.load_msc_ra`).
    outcomes : sequence of str or mapping of str to str, optional
        The outcomes (``outcomes.outcome`` names), in the order of the map; a
        mapping gives each a label. An outcome no study reports is kept, as a
        column of ``not reported``. Default: every outcome with a row after
        baseline, those reported by more studies first (then in the order of
        the records), labelled by the name with spaces for underscores.
    by_timepoint : bool, default True
        One cell per time point of each outcome (the time points any study
        reports it at; rows without a stated time point form a column of
        their own). False: one cell per outcome, over all time points.

    Returns
    -------
    pandas.DataFrame
        One row per study × outcome (× time point), studies grouped by design
        (:data:`DESIGN_GROUPS`) and sorted by year and label within a group,
        outcomes in the order asked, time points ascending (not stated last).
        Columns: ``study_id``, ``study`` (label), ``year``, ``design``
        (``studies.design``), ``design_group``, ``n_patients`` (``n_enrolled``,
        or the sum of the arms' ``n_randomised`` when it is missing; NA when
        neither is known), ``n_patients_from`` (``"n_enrolled"``, ``"sum of
        arms"``, missing when neither), ``n_arms`` (arms of the study in ``arms``),
        ``outcome``, ``outcome_label``, ``timepoint_weeks`` (NaN when not
        stated, or for ``by_timepoint=False``), ``timepoint`` (``"week 12"``,
        ``"time not stated"``, ``"any time"``), ``state``, ``n_rows``,
        ``n_read`` (rows read in a source), ``n_derived``, ``n_pvalues``,
        ``arms_covered`` (distinct arms with a row) and ``pooled_rows`` (rows
        about the whole study or pooled over arms, without an ``arm_id``).

    Raises
    ------
    MetaAnalysisError
        If ``records`` is not a :class:`~msc_meta.records.TrialRecords`, holds
        no study, holds no outcome row after baseline while ``outcomes`` is
        None, or ``outcomes`` is not a non-empty list of distinct names.

    See Also
    --------
    msc_meta.plots.evidence_map : the figure of this table.

    Notes
    -----
    An evidence map (evidence gap map) shows which studies hold which
    outcomes, so that the reader sees where a synthesis is possible and where
    the evidence is missing (Miake-Lye et al. 2016; Snilstveit et al. 2016).
    Here a cell also says how the numbers came into the records, following
    the records' own ``derived`` and ``statistic`` columns; nothing is
    estimated.

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
    >>> import msc_meta as mm
    >>> from msc_meta.coverage import outcome_coverage
    >>> cov = outcome_coverage(mm.datasets.load_msc_ra(), outcomes=["ACR20"],
    ...                        by_timepoint=False)
    >>> he = cov.set_index("study_id").loc["he2020"]
    >>> print(he["state"], he["arms_covered"], he["n_patients"])
    reported 2 63
    """
    if not isinstance(records, TrialRecords):
        raise MetaAnalysisError(
            f"records is a {type(records).__name__}; give TrialRecords (from "
            "msc_meta.records.load_records or msc_meta.datasets.load_msc_ra)"
        )
    if not isinstance(by_timepoint, bool):
        raise MetaAnalysisError(
            f"by_timepoint={by_timepoint!r} is not allowed; give True or False"
        )
    studies = records.studies
    if studies.empty:
        raise MetaAnalysisError("records hold no study (studies.csv has no rows); nothing to map")
    rows = records.outcomes
    rows = rows[~(rows["timepoint_weeks"] == 0).fillna(False)]
    names = _outcome_names(outcomes, rows)
    rows = rows[rows["outcome"].isin(list(names))]

    groups = [_design_group(s["controlled"], s["randomised"]) for _, s in studies.iterrows()]
    order = sorted(
        range(len(studies)),
        key=lambda i: (
            DESIGN_GROUPS.index(groups[i]),
            int(studies["year"].iloc[i]) if not is_missing(studies["year"].iloc[i]) else 0,
            str(studies["label"].iloc[i]),
        ),
    )
    columns: list[tuple[str, float, str]] = []  # outcome, weeks, label
    for name in names:
        if not by_timepoint:
            columns.append((name, float("nan"), _ANY_TIME))
            continue
        stated = rows.loc[rows["outcome"] == name, "timepoint_weeks"]
        times = sorted({float(w) for w in stated.dropna()})
        if stated.isna().any():
            times.append(float("nan"))
        columns += [(name, w, _timepoint_label(w)) for w in times] or [
            (name, float("nan"), _ANY_TIME)
        ]

    out: list[dict[str, Any]] = []
    for i in order:
        study = studies.iloc[i]
        sid = study["study_id"]
        n_patients, n_from = _study_size(study, records.arms)
        mine = rows[rows["study_id"] == sid]
        for name, weeks, label in columns:
            cell = mine[mine["outcome"] == name]
            if label == _NOT_STATED:
                cell = cell[cell["timepoint_weeks"].isna()]
            elif label != _ANY_TIME:
                cell = cell[cell["timepoint_weeks"] == weeks]
            derived = cell["derived"].fillna(False).astype(bool)
            out.append(
                {
                    "study_id": sid,
                    "study": study["label"],
                    "year": study["year"],
                    "design": study["design"],
                    "design_group": groups[i],
                    "n_patients": n_patients,
                    "n_patients_from": n_from,
                    "n_arms": int((records.arms["study_id"] == sid).sum()),
                    "outcome": name,
                    "outcome_label": names[name],
                    "timepoint_weeks": weeks,
                    "timepoint": label,
                    "state": _state(cell),
                    "n_rows": len(cell),
                    "n_read": int((~derived).sum()),
                    "n_derived": int(derived.sum()),
                    "n_pvalues": int((cell["statistic"] == "p_value").sum()),
                    "arms_covered": int(cell["arm_id"].dropna().nunique()),
                    "pooled_rows": int(cell["arm_id"].isna().sum()),
                }
            )
    frame = pd.DataFrame(out)
    for col in ("year", "n_patients"):
        frame[col] = frame[col].astype("Int64")
    return frame
