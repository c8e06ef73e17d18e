"""Risk-of-bias tools: their domains and judgement vocabularies, in one registry.

A risk-of-bias table (``risk_of_bias.csv`` of a set of records) holds one row
per study × domain, with the tool, the judgement *in the tool's own words*,
the support for it and its source. This module is the single place that
knows, for each tool, which domains it has, in which order, which words a
judgement may use, which of them means "the sources say nothing", and how each
word ranks on a common scale (used to colour figures and by the GRADE rules).

``ROB_TOOLS`` maps a tool name to a :class:`RobTool`. Adding a tool touches
this file only: the records validation, the figures and the certainty rules
read the registry.

References
----------
.. [1] Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for
   assessing risk of bias in randomised trials. BMJ 366:l4898.
.. [2] Sterne JAC, Hernán MA, Reeves BC, et al. (2016). ROBINS-I: a tool for
   assessing risk of bias in non-randomised studies of interventions.
   BMJ 355:i4919.
.. [3] National Heart, Lung, and Blood Institute. Study Quality Assessment
   Tools: Quality Assessment Tool for Case Series Studies.
   https://www.nhlbi.nih.gov/health-topics/study-quality-assessment-tools
.. [4] McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization (robvis):
   an R package and Shiny web app for visualizing risk-of-bias assessments.
   Res Synth Methods 12(1):55-61.
.. [5] Higgins JPT, Savović J, Page MJ, Elbers RG, Sterne JAC (2022). Chapter 8:
   Assessing risk of bias in a randomized trial. In: Cochrane Handbook for
   Systematic Reviews of Interventions, version 6.3, Table 8.2.b.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ._errors import MetaAnalysisError, MetaAnalysisWarning

#: The common scale every tool's words are placed on (for colours and GRADE).
#: ``"low"`` < ``"some_concerns"`` < ``"high"`` < ``"critical"``; the other
#: two are not on the ordinal scale.
RobLevel = Literal["low", "some_concerns", "high", "critical", "no_information", "not_applicable"]

#: Ordinal rank of each level; ``None`` for levels off the scale.
LEVEL_RANK: Mapping[str, int | None] = MappingProxyType(
    {
        "low": 0,
        "some_concerns": 1,
        "high": 2,
        "critical": 3,
        "no_information": None,
        "not_applicable": None,
    }
)

#: The name of the overall-judgement domain in every tool.
OVERALL = "overall"


@dataclass(frozen=True)
class RobTool:
    """One risk-of-bias (or quality) tool.

    Attributes
    ----------
    name : str
        The tool's name as written in a risk-of-bias table.
    applies_to : str
        The designs the tool is for.
    domains : mapping of str to str
        Domain code → domain name, in the tool's order; ``"overall"`` last.
    judgements : mapping of str to str
        The words a domain judgement may use → their :data:`RobLevel`.
    overall_judgements : mapping of str to str
        The words the overall judgement may use → their level (the same as
        ``judgements`` except for tools whose overall rating has its own
        vocabulary, e.g. the NIH tool's good/fair/poor).
    no_information : str
        The word the tool uses when the sources say nothing about a domain.
    reference : str
        Where the tool is defined.
    """

    name: str
    applies_to: str
    domains: Mapping[str, str]
    judgements: Mapping[str, RobLevel]
    overall_judgements: Mapping[str, RobLevel]
    no_information: str
    reference: str

    def level(self, domain: str, judgement: str) -> RobLevel:
        """The common-scale level of ``judgement`` in ``domain``.

        Raises
        ------
        RobError
            If the domain is not one of the tool's, or the word is not in its
            vocabulary (the message lists the allowed ones).
        """
        if domain not in self.domains:
            raise RobError(
                f"domain={domain!r} is not a domain of {self.name}; "
                f"allowed: {', '.join(self.domains)}"
            )
        vocab = self.overall_judgements if domain == OVERALL else self.judgements
        if judgement not in vocab:
            raise RobError(
                f"judgement={judgement!r} is not a {self.name} judgement for domain "
                f"{domain!r}; allowed: {', '.join(vocab)}"
            )
        return vocab[judgement]


class RobError(MetaAnalysisError):
    """A risk-of-bias table names an unknown tool, domain or judgement."""


class RobToolWarning(MetaAnalysisWarning):
    """A study is assessed with a tool other than the one its design calls for.

    See :func:`tool_for_design`. The assessment is kept; the warning makes the
    choice visible.
    """


def tool_for_design(randomised: bool, controlled: bool) -> str:
    """The tool a study's design calls for (a key of :data:`ROB_TOOLS`).

    Parameters
    ----------
    randomised : bool
        Whether the comparison is randomised.
    controlled : bool
        Whether the study has a control group.

    Returns
    -------
    str
        ``"RoB 2"`` for a randomised comparison, ``"ROBINS-I"`` for a
        non-randomised controlled one, ``"NIH case series"`` for a study
        without a control group.

    References
    ----------
    .. [1] Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for
       Systematic Reviews of Interventions, version 6.4 (2023), chapters 8
       (RoB 2) and 25 (ROBINS-I).
    """
    if randomised:
        return "RoB 2"
    if controlled:
        return "ROBINS-I"
    return "NIH case series"


class RobOverallWarning(MetaAnalysisWarning):
    """A curator's overall judgement differs from what the tool's rule gives for the domains.

    The curator may override the rule (say why in ``notes``); the warning makes
    the override visible.
    """


_ROB2_WORDS: Mapping[str, RobLevel] = MappingProxyType(
    {
        "Low": "low",
        "Some concerns": "some_concerns",
        "High": "high",
        "No information": "no_information",
    }
)
_ROBINS_I_WORDS: Mapping[str, RobLevel] = MappingProxyType(
    {
        "Low": "low",
        "Moderate": "some_concerns",
        "Serious": "high",
        "Critical": "critical",
        "No information": "no_information",
    }
)
_NIH_WORDS: Mapping[str, RobLevel] = MappingProxyType(
    {
        "Yes": "low",
        "No": "high",
        "Cannot determine": "no_information",
        "Not reported": "no_information",
        "Not applicable": "not_applicable",
    }
)
_NIH_OVERALL: Mapping[str, RobLevel] = MappingProxyType(
    {"Good": "low", "Fair": "some_concerns", "Poor": "high"}
)

#: Every tool, by the name used in a risk-of-bias table.
ROB_TOOLS: Mapping[str, RobTool] = MappingProxyType(
    {
        "RoB 2": RobTool(
            name="RoB 2",
            applies_to="randomised comparisons",
            domains=MappingProxyType(
                {
                    "D1": "Bias arising from the randomisation process",
                    "D2": "Bias due to deviations from intended interventions",
                    "D3": "Bias due to missing outcome data",
                    "D4": "Bias in measurement of the outcome",
                    "D5": "Bias in selection of the reported result",
                    OVERALL: "Overall risk of bias",
                }
            ),
            judgements=_ROB2_WORDS,
            overall_judgements=_ROB2_WORDS,
            no_information="No information",
            reference="Sterne JAC, et al. BMJ 2019;366:l4898",
        ),
        "ROBINS-I": RobTool(
            name="ROBINS-I",
            applies_to="non-randomised controlled comparisons",
            domains=MappingProxyType(
                {
                    "D1": "Bias due to confounding",
                    "D2": "Bias in selection of participants into the study",
                    "D3": "Bias in classification of interventions",
                    "D4": "Bias due to deviations from intended interventions",
                    "D5": "Bias due to missing data",
                    "D6": "Bias in measurement of outcomes",
                    "D7": "Bias in selection of the reported result",
                    OVERALL: "Overall risk of bias",
                }
            ),
            judgements=_ROBINS_I_WORDS,
            overall_judgements=_ROBINS_I_WORDS,
            no_information="No information",
            reference="Sterne JAC, et al. BMJ 2016;355:i4919",
        ),
        "NIH case series": RobTool(
            name="NIH case series",
            applies_to="single-arm case series (before-after without a control group)",
            domains=MappingProxyType(
                {
                    "Q1": "Was the study question or objective clearly stated?",
                    "Q2": (
                        "Was the study population clearly and fully described, "
                        "including a case definition?"
                    ),
                    "Q3": "Were the cases consecutive?",
                    "Q4": "Were the subjects comparable?",
                    "Q5": "Was the intervention clearly described?",
                    "Q6": (
                        "Were the outcome measures clearly defined, valid, reliable, and "
                        "implemented consistently across all study participants?"
                    ),
                    "Q7": "Was the length of follow-up adequate?",
                    "Q8": "Were the statistical methods well-described?",
                    "Q9": "Were the results well-described?",
                    OVERALL: "Quality rating",
                }
            ),
            judgements=_NIH_WORDS,
            overall_judgements=_NIH_OVERALL,
            no_information="Not reported",
            reference=(
                "NHLBI Study Quality Assessment Tools: Quality Assessment Tool for "
                "Case Series Studies"
            ),
        ),
    }
)


def rob_tool(name: str) -> RobTool:
    """The registered tool called ``name``.

    Raises
    ------
    RobError
        If no tool has that name (the message lists the registered ones).
    """
    try:
        return ROB_TOOLS[name]
    except KeyError:
        raise RobError(
            f"tool={name!r} is not a registered risk-of-bias tool; allowed: {', '.join(ROB_TOOLS)}"
        ) from None


#: NIH case-series rating from the share of applicable items answered "Yes":
#: at least this share for "Good", at least the second for "Fair", else "Poor".
#: The NHLBI tool gives no cut-offs; these (7 and 4 of 9 items) are this
#: library's stated convention.
NIH_RATING_CUTOFFS: tuple[float, float] = (7 / 9, 4 / 9)


def overall_from_domains(tool: str | RobTool, judgements: Mapping[str, str]) -> tuple[str, ...]:
    """The overall judgements a tool's rule allows for the given domain judgements.

    Parameters
    ----------
    tool : str or RobTool
        A tool of :data:`ROB_TOOLS` or its name.
    judgements : mapping of str to str
        Domain code → judgement in the tool's words, for every domain except
        ``"overall"`` (an ``"overall"`` key is ignored).

    Returns
    -------
    tuple of str
        The tool's overall words that agree with the domains, most favourable
        first. Most rules allow one word; RoB 2 allows "Some concerns" or
        "High" when several domains raise concerns, and ROBINS-I allows
        "No information" beside the worst domain level when information is
        lacking and no domain is serious or critical.

    Raises
    ------
    RobError
        Unknown tool, domain or judgement, or a domain without a judgement.

    Notes
    -----
    *RoB 2* [1]_ [5]_: "Low" if every domain is low; "High" if any domain is
    high; otherwise "Some concerns", or "High" when some concerns are raised
    in several domains "in a way that substantially lowers confidence in the
    result" (a reviewer's call, so both are allowed when two or more domains
    are not low). A domain with "No information" cannot be low and counts as
    raising concerns.

    *ROBINS-I* [2]_: the overall risk is that of the most serious domain
    (low < moderate < serious < critical). "No information" is allowed when
    one or more domains lack information and none is serious or critical;
    with no domain judged, it is the only word allowed.

    *NIH case series* [3]_: the tool rates quality as good, fair or poor
    without a rule; this library uses a stated convention on the share of
    applicable items (those not "Not applicable") answered "Yes":
    :data:`NIH_RATING_CUTOFFS` (7 and 4 of 9). "Cannot determine" and
    "Not reported" count as not "Yes".

    Examples
    --------
    >>> d = {"D1": "Low", "D2": "Low", "D3": "Some concerns", "D4": "Low", "D5": "Low"}
    >>> overall_from_domains("RoB 2", d)
    ('Some concerns',)
    >>> overall_from_domains("RoB 2", {**d, "D5": "No information"})
    ('Some concerns', 'High')
    """
    spec = rob_tool(tool) if isinstance(tool, str) else tool
    extra = [d for d in judgements if d not in spec.domains]
    if extra:
        raise RobError(
            f"judgements names {extra[0]!r}, not a domain of {spec.name}; "
            f"allowed: {', '.join(spec.domains)}"
        )
    levels: list[RobLevel] = []
    for d in spec.domains:
        if d == OVERALL:
            continue
        if d not in judgements:
            raise RobError(f"judgements lacks domain {d!r} of {spec.name}; every domain needs one")
        levels.append(spec.level(d, judgements[d]))
    if spec.name not in _OVERALL_RULES:
        raise RobError(
            f"tool={spec.name!r} has no overall rule; rules exist for: {', '.join(_OVERALL_RULES)}"
        )
    by_level = {lvl: w for w, lvl in spec.overall_judgements.items()}
    return tuple(
        by_level.get(lvl, spec.no_information) for lvl in _OVERALL_RULES[spec.name](levels)
    )


def _rob2_rule(levels: list[RobLevel]) -> tuple[RobLevel, ...]:
    if any(lvl in ("high", "critical") for lvl in levels):
        return ("high",)
    concerns = sum(lvl != "low" for lvl in levels)
    if concerns == 0:
        return ("low",)
    return ("some_concerns",) if concerns == 1 else ("some_concerns", "high")


def _worst_rule(levels: list[RobLevel]) -> tuple[RobLevel, ...]:
    known = [r for r in (LEVEL_RANK[lvl] for lvl in levels) if r is not None]
    if not known:
        return ("no_information",)
    worst = max(known)
    if "no_information" in levels and worst < 2:
        return (_LEVEL_OF_RANK[worst], "no_information")
    return (_LEVEL_OF_RANK[worst],)


def _share_yes_rule(levels: list[RobLevel]) -> tuple[RobLevel, ...]:
    applicable = [lvl for lvl in levels if lvl != "not_applicable"]
    share = sum(lvl == "low" for lvl in applicable) / len(applicable) if applicable else 0.0
    good, fair = NIH_RATING_CUTOFFS
    return ("low",) if share >= good else ("some_concerns",) if share >= fair else ("high",)


_LEVEL_OF_RANK: Mapping[int, RobLevel] = MappingProxyType(
    {0: "low", 1: "some_concerns", 2: "high", 3: "critical"}
)

#: The overall rule of each tool of :data:`ROB_TOOLS` (see :func:`overall_from_domains`).
_OVERALL_RULES: Mapping[str, Callable[[list[RobLevel]], tuple[RobLevel, ...]]] = MappingProxyType(
    {"RoB 2": _rob2_rule, "ROBINS-I": _worst_rule, "NIH case series": _share_yes_rule}
)
