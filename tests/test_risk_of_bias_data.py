"""The bundled risk-of-bias assessments, and the tools' overall rules (overall_from_domains)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from msc_meta.datasets import load_msc_ra
from msc_meta.records import TrialRecords, load_records
from msc_meta.risk_of_bias import (
    OVERALL,
    ROB_TOOLS,
    RobError,
    RobOverallWarning,
    RobToolWarning,
    overall_from_domains,
    tool_for_design,
)

from .test_records import _replace, _write


@pytest.fixture(scope="module")
def records() -> TrialRecords:
    return load_msc_ra()


def _tool_for(randomised: str, controlled: str) -> str:
    """The tool a design calls for (the registry's rule, on the records' yes/no columns)."""
    return tool_for_design(randomised == "yes", controlled == "yes")


def test_every_study_has_one_complete_assessment_with_its_designs_tool(
    records: TrialRecords,
) -> None:
    rob = records.risk_of_bias
    for st in records.studies.itertuples():
        mine = rob[rob["study_id"] == st.study_id]
        assert len(mine), st.study_id
        assert set(mine["tool"]) == {_tool_for(st.randomised, st.controlled)}, st.study_id
        assert mine["comparison"].nunique() == 1, st.study_id
        tool = ROB_TOOLS[str(mine["tool"].iloc[0])]
        assert sorted(mine["domain"]) == sorted(tool.domains), st.study_id


def test_the_designs_of_the_records_map_to_all_three_tools(records: TrialRecords) -> None:
    tools = {_tool_for(s.randomised, s.controlled) for s in records.studies.itertuples()}
    assert tools == {"RoB 2", "ROBINS-I", "NIH case series"}


def test_every_support_is_given_and_cites_a_source_of_that_study(records: TrialRecords) -> None:
    covers = {s.source_id: set(str(s.study_ids).split(";")) for s in records.sources.itertuples()}
    for row in records.risk_of_bias.itertuples():
        assert isinstance(row.support, str) and len(row.support.strip()) > 20, row.rob_id
        assert isinstance(row.location, str) and row.location.strip(), row.rob_id
        for src in str(row.source_id).split(";"):
            assert row.study_id in covers[src.strip()], (row.rob_id, src)


def test_every_overall_follows_the_tools_rule(records: TrialRecords) -> None:
    rob = records.risk_of_bias
    for (sid, tool), grp in rob.groupby(["study_id", "tool"]):
        domains = dict(zip(grp["domain"], grp["judgement"], strict=True))
        overall = domains.pop(OVERALL)
        assert overall in overall_from_domains(str(tool), domains), sid
        # the notes of the overall row say how it was reached
        note = str(grp.loc[grp["domain"] == OVERALL, "notes"].iloc[0])
        assert "overall_from_domains" in note, sid


def test_no_information_words_are_the_tools_own(records: TrialRecords) -> None:
    rob = records.risk_of_bias
    for row in rob.itertuples():
        tool = ROB_TOOLS[str(row.tool)]
        tool.level(str(row.domain), str(row.judgement))  # raises on a foreign word
    nih = rob[rob["tool"] == "NIH case series"]
    assert (nih["judgement"] == "Not reported").any()
    assert (rob[rob["tool"] != "NIH case series"]["judgement"] == "No information").any()


# --------------------------------------------------------------------------- the rules

_LOW5 = {f"D{i}": "Low" for i in range(1, 6)}


def test_rob2_rule() -> None:
    assert overall_from_domains("RoB 2", _LOW5) == ("Low",)
    assert overall_from_domains("RoB 2", {**_LOW5, "D2": "Some concerns"}) == ("Some concerns",)
    assert overall_from_domains("RoB 2", {**_LOW5, "D2": "No information"}) == ("Some concerns",)
    two = {**_LOW5, "D2": "Some concerns", "D4": "No information"}
    assert overall_from_domains("RoB 2", two) == ("Some concerns", "High")
    assert overall_from_domains("RoB 2", {**_LOW5, "D5": "High"}) == ("High",)
    assert overall_from_domains(ROB_TOOLS["RoB 2"], {**_LOW5, OVERALL: "x"}) == ("Low",)


def test_robins_i_rule() -> None:
    low7 = {f"D{i}": "Low" for i in range(1, 8)}
    assert overall_from_domains("ROBINS-I", low7) == ("Low",)
    assert overall_from_domains("ROBINS-I", {**low7, "D3": "Moderate"}) == ("Moderate",)
    assert overall_from_domains("ROBINS-I", {**low7, "D1": "Serious", "D3": "Moderate"}) == (
        "Serious",
    )
    assert overall_from_domains("ROBINS-I", {**low7, "D6": "Critical"}) == ("Critical",)
    assert overall_from_domains("ROBINS-I", {**low7, "D1": "No information"}) == (
        "Low",
        "No information",
    )
    assert overall_from_domains("ROBINS-I", {**low7, "D1": "No information", "D6": "Serious"}) == (
        "Serious",
    )
    none = {f"D{i}": "No information" for i in range(1, 8)}
    assert overall_from_domains("ROBINS-I", none) == ("No information",)


def test_nih_case_series_rule() -> None:
    def q(yes: int, na: int = 0) -> dict[str, str]:
        words = ["Yes"] * yes + ["Not applicable"] * na
        words += ["Not reported"] * (9 - len(words))
        return {f"Q{i + 1}": w for i, w in enumerate(words)}

    assert overall_from_domains("NIH case series", q(9)) == ("Good",)
    assert overall_from_domains("NIH case series", q(7)) == ("Good",)
    assert overall_from_domains("NIH case series", q(6)) == ("Fair",)
    assert overall_from_domains("NIH case series", q(4)) == ("Fair",)
    assert overall_from_domains("NIH case series", q(3)) == ("Poor",)
    assert overall_from_domains("NIH case series", q(6, na=2)) == ("Good",)  # 6 of 7 applicable


def test_rule_errors_name_the_domain() -> None:
    with pytest.raises(RobError, match=r"lacks domain 'D5' of RoB 2"):
        overall_from_domains("RoB 2", {f"D{i}": "Low" for i in range(1, 5)})
    with pytest.raises(RobError, match=r"names 'D9', not a domain of RoB 2"):
        overall_from_domains("RoB 2", {**_LOW5, "D9": "Low"})
    with pytest.raises(RobError, match=r"judgement='Serious'"):
        overall_from_domains("RoB 2", {**_LOW5, "D1": "Serious"})


def test_a_curators_overall_that_differs_from_the_rule_warns_and_is_kept(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_records(_write(tmp_path / "ok"))  # 'Some concerns' follows the rule: silent
    changed = _replace("risk_of_bias", "overall,Some concerns", "overall,Low")
    with pytest.warns(
        RobOverallWarning,
        match=r"risk_of_bias\.csv, line 7 \(t1_overall\): the overall judgement 'Low' of study "
        r"'trial1', RoB 2 \(MSC vs placebo\) differs from the tool's rule .* 'Some concerns' "
        r"or 'High'",
    ):
        rec = load_records(_write(tmp_path / "override", **changed))
    assert "Low" in set(rec.risk_of_bias["judgement"])


def test_a_tool_other_than_the_designs_warns_and_is_kept(tmp_path: Path) -> None:
    # trial1 of the test records is randomised: assessing it with ROBINS-I warns
    rob = _replace("risk_of_bias", "trial1,RoB 2", "trial1,ROBINS-I")["risk_of_bias"]
    rob = rob.replace("trial1,RoB 2", "trial1,ROBINS-I")
    rows = rob.splitlines(keepends=True)
    extra = [r.replace("t1_d5", "t1_d6").replace(",D5,", ",D6,") for r in rows if ",D5," in r]
    extra += [r.replace("t1_d5", "t1_d7").replace(",D5,", ",D7,") for r in rows if ",D5," in r]
    rob = "".join(rows[:-1] + extra + rows[-1:])
    rob = rob.replace("Some concerns", "Moderate")
    folder = _write(tmp_path / "r", risk_of_bias=rob)
    with pytest.warns(
        RobToolWarning,
        match=r"study 'trial1' is assessed with ROBINS-I, but its "
        r"design .* calls for RoB 2",
    ):
        rec = load_records(folder)
    assert set(rec.risk_of_bias["tool"]) == {"ROBINS-I"}
    assert tool_for_design(True, True) == "RoB 2"
    assert tool_for_design(False, True) == "ROBINS-I"
    assert tool_for_design(False, False) == "NIH case series"
