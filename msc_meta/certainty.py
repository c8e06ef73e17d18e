"""Certainty of evidence (GRADE): ratings with their reasons, and summary-of-findings tables.

:func:`rate_certainty` rates one pre-specified analysis (an
:class:`~msc_meta.analyses.AnalysisResult`) with the GRADE approach: a starting
level by design, then one step per domain (risk of bias, inconsistency,
indirectness, imprecision, publication bias), each a small documented rule in
:data:`GRADE_RULES` that returns a :class:`GradeStep` with its downgrade and a
reason written out with the numbers. A curator can replace any step with a
recorded judgement (:func:`read_judgements`, a small CSV); the rating then
shows both the rule's result and the curator's, with the reason.

:func:`summary_of_findings` puts the ratings of several analyses in a GRADE
summary-of-findings table (a :class:`SummaryOfFindings`): outcome, comparison,
studies, patients, design, the effect with its interval, the anticipated
absolute effects per 1000 where there is a control risk, the certainty and
its reasons, and one neutral sentence on what the data show.

The rules are deliberately explicit so that a reader can check each step.
GRADE is a structured judgement, not an algorithm (GRADE 3, Balshem et al.
2011): where a rule's mechanical answer is not the right judgement, record a
curator override with its reason rather than change the rule silently.

References
----------
.. [1] Balshem H, Helfand M, Schünemann HJ, et al. (2011). GRADE guidelines:
   3. Rating the quality of evidence. J Clin Epidemiol 64(4):401-406.
.. [2] Guyatt GH, Oxman AD, Vist G, et al. (2011). GRADE guidelines: 4. Rating
   the quality of evidence—study limitations (risk of bias). J Clin Epidemiol
   64(4):407-415.
.. [3] Guyatt GH, Oxman AD, Montori V, et al. (2011). GRADE guidelines: 5.
   Rating the quality of evidence—publication bias. J Clin Epidemiol
   64(12):1277-1282.
.. [4] Guyatt GH, Oxman AD, Kunz R, et al. (2011). GRADE guidelines: 6. Rating
   the quality of evidence—imprecision. J Clin Epidemiol 64(12):1283-1293.
.. [5] Guyatt GH, Oxman AD, Kunz R, et al. (2011). GRADE guidelines: 7. Rating
   the quality of evidence—inconsistency. J Clin Epidemiol 64(12):1294-1302.
.. [6] Guyatt GH, Oxman AD, Kunz R, et al. (2011). GRADE guidelines: 8. Rating
   the quality of evidence—indirectness. J Clin Epidemiol 64(12):1303-1310.
.. [7] Guyatt GH, Oxman AD, Santesso N, et al. (2013). GRADE guidelines: 12.
   Preparing summary of findings tables—binary outcomes. J Clin Epidemiol
   66(2):158-172.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from ._errors import MetaAnalysisError
from ._format import interval, number, percent
from ._templates import TEMPLATES
from ._validation import is_missing
from .analyses import ANALYSES, AnalysisResult
from .bias import MIN_STUDIES
from .caveats import study_labels, words
from .effects import measure_info
from .records import RecordError, TrialRecords
from .results import MetaAnalysisResult, Summary
from .risk_of_bias import LEVEL_RANK, OVERALL, rob_tool
from .running import ReportEntry

__all__ = [
    "CERTAINTY_LEVELS",
    "GRADE_RULES",
    "JUDGEMENTS_FILE",
    "JUDGEMENT_COLUMNS",
    "LEVEL_MEANING",
    "OUTCOME_DIRECTNESS",
    "ROB_TOOL_SCOPE",
    "SOF_COLUMNS",
    "CertaintyRating",
    "CertaintySettings",
    "GradeRule",
    "GradeStep",
    "Judgement",
    "JudgementError",
    "OutcomeDirectness",
    "SummaryOfFindings",
    "absolute_effects",
    "certainty_level",
    "rate_certainty",
    "read_judgements",
    "resolve_judgements",
    "summary_of_findings",
]

CertaintyLevel = Literal["high", "moderate", "low", "very low"]

#: The four GRADE levels, from the lowest (1 point) to the highest (4 points).
CERTAINTY_LEVELS: tuple[CertaintyLevel, ...] = ("very low", "low", "moderate", "high")

#: What each level means (GRADE 3, Balshem et al. 2011, Table 2).
LEVEL_MEANING: Mapping[str, str] = MappingProxyType(
    {
        "high": "we are very confident that the true effect lies close to the estimate",
        "moderate": (
            "the true effect is likely to be close to the estimate, but it may be "
            "substantially different"
        ),
        "low": "the true effect may be substantially different from the estimate",
        "very low": "the true effect is likely to be substantially different from the estimate",
    }
)

#: Share of the analysis weight, in percent, above which studies "carry most of the weight"
#: (GRADE 4: rate down when most of the relevant evidence comes from studies at high risk).
#: Shares are compared with a tolerance of :data:`SHARE_TOLERANCE`, so that two studies
#: of equal weight (50% each) are not split by floating-point rounding.
MAJORITY = 50.0
#: Tolerance (percentage points) of the comparisons of weight shares with :data:`MAJORITY`:
#: weights are normalised sums of floats, so 50% may come out as 49.999999999999993 or
#: 50.000000000000007. A share counts as above the majority when it exceeds
#: ``MAJORITY + SHARE_TOLERANCE``; k = 2 equal weights therefore never decide alone.
SHARE_TOLERANCE = 1e-9
#: The curator's judgements file read from the records' folder when no judgements are
#: given (:func:`rate_certainty`, :func:`summary_of_findings`, and the report).
JUDGEMENTS_FILE = "grade_judgements.csv"
#: I² (percent) from which inconsistency is serious (Cochrane Handbook 10.10.2: 50-90%
#: "may represent substantial heterogeneity").
I2_SERIOUS = 50.0
#: I² (percent) from which inconsistency is very serious, when the lower limit of its
#: interval is also at least :data:`I2_SERIOUS` (Cochrane Handbook: 75-100% "considerable").
I2_VERY_SERIOUS = 75.0
#: p-value of Egger's test below which small-study effects count as publication bias
#: suspected (Egger et al. 1997 used 0.10 for the test's low power).
EGGER_ALPHA = 0.10


class JudgementError(RecordError):
    """A problem in a curator's judgements file (a :class:`~msc_meta.records.RecordError`).

    Parameters
    ----------
    file : str
        The file (e.g. ``grade_judgements.csv``).
    problem : str
        What is wrong and what is allowed.
    line : int, optional
        The line of the file (1 is the header), when the problem is in a row.
    column : str, optional
        The column, when the problem is in a field.
    row_id : str, optional
        The identifier of the row, shown in the message.
    """


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CertaintySettings:
    """The stated inputs of the imprecision rule's optimal information size (GRADE 6).

    Attributes
    ----------
    relative_risk_reduction : float, default 0.25
        The relative change a binary outcome's OIS is powered to detect (GRADE 6
        uses a 25% relative risk reduction as its default).
    standardized_effect : float, default 0.2
        The effect (in standard deviations) a continuous outcome's OIS is
        powered to detect (0.2: Cohen's "small" effect).
    alpha : float, default 0.05
        Two-sided type I error of the OIS power calculation.
    power : float, default 0.8
        Power of the OIS calculation (GRADE 6: β = 0.2).
    """

    relative_risk_reduction: float = 0.25
    standardized_effect: float = 0.2
    alpha: float = 0.05
    power: float = 0.8

    def __post_init__(self) -> None:
        for name in ("relative_risk_reduction", "alpha", "power"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise MetaAnalysisError(f"{name}={value!r} must lie strictly between 0 and 1")
        if not self.standardized_effect > 0:
            raise MetaAnalysisError(
                f"standardized_effect={self.standardized_effect!r} must be positive"
            )


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class GradeStep:
    """One step of a GRADE rating.

    Attributes
    ----------
    domain : str
        A key of :data:`GRADE_RULES` (``"design"``, ``"risk_of_bias"``, ...).
    downgrade : int
        For ``"design"``, the starting level in points (4 high, 2 low); for
        the other domains 0, -1 or -2 levels. When overridden, the curator's.
    reason : str
        Why, in full sentences with the numbers. When overridden, the curator's.
    overridden : bool
        Whether a curator's judgement replaced the rule's result.
    rule_downgrade : int
        What the rule gave.
    rule_reason : str
        The rule's reason.
    source : str
        Who made the override and on what basis (empty when not overridden).
    assessed : bool
        False when the rule could not judge the domain (k = 1 for inconsistency,
        fewer than 10 studies for publication bias, studies without a
        risk-of-bias assessment): the step did not downgrade, and the reason
        says why. Such steps are footnoted in the summary of findings.
    """

    domain: str
    downgrade: int
    reason: str
    overridden: bool = False
    rule_downgrade: int = 0
    rule_reason: str = ""
    source: str = ""
    assessed: bool = True

    @property
    def label(self) -> str:
        """The domain in words (e.g. ``"Risk of bias"``)."""
        return GRADE_RULES[self.domain].name

    @property
    def rule_judgement(self) -> str:
        """What the rule gave, in words: the starting level for ``"design"``, else the downgrade."""
        if self.domain == "design":
            return CERTAINTY_LEVELS[self.rule_downgrade - 1]
        return str(self.rule_downgrade)

    @property
    def judgement(self) -> str:
        """The step in words: the starting level, or "not serious", "serious", "very serious"."""
        if self.domain == "design":
            return f"starts {CERTAINTY_LEVELS[self.downgrade - 1]}"
        if not self.assessed and self.downgrade == 0:
            # imprecision without an OIS was still judged on its interval
            return (
                "not serious (interval only)"
                if self.domain == "imprecision"
                else ("not assessable")
            )
        return {0: "not serious", -1: "serious (-1)", -2: "very serious (-2)"}[self.downgrade]


@dataclass(frozen=True)
class _Context:
    """What every rule reads: the analysis, its studies and the settings."""

    analysis: AnalysisResult
    records: TrialRecords
    settings: CertaintySettings

    @property
    def result(self) -> MetaAnalysisResult:
        return self.analysis.result

    @property
    def frame(self) -> pd.DataFrame:
        return self.analysis.input.frame

    @property
    def single_group(self) -> bool:
        return self.analysis.spec.kind.startswith("single_group")

    @property
    def binary(self) -> bool:
        return self.analysis.spec.kind in ("single_group_proportion", "two_group_binary")

    def weights(self) -> dict[str, float]:
        """Study id → weight in percent (0 for a study the fit left out)."""
        by_label = dict(zip(self.result.labels, self.result.weights, strict=True))
        return {
            str(r.study_id): float(by_label.get(str(r.study), 0.0))
            for r in self.frame.itertuples()
        }

    def patients(self) -> int:
        """Patients in the analysis: the sum of the analysed arms' n."""
        cols = ["n"] if self.single_group else ["n_t", "n_c"]
        return int(sum(int(self.frame[c].sum()) for c in cols))

    def label(self, study_id: str) -> str:
        return self.labels.get(study_id, study_id)

    @functools.cached_property
    def labels(self) -> dict[str, str]:
        """Study id to label (:func:`~msc_meta.caveats.study_labels`), built once."""
        return study_labels(self.records)


#: What a rule returns: the downgrade (or starting points), the reason, and whether the
#: domain could be judged at all.
_Outcome = tuple[int, str, bool]


@dataclass(frozen=True)
class GradeRule:
    """One GRADE domain: its rule, its name and where GRADE defines it.

    Attributes
    ----------
    name : str
        The domain in words.
    function : callable
        ``(context) -> (downgrade, reason, assessed)``; ``assessed`` is false when
        the domain could not be judged (e.g. k = 1, or no risk-of-bias assessment).
    reference : str
        The GRADE guideline the rule follows.
    """

    name: str
    function: Callable[[_Context], _Outcome]
    reference: str


# --------------------------------------------------------------------------- the rules


def _design(ctx: _Context) -> _Outcome:
    """Starting level: randomised comparisons start high; the rest start low (GRADE 3).

    A single-group analysis (arms used as one group, even arms of randomised
    trials) starts low: it has no comparison with a control group. A two-group
    analysis starts high when every study is randomised (``studies.randomised``
    is ``yes``), otherwise low, naming the studies that are not.

    A non-randomised comparison therefore starts low, and a ROBINS-I
    "Serious" overall judgement then rates it down again in
    :func:`_risk_of_bias`: confounding is counted twice. GRADE 18
    (Schünemann et al., J Clin Epidemiol 2019;111:105-114) starts such
    evidence high when risk of bias is assessed with ROBINS-I, so that
    ROBINS-I alone rates it down. This rule keeps the GRADE 3 start (a
    choice, documented here and in the methods page); a curator who follows
    GRADE 18 records a ``design`` judgement of ``high`` for the analysis,
    with that reason, and the override shows beside the rule's "low".
    """
    designs = _design_words(ctx)
    if ctx.single_group:
        return (
            2,
            (
                f"Starts low: a single-group estimate (designs: {designs}) without a comparison "
                "with a control group; non-comparative evidence starts low in GRADE."
            ),
            True,
        )
    st = ctx.records.studies.set_index("study_id")
    not_rand = [
        ctx.label(s) for s in ctx.frame["study_id"] if str(st.loc[s, "randomised"]) != "yes"
    ]
    if not not_rand:
        return (
            4,
            f"Starts high: every study is a randomised comparison (designs: {designs}).",
            True,
        )
    return (
        2,
        (
            f"Starts low: {', '.join(not_rand)} not randomised (or allocation unclear); "
            f"non-randomised comparisons start low (designs: {designs})."
        ),
        True,
    )


#: Which analyses each risk-of-bias tool speaks to: ``"comparison"`` tools (RoB 2,
#: ROBINS-I) for two-group analyses, ``"single_group"`` tools (the NIH case-series tool)
#: for single-group ones. A test checks that every tool of
#: :data:`msc_meta.risk_of_bias.ROB_TOOLS` is listed.
ROB_TOOL_SCOPE: Mapping[str, Literal["comparison", "single_group"]] = MappingProxyType(
    {"RoB 2": "comparison", "ROBINS-I": "comparison", "NIH case series": "single_group"}
)


#: Level of a study whose only assessments use a tool that does not fit the analysis
#: (:data:`ROB_TOOL_SCOPE`): it counts as not assessed, and its assessment is shown.
_NOT_FITTING = "not assessed (tool does not fit)"


def _only_missing_information(ctx: _Context, study_id: str, tool: str, comparison: str) -> str:
    """The non-low domains of one assessment, named, when all of them lack information.

    Empty when the assessment has a domain at some concerns or worse, or no domain rows.
    """
    rob = ctx.records.risk_of_bias
    rows = rob[
        (rob["study_id"] == study_id)
        & (rob["tool"] == tool)
        & (rob["comparison"] == comparison)
        & (rob["domain"] != OVERALL)
    ]
    spec = rob_tool(tool)
    non_low = [
        (str(r.domain), spec.level(str(r.domain), str(r.judgement)))
        for r in rows.itertuples()
        if spec.level(str(r.domain), str(r.judgement)) not in ("low", "not_applicable")
    ]
    if not non_low or any(level != "no_information" for _, level in non_low):
        return ""
    return ", ".join(f"{d} ({spec.domains[d].lower()})" for d, _ in non_low)


def _study_rob(ctx: _Context, study_id: str) -> tuple[str, str]:
    """(common-scale level or "not assessed", what was read) of one study's overall judgement.

    Only assessments with a tool that fits the analysis (:data:`ROB_TOOL_SCOPE`)
    count; a study assessed only with another tool is :data:`_NOT_FITTING` and
    its assessment is described for information. An overall "some concerns" (or
    ROBINS-I "moderate") whose non-low domains all have no information counts as
    "no information" (RoB 2's overall rule never returns "No information", so
    missing information would otherwise never rate down); the text names those
    domains.
    """
    rob = ctx.records.risk_of_bias
    rows = rob[(rob["study_id"] == study_id) & (rob["domain"] == OVERALL)]
    if rows.empty:
        return "not assessed", "not assessed"
    scope = "single_group" if ctx.single_group else "comparison"
    fitting = rows[rows["tool"].map(lambda t: ROB_TOOL_SCOPE.get(str(t)) == scope)]
    if fitting.empty:
        other = "; ".join(
            f"{r.tool} overall '{r.judgement}' ({r.comparison})" for r in rows.itertuples()
        )
        return _NOT_FITTING, other
    found: list[tuple[float, str, str]] = []
    for r in fitting.itertuples():
        level = str(rob_tool(str(r.tool)).level(OVERALL, str(r.judgement)))
        text = f"{r.tool} overall '{r.judgement}' ({r.comparison})"
        if level == "some_concerns":
            missing = _only_missing_information(ctx, study_id, str(r.tool), str(r.comparison))
            if missing:
                level = "no_information"
                text += (
                    f", counted as no information: its non-low domains all have no "
                    f"information ({missing})"
                )
        rank = LEVEL_RANK[level]
        # no information sits between some concerns and high; not applicable below low
        severity = (
            float(rank) if rank is not None else (1.5 if level == "no_information" else -1.0)
        )
        found.append((severity, level, text))
    worst = max(found, key=lambda f: f[0])
    more = "; the most serious of several" if len(found) > 1 else ""
    return worst[1], worst[2] + more


def _above_majority(share: float) -> bool:
    """Whether a weight share (percent) is more than :data:`MAJORITY`, robust to rounding."""
    return share > MAJORITY + SHARE_TOLERANCE


def _risk_of_bias(ctx: _Context) -> _Outcome:
    """Risk of bias by the weight of the studies at each overall level (GRADE 4).

    Each study's overall judgement is read from the risk-of-bias table, only
    from a tool that fits the analysis (:data:`ROB_TOOL_SCOPE`: for a two-group
    analysis RoB 2 or ROBINS-I, for a single-group one a case-series tool; the
    most serious when there are several). Downgrade 2 when studies at critical
    risk carry more than :data:`MAJORITY` percent of the weight; 1 when
    studies at high (serious) or critical risk, or with no information, do;
    otherwise 0. Shares are compared with :data:`SHARE_TOLERANCE`, so two
    studies of equal weight (50% each) are never "more than half".

    An overall "Some concerns" (ROBINS-I "Moderate") whose non-low domains
    all have no information counts as "no information" here, and the reason
    names those domains: RoB 2's overall rule gives "Some concerns" for
    missing information, which the rule would otherwise never rate down.

    A study without an assessment, or assessed only with a tool that does not
    fit the analysis (e.g. RoB 2 for a single-group estimate built from
    randomised arms), is "not assessed": it does not downgrade, the step is
    marked not assessed (footnoted), and the reason says how much weight was
    not assessed; an assessment with another tool is shown for information.

    The rule does not change the starting level: a non-randomised comparison
    starts low (:func:`_design`) and a ROBINS-I "Serious" then rates it down
    again, so serious confounding is counted twice. GRADE 18 (Schünemann et
    al., J Clin Epidemiol 2019;111:105-114) instead starts such evidence high
    when ROBINS-I is used and lets ROBINS-I's risk of bias rate it down. Here
    the simpler GRADE 3 start is kept; a curator who follows GRADE 18 records
    a ``design`` judgement of ``high`` with that reason
    (:func:`read_judgements`), and the override shows beside the rule.
    """
    weights = ctx.weights()
    shares: dict[str, float] = {}
    parts = []
    shown: list[str] = []
    shown_ids: list[str] = []
    for sid, w in weights.items():
        level, text = _study_rob(ctx, sid)
        if level == _NOT_FITTING:
            shown.append(f"{ctx.label(sid)}: {text}, {percent(w)} of the weight")
            shown_ids.append(sid)
            level = "not assessed"
        else:
            parts.append(f"{ctx.label(sid)}: {text}, {percent(w)} of the weight")
        shares[level] = shares.get(level, 0.0) + w
    critical = shares.get("critical", 0.0)
    serious = critical + shares.get("high", 0.0) + shares.get("no_information", 0.0)
    missing = shares.get("not assessed", 0.0)
    listing = "; ".join(parts) + "." if parts else ""
    upper = (
        f"Risk of bias was not assessed for {percent(missing)} of the weight: this step "
        "did not downgrade for it, so the rating is an upper bound for this domain."
    )
    if shown:
        rob = ctx.records.risk_of_bias
        tools = sorted({str(t) for t in rob.loc[rob["study_id"].isin(shown_ids), "tool"]})
        kind = "a single-group estimate" if ctx.single_group else "a two-group comparison"
        other = "the randomised comparisons" if ctx.single_group else "single groups"
        who = "" if not parts else f" for {', '.join(ctx.label(i) for i in shown_ids)}"
        note = (
            f"risk of bias of {kind} was not assessed{who}; the {' and '.join(tools)} "
            f"assessments of {other} are shown for information: {'; '.join(shown)}."
        )
        if not parts:
            return 0, f"Not assessed: {note} {upper}", False
        listing += f" For information, {note}"
    if _above_majority(critical):
        return (
            -2,
            f"Studies at critical risk carry {percent(critical)} of the weight. {listing}",
            True,
        )
    if _above_majority(serious):
        return (
            -1,
            (
                f"Studies at high (serious) risk or with no information carry {percent(serious)} "
                f"of the weight. {listing}"
            ),
            True,
        )
    text = (
        f"Studies at high risk or with no information carry {percent(serious)} of the weight "
        f"(not more than {percent(MAJORITY)}). {listing}"
    )
    if missing > 0:
        text += f" {upper}"
    return 0, text, missing == 0


def _inconsistency(ctx: _Context) -> _Outcome:
    """Inconsistency from I² and its Q-profile interval (GRADE 7).

    Not assessable with one study. Otherwise downgrade 2 when I² ≥
    :data:`I2_VERY_SERIOUS` and the lower limit of its interval ≥
    :data:`I2_SERIOUS` (large and unlikely to be chance), 1 when I² ≥
    :data:`I2_SERIOUS`, else 0. With two studies I² compares two estimates
    and its interval usually spans almost 0-100%: the point estimate decides,
    and the reason says how wide the interval is.
    """
    res = ctx.result
    if res.k == 1:
        return 0, "Not assessable: a single study (k = 1); inconsistency cannot be judged.", False
    lo, hi = res.i2_ci
    shown = f"I² = {percent(res.i2)} [{percent(lo)}, {percent(hi)}] with k = {res.k}"
    if res.k == 2:
        shown += (
            " (with two studies I² compares two estimates and its interval is read as "
            "uninformative; the point estimate decides)"
        )
    if res.i2 >= I2_VERY_SERIOUS and lo >= I2_SERIOUS:
        return -2, f"Very serious: {shown}; large and its interval excludes modest values.", True
    if res.i2 >= I2_SERIOUS:
        return -1, f"Serious: {shown}, at least {percent(I2_SERIOUS)}.", True
    return 0, f"Not serious: {shown}, below {percent(I2_SERIOUS)}.", True


@dataclass(frozen=True)
class OutcomeDirectness:
    """How directly an outcome measures what matters to patients.

    Attributes
    ----------
    kind : str
        ``"disease activity"``, ``"function"``, ``"harm"`` or ``"laboratory marker"``.
    surrogate : bool
        Whether the outcome is a surrogate (rated down for indirectness).
    note : str
        Why.
    """

    kind: str
    surrogate: bool
    note: str


_ACTIVITY = OutcomeDirectness(
    "disease activity",
    False,
    "a validated composite of disease activity (joint counts, patient-reported components "
    "and an acute-phase reactant), the core outcome of RA trials",
)
_FUNCTION = OutcomeDirectness("function", False, "patient-reported physical function")
_HARM = OutcomeDirectness("harm", False, "adverse events experienced by patients")
_LAB = OutcomeDirectness(
    "laboratory marker",
    True,
    "a laboratory or immunological marker, a surrogate for outcomes patients experience",
)

#: Outcome (``outcomes.outcome`` of the records) → its directness (GRADE 8: surrogate
#: outcomes are rated down). Disease-activity composites (ACR, EULAR, DAS28) are the core
#: outcomes of RA trials and are not rated down as surrogates; laboratory markers are.
#: An outcome missing here is not judged by the rule (the reason says so).
OUTCOME_DIRECTNESS: Mapping[str, OutcomeDirectness] = MappingProxyType(
    {
        **{
            k: _ACTIVITY
            for k in (
                "ACR20",
                "ACR50",
                "ACR70",
                "EULAR_good_moderate",
                "DAS28",
                "DAS28_ESR",
                "DAS28_ESR_LDA",
                "DAS28_ESR_remission",
            )
        },
        **{k: _FUNCTION for k in ("HAQ", "HAQ_DI")},
        **{
            k: _HARM
            for k in (
                "any_AE",
                "AE_events",
                "grade3_AE",
                "grade3_AE_events",
                "serious_AE",
                "serious_AE_events",
                "serious_grade3_AE_events",
                "serious_AE_leading_to_discontinuation",
            )
        },
        **{k: _LAB for k in ("ESR", "CRP", "RF", "anti_CCP", "IL6", "TNF_alpha", "Treg")},
    }
)


def _addon(ctx: _Context) -> list[str]:
    """Studies in which both sides of the comparison received MSC (``arms.msc`` true)."""
    spec = ctx.analysis.spec
    arms = ctx.records.arms
    out = []
    for sid in ctx.frame["study_id"]:
        mine = arms[arms["study_id"] == sid]
        exp = mine[mine["arm_type"].isin(spec.experimental)]
        ctl = mine[mine["arm_type"].isin(spec.control)]
        if len(exp) and len(ctl) and bool(exp["msc"].all()) and bool(ctl["msc"].all()):
            out.append(ctx.label(str(sid)))
    return out


def _indirectness(ctx: _Context) -> _Outcome:
    """Indirectness: add-on comparisons, single-group designs, surrogate outcomes (GRADE 8).

    Three sources, each serious: (1) an add-on comparison, in which both sides
    received MSC (``arms.msc``), so the comparison is about the add-on and not
    MSC against no MSC; (2) a single-group estimate, which describes outcomes
    after MSC and is not an effect; (3) a surrogate outcome per
    :data:`OUTCOME_DIRECTNESS`. Downgrade 1 for one source, 2 for two or more.
    """
    spec = ctx.analysis.spec
    found: list[str] = []
    addon = [] if ctx.single_group else _addon(ctx)
    if addon:
        a, c = spec.arm_names
        found.append(
            f"an add-on comparison ({a} versus {c} in {', '.join(addon)}): both sides received "
            "MSC, so it estimates the effect of the add-on, not of MSC against no MSC"
        )
    if ctx.single_group:
        found.append(
            "a single-group estimate: it describes outcomes after MSC, not a comparison with "
            "patients who did not receive it"
        )
    outcome = OUTCOME_DIRECTNESS.get(spec.outcome)
    if outcome is not None and outcome.surrogate:
        found.append(f"a surrogate outcome ({spec.outcome}: {outcome.note})")
    if outcome is None:
        about = f"The outcome {spec.outcome} is not in OUTCOME_DIRECTNESS and was not judged."
    else:
        about = f"Outcome {spec.outcome}: {outcome.note}."
    if not found:
        return 0, f"Not serious: a direct comparison of the intervention. {about}", True
    level = -1 if len(found) == 1 else -2
    word = "Serious" if level == -1 else "Very serious"
    return level, f"{word}: {'; '.join(found)}. {about}", True


def _ois(ctx: _Context) -> tuple[float, str]:
    """The optimal information size (total patients) and how it was computed."""
    s = ctx.settings
    if ctx.binary:
        if ctx.single_group:
            p_ref = float(ctx.result.transform(ctx.result.estimate))
            basis = "the pooled proportion"
        else:
            risks = ctx.frame["events_c"] / ctx.frame["n_c"]
            p_ref = float(np.median(risks))
            basis = "the median control-arm risk"
            if not 0 < p_ref < 1:
                f = ctx.frame
                events = int(f["events_t"].sum() + f["events_c"].sum())
                n = int(f["n_t"].sum() + f["n_c"].sum())
                basis = (
                    f"the pooled risk across all arms ({events}/{n}; the median control-arm "
                    f"risk is {p_ref:g}, at which no OIS exists)"
                )
                p_ref = events / n
        p_alt = p_ref * (1 - s.relative_risk_reduction)
        if not 0 < p_ref < 1:
            return math.nan, (
                f"the OIS could not be computed: {basis} is {p_ref:g}, and a power "
                "calculation needs a reference risk strictly between 0 and 1"
            )
        h = abs(float(proportion_effectsize(p_alt, p_ref)))
        n1 = float(NormalIndPower().solve_power(h, alpha=s.alpha, power=s.power, ratio=1.0))
        text = (
            f"OIS {2 * math.ceil(n1)} patients (two groups, {basis} {p_ref:.3f}, a "
            f"{percent(100 * s.relative_risk_reduction)} relative reduction, α = {s.alpha:g}, "
            f"power {s.power:g}; statsmodels NormalIndPower)"
        )
    else:
        n1 = float(
            TTestIndPower().solve_power(
                s.standardized_effect, alpha=s.alpha, power=s.power, ratio=1.0
            )
        )
        text = (
            f"OIS {2 * math.ceil(n1)} patients (two groups, an effect of "
            f"{s.standardized_effect:g} SD, α = {s.alpha:g}, power {s.power:g}; statsmodels "
            "TTestIndPower)"
        )
    return float(2 * math.ceil(n1)), text


def _imprecision(ctx: _Context) -> _Outcome:
    """Imprecision: the interval against no effect and the patients against the OIS (GRADE 6).

    Two checks: (a) the confidence interval includes the null (no difference;
    not applicable to a single-group proportion, which has no null); (b) the
    total number of patients is below the optimal information size, the size
    of a two-arm trial powered (``power``, two-sided ``alpha``) to detect a
    ``relative_risk_reduction`` from the reference risk (binary: the median
    control-arm risk; for a single-group proportion, the pooled proportion) or
    a ``standardized_effect`` (continuous). Downgrade 1 for one failed check,
    2 for both. The reason states k and the total patients.

    When the median control-arm risk is 0 or 1 (no events, or only events, in
    the control arms) no OIS exists at that risk: the pooled risk across all
    arms of the analysis (events over patients, both groups) is used instead,
    and the reason says so. When that is also 0 or 1 (or a single-group
    proportion is), the OIS could not be computed: the judgement rests on the
    interval alone, the reason says so and the step is marked not fully
    assessed (``assessed=False``), so it is footnoted.
    """
    res, spec = ctx.result, ctx.analysis.spec
    lo, hi = (float(res.transform(x)) for x in (res.ci_low, res.ci_high))
    est = float(res.transform(res.estimate))
    info = measure_info(spec.measure)
    null = spec.null_value
    total = ctx.patients()
    ois, ois_text = _ois(ctx)
    pct = f"{percent(100 * res.level)} CI"
    problems: list[str] = []
    ci_text = f"{info.short_name} {number(est, 2)}, {pct} {interval(lo, hi, 2)}"
    if null is None:
        ci_text += " (no null value for a single-group proportion)"
    elif lo <= null <= hi:
        problems.append(f"the interval includes no difference ({number(null, 0)})")
    else:
        ci_text += f", excluding no difference ({number(null, 0)})"
    if math.isnan(ois):
        ois_part = f"{ois_text}; the judgement rests on the interval alone"
    elif total < ois:
        problems.append(f"{total} patients are fewer than the {ois_text}")
        ois_part = ""
    else:
        ois_part = f"{total} patients meet the {ois_text}"
    head = f"{ci_text}; k = {res.k}, {total} patients"
    tail = f" ({ois_part})" if ois_part else ""
    assessed = not math.isnan(ois)
    if not problems:
        return 0, f"Not serious: {head}{tail}.", assessed
    level = -1 if len(problems) == 1 else -2
    word = "Serious" if level == -1 else "Very serious"
    return level, f"{word}: {'; '.join(problems)}. {head}{tail}.", assessed


def _publication_bias(ctx: _Context) -> _Outcome:
    """Publication bias: Egger's test from :data:`~msc_meta.bias.MIN_STUDIES` studies (GRADE 5).

    With fewer studies, not assessable (the test has too little power), stated,
    no downgrade. Otherwise downgrade 1 when Egger's regression test gives
    p < :data:`EGGER_ALPHA`.
    """
    res = ctx.result
    if res.k < MIN_STUDIES:
        return (
            0,
            (
                f"Not assessable: k = {res.k}, fewer than {MIN_STUDIES} studies; tests of "
                "small-study effects have too little power, so publication bias could not be "
                "judged (not rated down)."
            ),
            False,
        )
    test = res.egger_test()
    p = f"p = {number(test.pvalue, 3)}"
    if test.pvalue < EGGER_ALPHA:
        return (
            -1,
            f"Suspected: Egger's test for funnel-plot asymmetry gives {p} (k = {res.k}).",
            True,
        )
    return 0, f"Not detected: Egger's test gives {p} (k = {res.k}).", True


#: The GRADE domains, in the order of a rating, each with its rule (see each function's
#: docstring) and the guideline it follows.
GRADE_RULES: Mapping[str, GradeRule] = MappingProxyType(
    {
        "design": GradeRule("Study design", _design, "GRADE 3: Balshem et al. 2011"),
        "risk_of_bias": GradeRule("Risk of bias", _risk_of_bias, "GRADE 4: Guyatt et al. 2011"),
        "inconsistency": GradeRule("Inconsistency", _inconsistency, "GRADE 7: Guyatt et al. 2011"),
        "indirectness": GradeRule("Indirectness", _indirectness, "GRADE 8: Guyatt et al. 2011"),
        "imprecision": GradeRule("Imprecision", _imprecision, "GRADE 6: Guyatt et al. 2011"),
        "publication_bias": GradeRule(
            "Publication bias", _publication_bias, "GRADE 5: Guyatt et al. 2011"
        ),
    }
)


# --------------------------------------------------------------------------- overrides

#: Columns of a judgements file (:func:`read_judgements`).
JUDGEMENT_COLUMNS = ("analysis", "domain", "downgrade", "reason", "source")

_START_WORDS: Mapping[str, int] = MappingProxyType({"high": 4, "low": 2})


@dataclass(frozen=True)
class Judgement:
    """A curator's judgement that replaces one rule's result for one analysis.

    Attributes
    ----------
    analysis : str
        The analysis name.
    domain : str
        A key of :data:`GRADE_RULES`.
    downgrade : int
        0, -1 or -2; for ``"design"`` the starting level in points (4 high, 2 low).
    reason : str
        Why.
    source : str
        Who judged, and on what basis.
    """

    analysis: str
    domain: str
    downgrade: int
    reason: str
    source: str


def _judgement_frame(judgements: str | os.PathLike[str] | pd.DataFrame, file: str) -> pd.DataFrame:
    if isinstance(judgements, pd.DataFrame):
        return judgements.astype(object).where(judgements.notna(), "")
    path = Path(judgements)
    if not path.is_file():
        raise JudgementError(file, f"file not found at {path}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise JudgementError(file, f"cannot be read as UTF-8 CSV: {exc}") from None


def read_judgements(
    judgements: str | os.PathLike[str] | pd.DataFrame,
    *,
    analyses: Sequence[str] | None = None,
) -> tuple[Judgement, ...]:
    """Read and check a curator's judgements file (GRADE overrides).

    Parameters
    ----------
    judgements : str, path or pandas.DataFrame
        A CSV with the columns :data:`JUDGEMENT_COLUMNS`: ``analysis`` (a name),
        ``domain`` (a key of :data:`GRADE_RULES`), ``downgrade`` (``0``, ``-1``
        or ``-2``; for ``design`` the starting level ``high`` or ``low``),
        ``reason`` (required) and ``source`` (who judged, on what basis;
        required). A header-only file is valid and overrides nothing.
    analyses : sequence of str, optional
        The analysis names allowed (default: those of
        :data:`msc_meta.analyses.ANALYSES`).

    Returns
    -------
    tuple of Judgement
        One per row.

    Raises
    ------
    JudgementError
        A missing column, an unknown analysis or domain, a downgrade out of
        range, an empty reason or source, or a second judgement of the same
        analysis and domain; the message names the file, line and column.

    References
    ----------
    .. [1] Balshem H, et al. (2011). GRADE guidelines: 3. Rating the quality of
       evidence. J Clin Epidemiol 64(4):401-406.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"analysis": ["acr20_ifng_addon_w12"], "domain": ["imprecision"],
    ...                       "downgrade": ["-2"], "reason": ["one small trial"],
    ...                       "source": ["curator A, 2026"]})
    >>> read_judgements(table)[0].downgrade
    -2
    """
    file = "judgements" if isinstance(judgements, pd.DataFrame) else Path(judgements).name
    frame = _judgement_frame(judgements, file)
    missing = [c for c in JUDGEMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise JudgementError(
            file, f"missing column(s) {', '.join(missing)}; needs {', '.join(JUDGEMENT_COLUMNS)}"
        )
    allowed = list(ANALYSES) if analyses is None else list(analyses)
    out: list[Judgement] = []
    seen: dict[tuple[str, str], int] = {}
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2
        cells = {c: str(row[c]).strip() for c in JUDGEMENT_COLUMNS}
        name, domain, down = cells["analysis"], cells["domain"], cells["downgrade"]
        if name not in allowed:
            raise JudgementError(
                file,
                f"analysis {name!r} is unknown; allowed: {', '.join(allowed)}",
                line=line,
                column="analysis",
            )
        if domain not in GRADE_RULES:
            raise JudgementError(
                file,
                f"domain {domain!r} is unknown; allowed: {', '.join(GRADE_RULES)}",
                line=line,
                column="domain",
            )
        if domain == "design":
            if down not in _START_WORDS:
                raise JudgementError(
                    file,
                    f"downgrade {down!r} is not a starting level; for domain 'design' give "
                    "'high' or 'low'",
                    line=line,
                    column="downgrade",
                )
            value = _START_WORDS[down]
        else:
            if down not in ("0", "-1", "-2"):
                raise JudgementError(
                    file,
                    f"downgrade {down!r} is out of range; give 0, -1 or -2",
                    line=line,
                    column="downgrade",
                )
            value = int(down)
        for col in ("reason", "source"):
            if not cells[col] or cells[col].lower() == "nan":
                raise JudgementError(
                    file, f"the {col} is empty; every judgement needs one", line=line, column=col
                )
        key = (name, domain)
        if key in seen:
            raise JudgementError(
                file,
                f"{name} / {domain} is judged twice (first on line {seen[key]})",
                line=line,
                column="domain",
            )
        seen[key] = line
        out.append(Judgement(name, domain, value, cells["reason"], cells["source"]))
    return tuple(out)


# --------------------------------------------------------------------------- the rating


def certainty_level(start: int, downgrades: Sequence[int]) -> CertaintyLevel:
    """The GRADE level from a starting level and the downgrades, floored at very low.

    Parameters
    ----------
    start : int
        Starting points: 4 (high, randomised) or 2 (low, non-randomised).
    downgrades : sequence of int
        The domains' downgrades (0, -1, -2 each).

    Returns
    -------
    {"high", "moderate", "low", "very low"}
        The level.

    References
    ----------
    .. [1] Balshem H, et al. (2011). GRADE guidelines: 3. Rating the quality of
       evidence. J Clin Epidemiol 64(4):401-406.

    Examples
    --------
    >>> certainty_level(4, [-1, 0, -1])
    'low'
    >>> certainty_level(2, [-2, -1])
    'very low'
    """
    if start not in (1, 2, 3, 4):
        raise MetaAnalysisError(f"start={start!r} must be 1 to 4 points (very low to high)")
    bad = [d for d in downgrades if d not in (0, -1, -2)]
    if bad:
        raise MetaAnalysisError(f"downgrades {bad} are out of range; each is 0, -1 or -2")
    return CERTAINTY_LEVELS[max(1, start + sum(downgrades)) - 1]


@dataclass(frozen=True)
class CertaintyRating:
    """A GRADE rating of one analysis, with the reason for each step.

    Attributes
    ----------
    analysis : str
        The analysis name.
    outcome : str
        The outcome in words, with its time point.
    comparison : str
        What was compared.
    level : {"high", "moderate", "low", "very low"}
        The certainty.
    steps : tuple of GradeStep
        The starting level and each domain's step, in :data:`GRADE_RULES` order.
    k : int
        Studies.
    patients : int
        Patients analysed.
    settings : CertaintySettings
        The inputs of the optimal information size.
    judgements_source : str
        Where the curator judgements came from: ``"grade_judgements.csv beside
        the records"`` (the default file), the path given, ``"a table
        (DataFrame)"`` or ``"Judgement objects"``; empty when none were given
        or found.
    """

    analysis: str
    outcome: str
    comparison: str
    level: CertaintyLevel
    steps: tuple[GradeStep, ...]
    k: int
    patients: int
    settings: CertaintySettings = field(default_factory=CertaintySettings)
    judgements_source: str = ""

    @property
    def judgements(self) -> str:
        """Whether curator judgements were applied, and from which file, in words."""
        return _judgements_line(self.judgements_source, sum(s.overridden for s in self.steps))

    def step(self, domain: str) -> GradeStep:
        """The step of one domain.

        Parameters
        ----------
        domain : str
            A key of :data:`GRADE_RULES`.

        Returns
        -------
        GradeStep
            Its step.
        """
        for s in self.steps:
            if s.domain == domain:
                return s
        raise MetaAnalysisError(f"domain={domain!r} is unknown; allowed: {', '.join(GRADE_RULES)}")

    @property
    def reasons(self) -> tuple[str, ...]:
        """The footnotes: the start and every step that downgraded, was overridden or not assessed."""
        out = []
        for s in self.steps:
            if s.domain == "design" or s.downgrade != 0 or s.overridden or not s.assessed:
                note = f"{s.label}: {s.reason}"
                if s.overridden:
                    note += (
                        f" [curator override ({s.source}); the rule gave {s.rule_judgement}: "
                        f"{s.rule_reason}]"
                    )
                out.append(note)
        return tuple(out)

    def to_frame(self) -> pd.DataFrame:
        """One row per step: domain, judgement, downgrade, reason, override columns."""
        return pd.DataFrame(
            [
                {
                    "domain": s.domain,
                    "judgement": s.judgement,
                    "downgrade": s.downgrade,
                    "reason": s.reason,
                    "overridden": s.overridden,
                    "rule_downgrade": s.rule_downgrade,
                    "rule_reason": s.rule_reason,
                    "source": s.source,
                }
                for s in self.steps
            ]
        )

    def summary(self) -> Summary:
        """Text and HTML summary: the level, then each step with its reason."""
        table = pd.DataFrame(
            {
                "judgement": [
                    s.judgement + (" (override)" if s.overridden else "") for s in self.steps
                ],
                "reason": [s.reason for s in self.steps],
            },
            index=[s.label for s in self.steps],
        )
        notes = tuple(
            f"{s.label}: curator override ({s.source}); the rule gave {s.rule_judgement}: "
            f"{s.rule_reason}"
            for s in self.steps
            if s.overridden
        )
        return Summary(
            title=f"Certainty of evidence (GRADE): {self.analysis}",
            lines=(
                ("Outcome", self.outcome),
                ("Comparison", self.comparison),
                ("Studies, patients", f"k = {self.k}, {self.patients} patients"),
                ("Certainty", f"{self.level}: {LEVEL_MEANING[self.level]}"),
                ("Curator judgements", self.judgements),
            ),
            table=table,
            notes=notes,
        )

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return f"<CertaintyRating {self.analysis}: {self.level}, k={self.k}>"

    def _repr_html_(self) -> str:
        return TEMPLATES.get_template("certainty_rating.html.j2").render(
            rating=self, meaning=LEVEL_MEANING[self.level], judgements=self.judgements
        )


def _as_analysis(item: AnalysisResult | ReportEntry) -> AnalysisResult | None:
    return item.analysis if isinstance(item, ReportEntry) else item


#: How :func:`rate_certainty` and :func:`summary_of_findings` accept judgements.
_JudgementInput = str | os.PathLike[str] | pd.DataFrame | Sequence[Judgement] | None


def resolve_judgements(
    judgements: _JudgementInput, records: TrialRecords, analyses: Sequence[str] = ()
) -> tuple[tuple[Judgement, ...], str]:
    """The curator judgements to apply, read and checked, and where they came from.

    The one place that says where judgements come from: :func:`rate_certainty`,
    :func:`summary_of_findings` and the report call it.

    Parameters
    ----------
    judgements : str, path, DataFrame, sequence of Judgement or None
        ``None`` reads :data:`JUDGEMENTS_FILE` from the records' folder if it
        is there; an empty sequence (``()``) means no judgements; a file or a
        table is read with :func:`read_judgements`.
    records : TrialRecords
        The records the analyses ran on (their folder is where the default
        file is looked for).
    analyses : sequence of str, default ()
        Names of analyses allowed beside those of
        :data:`~msc_meta.analyses.ANALYSES`.

    Returns
    -------
    tuple
        The judgements, and where they came from (``""`` when there are none).

    Raises
    ------
    JudgementError
        A bad judgements file or table (:func:`read_judgements`).
    """
    allowed = [*ANALYSES, *analyses]
    if judgements is None:
        beside = None if records.path is None else Path(records.path) / JUDGEMENTS_FILE
        if beside is None or not beside.is_file():
            return (), ""
        found = read_judgements(beside, analyses=allowed)
        return found, f"{JUDGEMENTS_FILE} beside the records"
    if isinstance(judgements, (str, os.PathLike)):
        return read_judgements(judgements, analyses=allowed), str(judgements)
    if isinstance(judgements, pd.DataFrame):
        return read_judgements(judgements, analyses=allowed), "a table (DataFrame)"
    given = tuple(judgements)
    return given, ("Judgement objects" if given else "")


def _judgements_line(source: str, applied: int) -> str:
    """Whether curator judgements were applied, and from where, in one sentence."""
    if not source:
        return "none applied"
    if applied:
        return f"{applied} step{'s' if applied != 1 else ''} overridden, from {source}"
    return f"read from {source}; none concerns this analysis"


def rate_certainty(
    analysis: AnalysisResult | ReportEntry,
    records: TrialRecords,
    *,
    judgements: _JudgementInput = None,
    settings: CertaintySettings | None = None,
) -> CertaintyRating:
    """Rate the certainty of one analysis with the GRADE rules, and any curator overrides.

    Parameters
    ----------
    analysis : AnalysisResult or ReportEntry
        A pre-specified analysis that ran (:func:`~msc_meta.analyses.run_analysis`
        or an entry of :func:`~msc_meta.running.run_all`).
    records : TrialRecords
        The records it was run on (designs, arms, risk-of-bias table).
    judgements : str, path, DataFrame or sequence of Judgement, optional
        Curator overrides (:func:`read_judgements`); those of other analyses
        are ignored. By default (``None``) :data:`JUDGEMENTS_FILE` is read
        from the records' folder (``records.path``) when it is there, so the
        bundled records are rated with their curators' judgements; ``()``
        applies none. The rating says which file it used.
    settings : CertaintySettings, optional
        The optimal-information-size inputs (defaults: 25% relative risk
        reduction, 0.2 SD, α 0.05, power 0.8).

    Returns
    -------
    CertaintyRating
        The level and every step with its reason.

    Raises
    ------
    MetaAnalysisError
        A report entry whose analysis did not run; (as :class:`JudgementError`)
        a bad judgements file.

    Notes
    -----
    The level is the starting level (4 points for randomised comparisons, 2
    otherwise) plus the downgrades of the five domains, floored at 1 (very
    low); each rule is documented in :data:`GRADE_RULES`. Rating up (large
    effect, dose-response, plausible confounding; GRADE 9) is not automated:
    with these rules nothing is rated up.

    References
    ----------
    .. [1] Balshem H, et al. (2011). GRADE guidelines: 3. Rating the quality of
       evidence. J Clin Epidemiol 64(4):401-406.
    .. [2] Guyatt GH, et al. (2011). GRADE guidelines 4-8. J Clin Epidemiol
       64(4):407-415 and 64(12):1277-1310.

    Examples
    --------
    >>> import warnings, msc_meta as mm
    >>> from msc_meta.analyses import run_analysis
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", mm.FewStudiesWarning)
    ...     res = run_analysis("acr20_ifng_addon_w12")
    >>> rating = rate_certainty(res, mm.datasets.load_msc_ra())
    >>> rating.step("indirectness").downgrade
    -1
    """
    res = _as_analysis(analysis)
    if res is None:
        assert isinstance(analysis, ReportEntry)
        raise MetaAnalysisError(
            f"analysis {analysis.name!r} did not run ({analysis.error}); it cannot be rated"
        )
    parsed, source = resolve_judgements(judgements, records, [res.spec.name])
    return _rate(res, records, parsed, source, settings)


def _rate(
    res: AnalysisResult,
    records: TrialRecords,
    judgements: Sequence[Judgement],
    source: str,
    settings: CertaintySettings | None,
) -> CertaintyRating:
    """:func:`rate_certainty` with the judgements already read."""
    ctx = _Context(res, records, settings or CertaintySettings())
    name = res.spec.name
    overrides = {j.domain: j for j in judgements if j.analysis == name}
    steps = []
    for domain, rule in GRADE_RULES.items():
        down, reason, assessed = rule.function(ctx)
        j = overrides.get(domain)
        if j is None:
            step = GradeStep(domain, down, reason, False, down, reason, "", assessed)
        else:
            step = GradeStep(domain, j.downgrade, j.reason, True, down, reason, j.source)
        steps.append(step)
    level = certainty_level(steps[0].downgrade, [s.downgrade for s in steps[1:]])
    spec = res.spec
    when = (
        "end of follow-up" if spec.timepoint_weeks is None else f"{spec.timepoint_weeks:g} weeks"
    )
    return CertaintyRating(
        analysis=name,
        outcome=f"{spec.outcome_label or spec.outcome.replace('_', ' ')} at {when}",
        comparison=spec.comparison,
        level=level,
        steps=tuple(steps),
        k=res.k,
        patients=ctx.patients(),
        settings=ctx.settings,
        judgements_source=source,
    )


# --------------------------------------------------------------------------- absolute effects


def absolute_effects(
    measure: str, assumed_risk: float, estimate: float, ci_low: float, ci_high: float
) -> tuple[float, float, float]:
    """Corresponding risks per 1000 from an assumed control risk and a relative effect.

    Parameters
    ----------
    measure : {"RR", "OR", "RD"}
        The measure of the effect (display scale: a ratio, or a difference).
    assumed_risk : float
        The control risk, a proportion in [0, 1].
    estimate : float
        The effect on the display scale (a ratio for RR and OR).
    ci_low : float
        The lower limit of its interval.
    ci_high : float
        The upper limit.

    Returns
    -------
    tuple of float
        The corresponding risk per 1000 and its interval (unrounded).

    Notes
    -----
    RR: ``ACR = AR × RR``; OR: ``ACR = OR × AR / (1 − AR + OR × AR)``; RD:
    ``ACR = AR + RD`` (GRADE 12, Guyatt et al. 2013), times 1000. A risk
    cannot exceed 1000 per 1000 (nor, for RD, fall below 0): a ratio or
    difference that would carry the assumed risk beyond is capped there, as
    happens with a high control risk and a wide interval. The summary of
    findings marks a capped value in its text and in the column
    ``corresponding_capped``.

    References
    ----------
    .. [1] Guyatt GH, Oxman AD, Santesso N, et al. (2013). GRADE guidelines: 12.
       Preparing summary of findings tables—binary outcomes. J Clin Epidemiol
       66(2):158-172.

    Examples
    --------
    >>> [round(x) for x in absolute_effects("RR", 0.479, 0.46, 0.34, 0.63)]
    [220, 163, 302]
    """
    est, lo, hi = (
        1000 * min(max(_uncapped_risk(measure, assumed_risk, x), 0.0), 1.0)
        for x in (estimate, ci_low, ci_high)
    )
    return est, lo, hi


def _uncapped_risk(measure: str, assumed_risk: float, x: float) -> float:
    """The corresponding risk (a proportion) of one ratio or difference, before the cap."""
    if not 0 <= assumed_risk <= 1:
        raise MetaAnalysisError(f"assumed_risk={assumed_risk!r} must lie in [0, 1]")
    if measure == "RR":
        return assumed_risk * x
    if measure == "OR":
        return x * assumed_risk / (1 - assumed_risk + x * assumed_risk)
    if measure == "RD":
        return assumed_risk + x
    raise MetaAnalysisError(f"measure={measure!r} has no absolute effect; use RR, OR or RD")


def _capped(measure: str, assumed_risk: float, x: float) -> bool:
    """Whether :func:`absolute_effects` capped this value at 0 or 1000 per 1000."""
    return not 0.0 <= _uncapped_risk(measure, assumed_risk, x) <= 1.0


def _per_1000_difference(
    assumed: float,
    lo: float,
    est: float,
    hi: float,
    *,
    capped: tuple[bool, bool, bool] = (False, False, False),
) -> str:
    """GRADE's wording: '259 fewer per 1000 (from 316 fewer to 177 fewer)'.

    ``capped`` flags (estimate, lower, upper) values that :func:`absolute_effects`
    capped at 0 or 1000 per 1000; each is marked, e.g. "to 429 more (capped at
    1000 per 1000)".
    """

    def word(x: float, cap: bool) -> str:
        d = round(x - assumed)
        text = f"{abs(d)} {'more' if d > 0 else 'fewer'}" if d else "0 more"
        return f"{text} (capped at {round(x)} per 1000)" if cap else text

    c_est, c_lo, c_hi = capped
    return f"{word(est, c_est)} per 1000 (from {word(lo, c_lo)} to {word(hi, c_hi)})"


# --------------------------------------------------------------------------- the table

#: Columns of :meth:`SummaryOfFindings.to_frame`, in order.
SOF_COLUMNS = (
    "analysis",
    "outcome",
    "comparison",
    "k",
    "patients",
    "design",
    "effect",
    "measure",
    "estimate",
    "ci_low",
    "ci_high",
    "assumed_risk_per_1000",
    "corresponding_risk_per_1000",
    "corresponding_ci_low_per_1000",
    "corresponding_ci_high_per_1000",
    "corresponding_capped",
    "risk_difference",
    "assumed_risk_basis",
    "certainty",
    "reasons",
    "what_the_data_show",
)


@dataclass(frozen=True)
class SummaryOfFindings:
    """A GRADE summary-of-findings table.

    Attributes
    ----------
    ratings : tuple of CertaintyRating
        One per analysis that ran, in order.
    rows : tuple of dict
        The table rows (full precision), keys :data:`SOF_COLUMNS`.
    skipped : tuple of (str, str)
        Analyses that could not be fitted, with the reason.
    judgements_source : str
        Where the curator judgements came from (see
        :attr:`CertaintyRating.judgements_source`); empty when none.
    """

    ratings: tuple[CertaintyRating, ...]
    rows: tuple[Mapping[str, Any], ...]
    skipped: tuple[tuple[str, str], ...] = ()
    judgements_source: str = ""

    @property
    def judgements(self) -> str:
        """Whether curator judgements were applied, and from which file, in words."""
        applied = sum(s.overridden for r in self.ratings for s in r.steps)
        return _judgements_line(self.judgements_source, applied).replace(
            "this analysis", "these analyses"
        )

    def to_frame(self) -> pd.DataFrame:
        """The table: one row per analysis, columns :data:`SOF_COLUMNS`."""
        return pd.DataFrame([dict(r) for r in self.rows], columns=list(SOF_COLUMNS))

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as CSV (UTF-8), with its ``certainty`` and ``reasons`` columns.

        Parameters
        ----------
        path : str or path
            The file.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        out = Path(path)
        self.to_frame().to_csv(out, index=False, encoding="utf-8")
        return out

    def summary(self) -> Summary:
        """Text and HTML summary of the table."""
        frame = self.to_frame()
        table = frame[["outcome", "k", "patients", "effect", "risk_difference", "certainty"]]
        table = table.set_index(frame["analysis"])
        return Summary(
            title="Summary of findings (GRADE)",
            lines=(
                ("Analyses", f"{len(self.rows)} rated, {len(self.skipped)} not fitted"),
                ("Curator judgements", self.judgements),
            ),
            table=table,
            notes=tuple(f"{n}: not fitted ({r})" for n, r in self.skipped),
        )

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return f"<SummaryOfFindings: {len(self.rows)} analyses, {len(self.skipped)} skipped>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The table as an HTML fragment (Jinja2 template), footnotes under it."""
        frame = self.to_frame()
        rows = []
        footnotes: list[str] = []
        for rating, r in zip(self.ratings, frame.to_dict("records"), strict=True):
            marks = []
            for reason in rating.reasons:
                footnotes.append(f"{rating.analysis}: {reason}")
                marks.append(str(len(footnotes)))
            shown = {k: _cell(v) for k, v in r.items()}
            has_risk = not math.isnan(float(r["assumed_risk_per_1000"]))
            shown["assumed_risk_text"] = (
                f"{round(float(r['assumed_risk_per_1000']))} ({r['assumed_risk_basis']})"
                if has_risk
                else "no control risk"
            )
            has_acr = not math.isnan(float(r["corresponding_risk_per_1000"]))
            shown["corresponding_text"] = (
                f"{round(float(r['corresponding_risk_per_1000']))} "
                f"({round(float(r['corresponding_ci_low_per_1000']))} to "
                f"{round(float(r['corresponding_ci_high_per_1000']))}): {r['risk_difference']}"
                if has_acr
                else str(r["risk_difference"])
            )
            rows.append({**shown, "marks": ",".join(marks)})
        return TEMPLATES.get_template("summary_of_findings.html.j2").render(
            rows=rows, footnotes=footnotes, skipped=self.skipped, judgements=self.judgements
        )


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:g}"
    return "" if is_missing(v) else str(v)


def _design_words(ctx: _Context) -> str:
    """The designs of the analysis' studies in words, sorted, each once."""
    return ", ".join(sorted({words(d) for d in ctx.frame["design"]}))


def _designs(ctx: _Context) -> str:
    n_rand = sum(
        str(ctx.records.studies.set_index("study_id").loc[s, "randomised"]) == "yes"
        for s in ctx.frame["study_id"]
    )
    kind = "single group" if ctx.single_group else "two groups"
    return f"{kind}; {n_rand} of {len(ctx.frame)} randomised ({_design_words(ctx)})"


def _absolute_row(ctx: _Context, measure: str, est: float, lo: float, hi: float) -> dict[str, Any]:
    """The absolute-effect columns of a two-group binary analysis (GRADE 12).

    The assumed risk is the median control-arm risk. When it is 0 or 1 (no
    events, or only events, in the control arms) a ratio (RR, OR) gives no
    absolute effect: every corresponding risk would equal the assumed one.
    GRADE 12 then suggests the pooled risk difference; an RD analysis has one
    and is shown as usual, a ratio analysis is "not estimable from the control
    arms" (NaN corresponding risks, the reason in ``risk_difference``).
    """
    f = ctx.frame
    k = len(f)
    arms = ", ".join(f"{int(e)}/{int(n)}" for e, n in zip(f["events_c"], f["n_c"], strict=True))
    assumed = float(np.median(f["events_c"] / f["n_c"]))
    per = 1000 * assumed
    basis = (
        f"median control-arm risk of the {k} {'study' if k == 1 else 'studies'} ({arms}); GRADE 12"
    )
    if assumed in (0.0, 1.0) and measure != "RD":
        what = "no events" if assumed == 0 else "every patient had the event"
        return {
            "assumed_risk_per_1000": per,
            "risk_difference": f"not estimable from the control arms ({what})",
            "assumed_risk_basis": (
                f"{basis}. With a control risk of {round(per)} per 1000 a {measure} gives no "
                "absolute effect; GRADE 12 suggests the pooled risk difference, which this "
                f"analysis ({measure}) does not estimate"
            ),
        }
    acr = absolute_effects(measure, assumed, est, lo, hi)
    capped = (
        _capped(measure, assumed, est),
        _capped(measure, assumed, lo),
        _capped(measure, assumed, hi),
    )
    return {
        "assumed_risk_per_1000": per,
        "corresponding_risk_per_1000": acr[0],
        "corresponding_ci_low_per_1000": acr[1],
        "corresponding_ci_high_per_1000": acr[2],
        "corresponding_capped": any(capped),
        "risk_difference": _per_1000_difference(per, acr[1], acr[0], acr[2], capped=capped),
        "assumed_risk_basis": basis,
    }


def _row(res: AnalysisResult, rating: CertaintyRating, records: TrialRecords) -> dict[str, Any]:
    ctx = _Context(res, records, rating.settings)
    r, spec = res.result, res.spec
    info = measure_info(spec.measure)
    est, lo, hi = (float(r.transform(x)) for x in (r.estimate, r.ci_low, r.ci_high))
    ci_name = f"{percent(100 * r.level)} CI"
    effect = f"{info.short_name} {number(est, 2)} ({ci_name} {number(lo, 2)} to {number(hi, 2)})"
    row: dict[str, Any] = {
        "analysis": spec.name,
        "outcome": rating.outcome,
        "comparison": spec.comparison,
        "k": r.k,
        "patients": rating.patients,
        "design": _designs(ctx),
        "effect": effect,
        "measure": spec.measure,
        "estimate": est,
        "ci_low": lo,
        "ci_high": hi,
        "assumed_risk_per_1000": math.nan,
        "corresponding_risk_per_1000": math.nan,
        "corresponding_ci_low_per_1000": math.nan,
        "corresponding_ci_high_per_1000": math.nan,
        "corresponding_capped": False,
        "risk_difference": "",
        "assumed_risk_basis": "",
        "certainty": rating.level,
        "reasons": " | ".join(rating.reasons),
    }
    if spec.kind == "two_group_binary" and spec.measure in ("RR", "OR", "RD"):
        row.update(_absolute_row(ctx, spec.measure, est, lo, hi))
    null = spec.null_value
    includes = null is not None and lo <= null <= hi
    design = "single-group estimate" if ctx.single_group else "comparison"
    sentence = (
        f"{r.k} {'study' if r.k == 1 else 'studies'} ({rating.patients} patients, {design}): "
        f"{effect}"
    )
    if null is not None:
        sentence += (
            "; the interval includes no difference"
            if includes
            else ("; the interval excludes no difference")
        )
    sentence += f". Certainty {rating.level}: {LEVEL_MEANING[rating.level]}."
    row["what_the_data_show"] = sentence
    return row


def summary_of_findings(
    results: Sequence[AnalysisResult | ReportEntry],
    records: TrialRecords,
    *,
    judgements: _JudgementInput = None,
    settings: CertaintySettings | None = None,
) -> SummaryOfFindings:
    """The GRADE summary-of-findings table of several analyses.

    Parameters
    ----------
    results : sequence of AnalysisResult or ReportEntry
        The analyses (e.g. :func:`~msc_meta.running.run_all`'s entries). An
        entry whose analysis could not be fitted is skipped with its reason.
    records : TrialRecords
        The records they were run on.
    judgements : str, path, DataFrame or sequence of Judgement, optional
        Curator overrides (:func:`read_judgements`). By default (``None``)
        :data:`JUDGEMENTS_FILE` is read from the records' folder when it is
        there (as :func:`rate_certainty` and the report do); ``()`` applies
        none. The table says which file it used.
    settings : CertaintySettings, optional
        The optimal-information-size inputs.

    Returns
    -------
    SummaryOfFindings
        ``to_frame()``, ``to_csv(path)``, ``to_html()``.

    Notes
    -----
    For two-group binary analyses (RR, OR, RD) the anticipated absolute
    effects are given per 1000: the assumed risk is the median control-arm
    risk across the studies (GRADE 12: "the median control group risk across
    studies"), the corresponding risk and its interval follow from the
    relative effect (:func:`absolute_effects`). A limit capped at 0 or 1000
    per 1000 is marked in the text ("to 429 more (capped at 1000 per 1000)")
    and in the column ``corresponding_capped``. When the assumed risk is 0 or
    1 (no events, or only events, in the control arms), a ratio gives no
    absolute effect: the corresponding risks are NaN and ``risk_difference``
    says "not estimable from the control arms (no events)"; an RD analysis,
    the pooled risk difference GRADE 12 suggests, is shown as usual.

    Curator judgements are read from :data:`JUDGEMENTS_FILE` in the records'
    folder by default, as :func:`rate_certainty` does, so the table matches
    the report's; :attr:`SummaryOfFindings.judgements` says whether any were
    applied and from which file.

    References
    ----------
    .. [1] Guyatt GH, Oxman AD, Santesso N, et al. (2013). GRADE guidelines: 12.
       Preparing summary of findings tables—binary outcomes. J Clin Epidemiol
       66(2):158-172.

    Examples
    --------
    >>> import msc_meta as mm
    >>> from msc_meta.running import run_all
    >>> sof = summary_of_findings(run_all(analyses=["acr20_ifng_addon_w12"]),
    ...                           mm.datasets.load_msc_ra())
    >>> sof.to_frame()["certainty"].tolist()[0] in CERTAINTY_LEVELS
    True
    """
    items = list(results)
    names = [i.spec.name for i in items]
    parsed, source = resolve_judgements(judgements, records, names)
    ratings, rows, skipped = [], [], []
    for item in items:
        res = _as_analysis(item)
        if res is None:
            assert isinstance(item, ReportEntry)
            skipped.append((item.name, str(item.error)))
            continue
        rating = _rate(res, records, parsed, source, settings)
        ratings.append(rating)
        rows.append(_row(res, rating, records))
    return SummaryOfFindings(tuple(ratings), tuple(rows), tuple(skipped), source)
