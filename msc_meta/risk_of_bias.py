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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ._errors import MetaAnalysisError

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
