"""The pre-specified MSC-RA analyses, and turning records into analysis input.

:func:`analysis_input` selects, for one outcome and time point, the arms of a
comparison in every study of a :class:`~msc_meta.records.TrialRecords`, and
builds the frame that :func:`~msc_meta.effect_sizes` takes, converting what
the reports give with :mod:`msc_meta.conversions` (percentages to counts,
SE to SD, dose cohorts merged into one arm) and keeping, per study, which
conversions were applied and which studies could not contribute and why.

:data:`ANALYSES` holds the pre-specified analyses of the bundled evidence,
each with its rationale; :func:`run_analysis` runs one with the core library.
The evidence is thin and mostly uncontrolled: every result says its k, its
designs and its conversions, and small k is flagged with a
:class:`~msc_meta.FewStudiesWarning` and a note.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ._errors import FewStudiesWarning, MetaAnalysisError, MetaAnalysisWarning
from ._validation import is_missing
from .conversions import combine_events, combine_groups_many, counts_from_percent, sd_from_se
from .datasets import load_msc_ra
from .effects import MEASURES, effect_sizes, measure_info
from .pooling import meta_analysis
from .results import DISPLAY_MAX_ROWS, Summary

if TYPE_CHECKING:  # pragma: no cover
    from .effects import EffectSizes
    from .records import TrialRecords
    from .results import MetaAnalysisResult

Kind = Literal[
    "single_group_proportion", "single_group_mean", "two_group_binary", "two_group_mean"
]
Direction = Literal["better", "worse"]

#: Names of the arm types in labels and figure headers (lower case where a word is).
ARM_NAMES: dict[str, str] = {
    "msc": "MSC",
    "msc_plus_ifng": "MSC + IFN-γ",
    "placebo": "placebo",
    "dmards_control": "DMARDs",
}

#: Below this many studies a random-effects analysis is flagged as small (tau^2 and its
#: interval are poorly estimated; Hartung-Knapp intervals are very wide).
SMALL_K = 5

#: Record columns carried into analysis input as subgroup keys.
SUBGROUP_KEYS = ("msc_source", "route", "design")


class OverlapWarning(MetaAnalysisWarning):
    """Two studies in one analysis may report the same patients."""


class ConflictingSourcesWarning(MetaAnalysisWarning):
    """An analysis uses a number that another source contradicts (``outcomes.conflicts``)."""


@dataclass(frozen=True)
class AnalysisSpec:
    """A pre-specified analysis.

    Attributes
    ----------
    name : str
        Identifier (used for file names in the report).
    title : str
        One-line description.
    kind : str
        ``single_group_proportion`` (events among treated patients),
        ``single_group_mean`` (a mean change among treated patients),
        ``two_group_binary`` or ``two_group_mean`` (experimental vs control arms
        of the same study).
    outcome : str
        Outcome name in the records (e.g. ``"ACR20"``).
    timepoint_weeks : float or None
        Weeks after treatment; ``None`` takes each study's only (or latest)
        time point, for outcomes counted over the whole follow-up (adverse events).
    experimental : tuple of str
        Arm types (``arms.arm_type``) of the experimental side. Arms of one
        side within a study are merged.
    measure : str
        Effect measure (metafor's code) for :func:`~msc_meta.effect_sizes`.
    comparison : str
        What is compared, in words.
    rationale : str
        Why the analysis is specified, and what it cannot show.
    control : tuple of str
        Arm types of the control side; empty (the default) for single-group
        analyses.
    method : str
        τ² estimator (default ``"REML"``).
    test : str
        Test of the pooled estimate (default ``"knha"``).
    higher_is : {"better", "worse"} or None
        Whether higher values of the outcome are better or worse for patients
        (ACR20 response: better; DAS28-ESR, adverse events: worse). The labels
        under the forest plot's axis derive from it (:attr:`direction_labels`);
        every pre-specified analysis states it.
    outcome_label : str
        The outcome in words for those labels (e.g. ``"ACR20 response"``);
        default: ``outcome`` with spaces for underscores.
    """

    name: str
    title: str
    kind: Kind
    outcome: str
    timepoint_weeks: float | None
    experimental: tuple[str, ...]
    measure: str
    comparison: str
    rationale: str
    control: tuple[str, ...] = ()
    method: str = "REML"
    test: str = "knha"
    higher_is: Direction | None = None
    outcome_label: str = ""

    def __post_init__(self) -> None:
        if self.higher_is not in (None, "better", "worse"):
            raise MetaAnalysisError(
                f"analysis {self.name!r}: higher_is={self.higher_is!r} is not allowed; give "
                "'better' or 'worse' (whether higher values of the outcome are better or worse)"
            )

    @property
    def arm_names(self) -> tuple[str, str]:
        """Names of the experimental and control sides (``""`` for no control)."""

        def name(types: tuple[str, ...]) -> str:
            return " or ".join(ARM_NAMES.get(t, t.replace("_", " ")) for t in types)

        return name(self.experimental), name(self.control) if self.control else ""

    @property
    def null_value(self) -> float | None:
        """The estimate of no difference on the display scale, or None when there is none.

        1 for ratio measures and 0 for differences between the arms; 0 for a
        single-group mean, which these analyses read as a change from baseline
        (no change); none for a single-group proportion, for which no
        proportion is a natural reference.
        """
        if self.kind == "single_group_proportion":
            return None
        if self.kind == "single_group_mean":
            return 0.0
        return 1.0 if measure_info(self.measure).is_ratio else 0.0

    @property
    def direction_labels(self) -> tuple[str, str]:
        """What the left and right of the forest plot's null line mean, in neutral words.

        Each side says in which arm there is more (or less) of the outcome,
        in the direction that ``higher_is`` marks as better: for ACR20
        response (higher is better) ``("higher ACR20 response with placebo
        or DMARDs", "higher with MSC")``, for adverse events (higher is worse)
        ``("lower risk of an adverse event with MSC", "lower with placebo or
        DMARDs")``, for a difference in the change of DAS28-ESR ``("larger
        decrease in DAS28-ESR with MSC + IFN-γ", "larger decrease with
        MSC")``. Single-group mean changes read "decrease ... after MSC" and
        "increase after MSC"; single-group proportions, which have no null
        line, ``("lower ACR20 response", "higher ACR20 response")`` at the
        ends of the axis. No side is said to favour anything.
        """
        what = self.outcome_label or self.outcome.replace("_", " ")
        exp, ctl = self.arm_names
        worse = self.higher_is == "worse"
        if self.kind == "single_group_proportion":
            return f"lower {what}", f"higher {what}"
        if self.kind == "single_group_mean":
            return f"decrease in {what} after {exp}", f"increase after {exp}"
        if self.kind == "two_group_mean":  # differences in the change from baseline
            if worse:
                return f"larger decrease in {what} with {exp}", f"larger decrease with {ctl}"
            return f"larger increase in {what} with {ctl}", f"larger increase with {exp}"
        if worse:
            return f"lower {what} with {exp}", f"lower with {ctl}"
        return f"higher {what} with {ctl}", f"higher with {exp}"


@dataclass(frozen=True, eq=False)
class AnalysisInput:
    """Input of one analysis built from records.

    Attributes
    ----------
    spec : AnalysisSpec
        The analysis the input was built for.
    frame : DataFrame
        One row per contributing study: ``study``, ``study_id``, the
        arguments of the measure (``events``/``n``, ``mean``/``sd``/``n``,
        ``events_t``/``n_t``/``events_c``/``n_c`` or ``mean_t``/``sd_t``/...),
        the subgroup keys, ``timepoint_weeks``, ``conversions`` (what was
        done to the reported numbers) and ``source_rows`` (the outcome row ids used).
    excluded : DataFrame
        Studies that could not contribute, with the reason.
    """

    spec: AnalysisSpec
    frame: pd.DataFrame
    excluded: pd.DataFrame

    @property
    def k(self) -> int:
        """Number of contributing studies."""
        return len(self.frame)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """A pre-specified analysis run with the core library.

    Attributes
    ----------
    spec : AnalysisSpec
        The analysis.
    input : AnalysisInput
        The effect-size input built from the records, with the studies left out
        and why.
    effect_sizes : EffectSizes
        The study-level effects that were pooled.
    result : MetaAnalysisResult
        The meta-analysis.
    notes : tuple of str
        What the reader should know about this analysis: few studies or a
        single one, single-group designs, conversions applied, studies not
        contributing, possibly overlapping patients.
    """

    spec: AnalysisSpec
    input: AnalysisInput
    effect_sizes: EffectSizes
    result: MetaAnalysisResult
    notes: tuple[str, ...] = field(default=())

    @property
    def k(self) -> int:
        """Number of studies pooled."""
        return self.result.k

    def __repr__(self) -> str:
        return f"<AnalysisResult {self.spec.name}: k={self.k}, {self.result!r}>"

    def summary(self, digits: int = 4, *, max_rows: int | None = DISPLAY_MAX_ROWS) -> Summary:
        """The meta-analysis summary headed by what was compared and noted.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.
        max_rows : int or None, default 30
            Most study rows shown, as for
            :meth:`~msc_meta.MetaAnalysisResult.summary`; ``None`` shows all.
        """
        base = self.result.summary(digits, max_rows=max_rows)
        head = (
            ("Analysis", self.spec.title),
            ("Comparison", self.spec.comparison),
            ("Outcome", f"{self.spec.outcome} at {_when(self.spec.timepoint_weeks)}"),
            ("Designs", ", ".join(sorted(set(self.input.frame["design"])))),
        )
        return dataclasses.replace(
            base, title=f"{self.spec.name} (msc_meta)", lines=head + base.lines, notes=self.notes
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def _when(weeks: float | None) -> str:
    return "end of follow-up" if weeks is None else f"{weeks:g} weeks"


# --------------------------------------------------------------------------- building input


def _rows(records: TrialRecords, study: str, outcome: str, weeks: float | None) -> pd.DataFrame:
    out = records.outcomes
    sel = out[(out["study_id"] == study) & (out["outcome"] == outcome)]
    if weeks is None:
        return sel
    return sel[sel["timepoint_weeks"] == weeks]


def _pick(sel: pd.DataFrame, arm: str | None, statistic: str) -> pd.Series | None:
    mask = sel["statistic"] == statistic
    mask &= sel["arm_id"].isna() if arm is None else (sel["arm_id"] == arm)
    hit = sel[mask & (sel["qualifier"] == "=")]
    if hit.empty:
        return None
    if "timepoint_weeks" in hit and hit["timepoint_weeks"].notna().any():
        hit = hit.sort_values("timepoint_weeks")
    row: pd.Series = hit.iloc[-1]
    return row


def _arm_binary(
    sel: pd.DataFrame, arm: str | None, arm_n: Any, conversions: list[str], used: list[str]
) -> tuple[int, int] | str:
    """(events, n) of one arm, or the reason it is not available."""
    count = _pick(sel, arm, "count")
    pct = _pick(sel, arm, "percent")
    if count is not None:
        den = count["denominator"]
        if is_missing(den):
            den = arm_n
        if is_missing(den):
            return "count without a denominator"
        used.append(str(count["row_id"]))
        if bool(count["derived"]):
            conversions.append(f"{arm or 'study'}: {count['derivation']}")
        return int(count["value"]), int(den)
    if pct is not None:
        den = pct["denominator"] if not is_missing(pct["denominator"]) else arm_n
        if is_missing(den):
            return "percent without a denominator"
        conv = counts_from_percent(str(pct["value_text"]), int(den))
        used.append(str(pct["row_id"]))
        conversions.append(f"{arm or 'study'}: count from percent, {conv.derivation}")
        return int(conv.count), int(den)
    return "not reported"


def _arm_mean(
    sel: pd.DataFrame, arm: str | None, arm_n: Any, conversions: list[str], used: list[str]
) -> tuple[float, float, int] | str:
    """(mean change, SD of change, n) of one arm, or the reason it is not available."""
    mean = _pick(sel, arm, "change_mean")
    if mean is None:
        return "no mean change reported"
    n = mean["denominator"] if not is_missing(mean["denominator"]) else arm_n
    if is_missing(n):
        return "no n for the mean change"
    sd = _pick(sel, arm, "change_sd")
    used.append(str(mean["row_id"]))
    if sd is not None:
        used.append(str(sd["row_id"]))
        if sd["notes"]:
            conversions.append(f"{arm or 'study'}: SD as labelled ({sd['notes']})")
        return float(mean["value"]), float(sd["value"]), int(n)
    se = _pick(sel, arm, "change_se")
    if se is not None:
        used.append(str(se["row_id"]))
        sd_val = float(sd_from_se(float(se["value"]), int(n)))
        conversions.append(
            f"{arm or 'study'}: SD from SE, {se['value']} × √{int(n)} = {sd_val:.4g}"
        )
        return float(mean["value"]), sd_val, int(n)
    return "no SD or SE of the mean change"


def _side(
    records: TrialRecords,
    study: pd.Series,
    sel: pd.DataFrame,
    arm_types: tuple[str, ...],
    binary: bool,
    conversions: list[str],
    used: list[str],
) -> tuple[Any, ...] | str:
    """One side of a comparison in one study: merged over its arms."""
    arms = records.arms[records.arms["study_id"] == study["study_id"]]
    mine = arms[arms["arm_type"].isin(arm_types)]
    if mine.empty:
        return f"no arm of type {' or '.join(arm_types)}"
    get = _arm_binary if binary else _arm_mean
    parts = []
    reasons = []
    for _, arm in mine.iterrows():
        n_arm = arm["n_analysed"] if not is_missing(arm["n_analysed"]) else arm["n_randomised"]
        got = get(sel, arm["arm_id"], n_arm, conversions, used)
        if isinstance(got, str):
            reasons.append(f"{arm['arm_id']}: {got}")
        else:
            parts.append((arm["arm_id"], got))
    if not parts:
        # a study-level number (arm_id empty) stands for the side when every arm is of this side
        if len(mine) == len(arms):
            total_n = mine["n_randomised"].sum() if mine["n_randomised"].notna().all() else None
            got = get(sel, None, total_n, conversions, used)
            if not isinstance(got, str):
                if len(mine) > 1:
                    conversions.append(
                        f"study-level number pooled over {len(mine)} arms "
                        f"({', '.join(mine['arm_id'])}) as reported"
                    )
                return tuple(got)
        return "; ".join(reasons)
    if reasons:
        # a side with some arms missing would be a biased merge: refuse it
        return "; ".join(reasons) + " (other arms of this side reported; not merged)"
    if len(parts) == 1:
        return tuple(parts[0][1])
    ids = ", ".join(a for a, _ in parts)
    values: list[tuple[Any, ...]] = [p[1] for p in parts]
    if binary:
        ev, n = int(values[0][0]), int(values[0][1])
        for later in values[1:]:
            both = combine_events(ev, n, int(later[0]), int(later[1]))
            ev, n = int(both.events), int(both.n)
        conversions.append(f"merged arms {ids}: {ev}/{n} (sum of events and of patients)")
        return ev, n
    group = combine_groups_many(
        [float(m[2]) for m in values], [float(m[0]) for m in values], [float(m[1]) for m in values]
    )
    conversions.append(
        f"merged arms {ids}: mean {float(group.mean):.4g}, SD {float(group.sd):.4g}, "
        f"n {int(group.n)} (Cochrane Handbook 6.5.2.10)"
    )
    return float(group.mean), float(group.sd), int(group.n)


def analysis_input(records: TrialRecords, spec: AnalysisSpec) -> AnalysisInput:
    """Build the input of ``spec`` from ``records``.

    Parameters
    ----------
    records : TrialRecords
        Validated records (:func:`~msc_meta.records.load_records` or
        :func:`~msc_meta.datasets.load_msc_ra`).
    spec : AnalysisSpec
        The outcome, time point, comparison and measure.

    Returns
    -------
    AnalysisInput
        The frame for :func:`~msc_meta.effect_sizes`, with the conversions
        applied per study, and the studies excluded with their reasons.

    Notes
    -----
    Per arm, a count (read or derived) is used when there is one, else a
    percentage with its denominator is converted with
    :func:`~msc_meta.conversions.counts_from_percent`. For mean changes, the
    SD of the change is used, else an SE is converted with
    :func:`~msc_meta.conversions.sd_from_se`. Several arms of one side in a
    study (dose cohorts against a shared placebo) are merged: events and
    patients summed; means and SDs combined (Cochrane Handbook 6.5.2.10). A
    number reported for the whole study (no arm) stands for a side only when
    every arm of the study belongs to that side. Only exact values are used
    (``qualifier`` ``=``), never bounds such as ``P<0.05``.
    """
    binary = spec.kind in ("single_group_proportion", "two_group_binary")
    two_group = spec.kind.startswith("two_group")
    if two_group and not spec.control:
        raise MetaAnalysisError(
            f"analysis {spec.name!r}: a two-group analysis needs control arm types"
        )
    rows: list[dict[str, Any]] = []
    excluded: list[dict[str, str]] = []
    for _, study in records.studies.iterrows():
        sel = _rows(records, study["study_id"], spec.outcome, spec.timepoint_weeks)
        if sel.empty:
            excluded.append(
                {
                    "study_id": study["study_id"],
                    "reason": f"{spec.outcome} at {_when(spec.timepoint_weeks)} not reported",
                }
            )
            continue
        conversions: list[str] = []
        used: list[str] = []
        exp = _side(records, study, sel, spec.experimental, binary, conversions, used)
        ctl: tuple[Any, ...] | str | None = None
        if two_group:
            ctl = _side(records, study, sel, spec.control, binary, conversions, used)
        if isinstance(exp, str) or isinstance(ctl, str):
            reason = exp if isinstance(exp, str) else f"control: {ctl}"
            excluded.append({"study_id": study["study_id"], "reason": reason})
            continue
        row: dict[str, Any] = {"study": study["label"], "study_id": study["study_id"]}
        if binary and not two_group:
            row["events"], row["n"] = exp
        elif binary:
            assert ctl is not None
            row["events_t"], row["n_t"] = exp
            row["events_c"], row["n_c"] = ctl
        elif not two_group:
            row["mean"], row["sd"], row["n"] = exp
        else:
            assert ctl is not None
            row["mean_t"], row["sd_t"], row["n_t"] = exp
            row["mean_c"], row["sd_c"], row["n_c"] = ctl
        for key in SUBGROUP_KEYS:
            row[key] = study[key]
        times = sorted({float(t) for t in sel["timepoint_weeks"].dropna()})
        row["timepoint_weeks"] = (
            spec.timepoint_weeks
            if spec.timepoint_weeks is not None
            else (times[-1] if times else math.nan)
        )
        row["conversions"] = "; ".join(conversions) if conversions else "none"
        row["source_rows"] = ";".join(used)
        rows.append(row)
    frame = pd.DataFrame(rows)
    return AnalysisInput(
        spec=spec,
        frame=frame,
        excluded=pd.DataFrame(excluded, columns=["study_id", "reason"]),
    )


# --------------------------------------------------------------------------- the analyses

_MSC = ("msc",)
_CONTROL = ("placebo", "dmards_control")

#: The pre-specified analyses of the bundled MSC-RA records, keyed by name.
ANALYSES: dict[str, AnalysisSpec] = {
    s.name: s
    for s in (
        AnalysisSpec(
            name="acr20_msc_single_group_w4",
            title="ACR20 response among MSC-treated patients at 4 weeks (month 1)",
            kind="single_group_proportion",
            outcome="ACR20",
            higher_is="better",
            outcome_label="ACR20 response",
            timepoint_weeks=4,
            experimental=_MSC,
            measure="PLO",
            comparison="MSC-treated patients, single group (no comparison with untreated patients)",
            rationale=(
                "The proportion of ACR20 responders after MSC, on the logit scale, from every arm "
                "that received MSC without an add-on (dose cohorts merged). Arms of randomised "
                "trials are used as single groups: the estimate describes response after MSC, "
                "not an effect of MSC, which needs a control group."
            ),
        ),
        AnalysisSpec(
            name="acr20_msc_single_group_w12",
            title="ACR20 response among MSC-treated patients at 12 weeks (month 3)",
            kind="single_group_proportion",
            outcome="ACR20",
            higher_is="better",
            outcome_label="ACR20 response",
            timepoint_weeks=12,
            experimental=_MSC,
            measure="PLO",
            comparison="MSC-treated patients, single group (no comparison with untreated patients)",
            rationale=(
                "As at 4 weeks, at the primary time point of He 2020. The second ACR20 time "
                "point of Álvaro-Gracia 2017 has no readable label and cannot be placed."
            ),
        ),
        AnalysisSpec(
            name="das28_change_msc_single_group_w4",
            title="Change in DAS28-ESR among MSC-treated patients at 4 weeks",
            kind="single_group_mean",
            outcome="DAS28_ESR",
            higher_is="worse",
            outcome_label="DAS28-ESR",
            timepoint_weeks=4,
            experimental=_MSC,
            measure="MN",
            comparison="MSC-treated patients, single group, change from baseline",
            rationale=(
                "The mean change from baseline in DAS28-ESR after MSC (negative = improvement), "
                "the form in which single-arm trials such as Park 2018 report it. Without a "
                "control group, regression to the mean and background therapy are not separated "
                "from any effect of MSC."
            ),
        ),
        AnalysisSpec(
            name="acr20_msc_vs_control_w4",
            title="ACR20 response, MSC versus placebo or usual care, at 4 weeks",
            kind="two_group_binary",
            outcome="ACR20",
            higher_is="better",
            outcome_label="ACR20 response",
            timepoint_weeks=4,
            experimental=_MSC,
            control=_CONTROL,
            measure="RR",
            comparison="MSC versus placebo or DMARDs without MSC (controlled trials only)",
            rationale=(
                "The only randomised comparison of MSC with placebo on ACR20 that reports numbers; "
                "dose cohorts are merged against the shared placebo arm."
            ),
        ),
        AnalysisSpec(
            name="any_ae_msc_vs_control",
            title="Patients with at least one adverse event, MSC versus placebo or usual care",
            kind="two_group_binary",
            outcome="any_AE",
            higher_is="worse",
            outcome_label="risk of an adverse event",
            timepoint_weeks=None,
            experimental=_MSC,
            control=_CONTROL,
            measure="RR",
            comparison="MSC versus placebo or DMARDs without MSC (controlled trials only)",
            rationale=(
                "Safety: patients with at least one adverse event over the follow-up, where both "
                "arms are counted. Shadmanfar 2018 reports none in its MSC arm but no count for "
                "placebo, so it cannot contribute a comparison."
            ),
        ),
        AnalysisSpec(
            name="acr20_ifng_addon_w12",
            title="ACR20 response, MSC + IFN-γ versus MSC alone, at 12 weeks",
            kind="two_group_binary",
            outcome="ACR20",
            higher_is="better",
            outcome_label="ACR20 response",
            timepoint_weeks=12,
            experimental=("msc_plus_ifng",),
            control=_MSC,
            measure="RR",
            comparison="MSC + interferon-γ versus MSC alone (an add-on comparison, not MSC vs control)",
            rationale=(
                "He 2020 randomised MSC with or without IFN-γ; both arms received MSC, so this "
                "comparison is about IFN-γ and is kept apart from MSC-versus-control analyses. "
                "Completers only (30 of 32 and 30 of 31 randomised); counts derived from percentages."
            ),
        ),
        AnalysisSpec(
            name="das28_change_ifng_addon_w12",
            title="Change in DAS28-ESR, MSC + IFN-γ versus MSC alone, at 12 weeks",
            kind="two_group_mean",
            outcome="DAS28_ESR",
            higher_is="worse",
            outcome_label="DAS28-ESR",
            timepoint_weeks=12,
            experimental=("msc_plus_ifng",),
            control=_MSC,
            measure="MD",
            comparison="MSC + interferon-γ versus MSC alone (an add-on comparison, not MSC vs control)",
            rationale=(
                "Mean difference in the change from baseline of DAS28-ESR between the arms of "
                "He 2020 (SDs as labelled in its Table 2)."
            ),
        ),
    )
}


def _effect_sizes(inp: AnalysisInput) -> EffectSizes:
    spec = MEASURES[inp.spec.measure]
    cols: dict[str, Any] = {a: inp.frame[a].to_numpy(dtype=float) for a in spec.arguments}
    return effect_sizes(inp.spec.measure, labels=inp.frame["study"].to_numpy(), **cols)


def _overlaps(records: TrialRecords, ids: list[str]) -> list[tuple[str, str]]:
    pairs = []
    st = records.studies.set_index("study_id")
    for a in ids:
        text = st.loc[a, "overlaps_with"]
        for b in [p.strip() for p in str(text or "").split(";")]:
            if b in ids and b != a and (b, a) not in pairs:
                pairs.append((a, b))
    return pairs


def recorded_conflicts(records: TrialRecords, row_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The outcome rows among ``row_ids`` that another source contradicts.

    Parameters
    ----------
    records : TrialRecords
        The records.
    row_ids : iterable of str
        ``outcomes.row_id`` values (e.g. an analysis's ``source_rows``).

    Returns
    -------
    list of dict
        One dict per row with a non-empty ``conflicts`` cell, in the order of
        the records: its ``row_id``, ``study_id``, ``outcome``, ``arm_id``,
        ``value_text``, ``denominator`` and ``conflicts`` (``source_id: quote``
        entries separated by ``;``).

    Examples
    --------
    >>> from msc_meta.datasets import load_msc_ra
    >>> [c["study_id"] for c in recorded_conflicts(load_msc_ra(), ["shadmanfar2018_any_ae_msc_count"])]
    ['shadmanfar2018']
    """
    wanted = set(row_ids)
    out = records.outcomes
    if "conflicts" not in out:
        return []
    hit = out[out["row_id"].isin(wanted) & out["conflicts"].notna()]
    cols = ["row_id", "study_id", "outcome", "arm_id", "value_text", "denominator", "conflicts"]
    return [{c: row[c] for c in cols} for _, row in hit.iterrows()]


def run_analysis(
    spec: AnalysisSpec | str,
    records: TrialRecords | None = None,
    *,
    method: str | None = None,
    test: str | None = None,
    level: float = 0.95,
) -> AnalysisResult:
    """Run one analysis (a name of :data:`ANALYSES` or an :class:`AnalysisSpec`).

    Parameters
    ----------
    spec : AnalysisSpec or str
        The analysis.
    records : TrialRecords, optional
        Defaults to the bundled MSC-RA records.
    method : str, optional
        Override the analysis's τ² estimator.
    test : str, optional
        Override the analysis's test of the pooled estimate.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    AnalysisResult
        The specification, the input built from the records, the effect sizes,
        the meta-analysis result and the notes (k, designs, conversions,
        studies not contributing, overlaps).

    Raises
    ------
    MetaAnalysisError
        Unknown analysis, or no study can contribute.

    Warns
    -----
    FewStudiesWarning
        k below :data:`SMALL_K` (and, from :func:`~msc_meta.meta_analysis`, k = 1).
    OverlapWarning
        Two contributing studies may report the same patients.
    ConflictingSourcesWarning
        A number the analysis uses is contradicted by another source
        (``outcomes.conflicts``); the analysis runs, and the note and the
        report's caveat name the row and the source.

    Examples
    --------
    >>> import warnings, msc_meta as mm
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", mm.FewStudiesWarning)
    ...     res = run_analysis("acr20_ifng_addon_w12")
    >>> res.k, round(float(res.result.transform(res.result.estimate)), 3)
    (1, 1.75)
    """
    if isinstance(spec, str):
        if spec not in ANALYSES:
            raise MetaAnalysisError(
                f"analysis {spec!r} is not pre-specified; valid: {', '.join(ANALYSES)}"
            )
        spec = ANALYSES[spec]
    if records is None:
        records = load_msc_ra()
    inp = analysis_input(records, spec)
    if inp.k == 0:
        raise MetaAnalysisError(
            f"analysis {spec.name!r}: no study reports {spec.outcome} at {_when(spec.timepoint_weeks)} "
            "for this comparison; excluded: "
            + "; ".join(f"{r.study_id} ({r.reason})" for r in inp.excluded.itertuples())
        )
    notes: list[str] = []
    if 1 < inp.k < SMALL_K:
        msg = (
            f"{spec.name}: k = {inp.k} studies; tau^2 and its interval are poorly estimated and "
            "the pooled interval is wide. Read the study rows, not only the pooled estimate."
        )
        warnings.warn(msg, FewStudiesWarning, stacklevel=2)
        notes.append(msg)
    elif inp.k == 1:
        notes.append(
            f"{spec.name}: a single study; the 'pooled' estimate is that study's estimate."
        )
    designs = sorted(set(inp.frame["design"]))
    if spec.kind.startswith("single_group"):
        notes.append(
            "Single-group estimate: it describes outcomes after MSC, not an effect of MSC "
            f"(designs: {', '.join(designs)})."
        )
    converted = [
        f"{r.study}: {r.conversions}" for r in inp.frame.itertuples() if r.conversions != "none"
    ]
    if converted:
        notes.append("Conversions: " + " | ".join(converted))
    if len(inp.excluded):
        notes.append(
            "Not contributing: "
            + "; ".join(f"{r.study_id} ({r.reason})" for r in inp.excluded.itertuples())
        )
    for a, b in _overlaps(records, list(inp.frame["study_id"])):
        msg = f"{spec.name}: {a} and {b} may report overlapping patients; they are pooled as independent"
        warnings.warn(msg, OverlapWarning, stacklevel=2)
        notes.append(msg)
    used = ";".join(inp.frame["source_rows"]).split(";")
    for c in recorded_conflicts(records, used):
        msg = (
            f"{spec.name}: row {c['row_id']} of {c['study_id']} ({c['outcome']} = "
            f"{c['value_text']}) is contradicted by another source: {c['conflicts']}"
        )
        warnings.warn(msg, ConflictingSourcesWarning, stacklevel=2)
        notes.append(msg)
    es = _effect_sizes(inp)
    res = meta_analysis(es, method=method or spec.method, test=test or spec.test, level=level)
    return AnalysisResult(spec=spec, input=inp, effect_sizes=es, result=res, notes=tuple(notes))
