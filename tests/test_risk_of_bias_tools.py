"""The registry of risk-of-bias tools (msc_meta.risk_of_bias)."""

from __future__ import annotations

import pytest

from msc_meta.risk_of_bias import LEVEL_RANK, OVERALL, ROB_TOOLS, RobError, rob_tool


@pytest.mark.parametrize("name", sorted(ROB_TOOLS))
def test_every_tool_is_complete(name: str) -> None:
    tool = ROB_TOOLS[name]
    assert tool.name == name
    assert list(tool.domains)[-1] == OVERALL
    assert len(tool.domains) >= 3
    assert tool.no_information in tool.judgements
    assert tool.judgements[tool.no_information] == "no_information"
    for vocab in (tool.judgements, tool.overall_judgements):
        assert set(vocab.values()) <= set(LEVEL_RANK)
        ranks = [LEVEL_RANK[v] for v in vocab.values() if LEVEL_RANK[v] is not None]
        assert 0 in ranks and max(ranks) >= 2  # from low to at least high


def test_the_three_tools_of_the_issue_are_registered() -> None:
    assert {"RoB 2", "ROBINS-I", "NIH case series"} <= set(ROB_TOOLS)
    assert len(ROB_TOOLS["RoB 2"].domains) == 6  # D1-D5 and overall (Sterne 2019)
    assert len(ROB_TOOLS["ROBINS-I"].domains) == 8  # D1-D7 and overall (Sterne 2016)
    assert len(ROB_TOOLS["NIH case series"].domains) == 10  # Q1-Q9 and the rating


def test_levels_and_errors_name_what_is_allowed() -> None:
    assert ROB_TOOLS["ROBINS-I"].level("D1", "Serious") == "high"
    assert ROB_TOOLS["NIH case series"].level(OVERALL, "Fair") == "some_concerns"
    with pytest.raises(RobError, match=r"domain='D6'.*allowed: D1, D2"):
        ROB_TOOLS["RoB 2"].level("D6", "Low")
    with pytest.raises(RobError, match=r"judgement='Serious'.*allowed: Low, Some concerns"):
        ROB_TOOLS["RoB 2"].level("D1", "Serious")
    with pytest.raises(RobError, match=r"judgement='Yes'.*allowed: Good, Fair, Poor"):
        ROB_TOOLS["NIH case series"].level(OVERALL, "Yes")
    with pytest.raises(RobError, match=r"tool='Cochrane'.*allowed: RoB 2, ROBINS-I"):
        rob_tool("Cochrane")
    assert isinstance(RobError("x"), ValueError)
